"""``slant train``, ``slant distill``, ``slant evaluate`` and ``slant fit-bias``: thin wrappers over
``training``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from model.errors import SlantError

from .options import BackendOpt, ModelOpt, fail


def train(
    config: Annotated[Path, typer.Option("--config", "-c", help="YAML or TOML training config.")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Model directory to write.")] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="Override a setting: key.sub=value.")
    ] = None,
    finalize_only: Annotated[
        bool, typer.Option(help="Skip fine-tuning; re-fit aggregator and re-evaluate.")
    ] = False,
) -> None:
    """Fine-tune a model from a config, fit its article aggregator, evaluate, write the model card."""
    from training.config import load_config
    from training.pipeline import finalize, run_training

    try:
        cfg = load_config(config, set_ or [])
        out = (
            finalize(output or cfg.output_dir, cfg) if finalize_only else run_training(cfg, output_dir=output)
        )
    except SlantError as exc:
        fail(exc)
    typer.echo(str(out))


def distill(
    teacher_config: Annotated[Path, typer.Option(help="Teacher training config (MPNet on a GPU).")] = Path(
        "training/configs/mpnet-teacher.yaml"
    ),
    student_config: Annotated[
        Path, typer.Option(help="Student training config (the shipped MiniLM recipe).")
    ] = Path("training/configs/default-stage3.yaml"),
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for every step's result.")] = Path(
        "runs/distill"
    ),
    articles: Annotated[
        int | None, typer.Option(help="Article-Bias-Prediction articles to take windows from (default: all).")
    ] = None,
    actors_per_text: Annotated[int, typer.Option(help="Discovered actors per article.")] = 3,
    teacher_model: Annotated[
        Path | None,
        typer.Option(
            help="An already trained slant model as the teacher (skips training one; with the student's "
            "base model this is self-distillation, a rehearsal of its judgement on news windows)."
        ),
    ] = None,
    max_windows: Annotated[
        int | None, typer.Option(min=1, help="Soft-label a seeded sample of at most this many windows.")
    ] = None,
    rehearse: Annotated[
        list[str] | None,
        typer.Option(
            help="A student train source whose rows blend the teacher's probabilities into their label "
            "(learning without forgetting); repeatable."
        ),
    ] = None,
    rehearse_weight: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="The teacher's share of a rehearsed row's target.")
    ] = 0.5,
    processes: Annotated[int, typer.Option(help="spaCy processes for finding actors.")] = 1,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="Override a student setting: key.sub=value.")
    ] = None,
) -> None:
    """Teacher -> mention windows of news articles -> soft labels -> student (the GPU recipe).

    Each step's result is kept in --output, so a second run redoes only what did not finish.
    """
    from training.config import load_config
    from training.distill import distill as run_distill

    try:
        out = run_distill(
            teacher_config=None if teacher_model is not None else load_config(teacher_config),
            student_config=load_config(student_config, set_ or []),
            teacher_model=teacher_model,
            max_windows=max_windows,
            rehearse_sources=rehearse or [],
            rehearse_weight=rehearse_weight,
            output_dir=output,
            articles=articles,
            actors_per_text=actors_per_text,
            n_process=processes,
        )
    except SlantError as exc:
        fail(exc)
    typer.echo(str(out))


def evaluate(
    data: Annotated[
        list[Path],
        typer.Option(
            "--data",
            "-d",
            help="JSONL/CSV with text, target, label and/or a leaning or hyperpartisan field; repeatable.",
        ),
    ],
    model: ModelOpt = None,
    text_field: str = "text",
    target_field: str = "target",
    label_field: str = "label",
    output: Annotated[Path | None, typer.Option(help="Also write the JSON report here.")] = None,
    backend: BackendOpt = "torch",
    heads: Annotated[
        list[Path] | None,
        typer.Option("--heads", help="Extra bias head directory (default: $SLANT_HEADS); repeatable."),
    ] = None,
) -> None:
    """Print a JSON report per file and per target: macro-F1, F_avg, accuracy, confusion, ECE.

    Files with a `leaning` (left/center/right) or `hyperpartisan` (true/false) field also get that
    bias head's metrics: macro-F1, accuracy, per-class F1, confusion; hyperpartisan adds ROC AUC
    and Brier.
    """
    from model import StancePredictor
    from training.evaluate import evaluate_files

    try:
        predictor = StancePredictor.load(
            model, backend=backend, heads=[str(h) for h in heads] if heads else None
        )
        report = evaluate_files(
            predictor,
            [str(p) for p in data],
            text_field=text_field,
            target_field=target_field,
            label_field=label_field,
        )
    except SlantError as exc:
        fail(exc)
    text = json.dumps({"model": predictor.name, "version": predictor.version, "reports": report}, indent=2)
    if output:
        output.write_text(text + "\n", encoding="utf-8")
    typer.echo(text)


def fit_bias_command(
    model: Annotated[
        str, typer.Option("--model", "-m", help="Model directory whose encoder the head reads.")
    ],
    task: Annotated[str, typer.Option(help="leaning, hyperpartisan or loaded_language.")],
    out: Annotated[
        Path | None,
        typer.Option(help="Head directory (default: MODEL/bias/TASK; loaded_language needs one of its own)."),
    ] = None,
    data_root: Annotated[Path, typer.Option(envvar="SLANT_DATA_ROOT", help="The shared data folder.")] = Path(
        "../shared/data"
    ),
    train_rows: Annotated[
        int | None, typer.Option(min=1, help="Leaning: sample N training articles (encoding is the cost).")
    ] = None,
    labels_db: Annotated[
        str | None,
        typer.Option(help="Also train on the current labels of TASK in this label store (a URL or path)."),
    ] = None,
    backend: BackendOpt = "torch",
) -> None:
    """Fit a bias head (a linear classifier over the frozen encoder's sentence embeddings) on the
    shared data and write it, with a README.md card, as a whole (a temp directory, then a rename).

    E.g. `slant fit-bias --model models/default --task leaning --train-rows 4000`. Features are
    cached under $SLANT_CACHE/features, so a second fit on the same model is quick.
    """
    from model.tasks import BIAS_TASKS
    from training.bias import fit_bias

    given = {"--out": out, "--data-root": data_root, "--train-rows": train_rows, "--backend": backend}
    command = f"slant fit-bias --model {model} --task {task}" + "".join(
        f" {k} {v}" for k, v in given.items() if v is not None
    )
    if labels_db is not None:
        command += " --labels-db URL"  # not the URL itself: it may hold a password
    try:
        path, fit = fit_bias(
            model=model,
            task=task,
            out=out,
            data_root=data_root,
            train_rows=train_rows,
            labels_db=labels_db,
            backend=backend,
            command=command,
            progress=lambda m: typer.echo(m, err=True),
        )
    except SlantError as exc:
        fail(exc)
    rep = fit.report
    spec = BIAS_TASKS[task]
    typer.echo(
        f"{path}: {task} head, dev macro-F1 {rep['macro_f1']}, accuracy {rep['accuracy']} "
        f"({rep.get('n', '?')} dev rows); data licence: {spec.licence}"
    )
    if spec.kept_apart:
        typer.echo(
            f"note: {spec.source} is {spec.licence_id}. The head stays out of model directories; serve it "
            f"with SLANT_HEADS={path} (or --heads) after checking what the licence asks of you."
        )
