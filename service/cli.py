"""The ``slant`` command: thin typer wrappers over importable functions."""

from __future__ import annotations

import errno
import json
import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from model.errors import SlantError
from service.batch.command import label as label_command
from service.labels_cli import labels
from service.registry_cli import models, retrain_command
from service.report_cli import report as report_command

_OS_FIXES = {
    errno.EROFS: "the file system is read-only: write to another folder",
    errno.ENOSPC: "free some space on that disk, or write somewhere else; then run the same command again "
    "(slant label keeps its finished chunks and resumes)",
    errno.EDQUOT: "your disk quota is used up: free some space, or write somewhere else; then run the "
    "same command again",
    errno.EACCES: "give yourself access to it, or use another path",
    errno.EPERM: "give yourself access to it, or use another path",
    errno.ENOENT: "check the path: the file or the folder above it does not exist",
    errno.ENOTDIR: "check the path: a part of it is a file, not a folder",
    errno.EISDIR: "name a file, not a folder",
}


def os_error_message(exc: OSError) -> str:
    """One line for a file system error: which path, what happened, and the fix.

    >>> os_error_message(OSError(errno.EROFS, "Read-only file system", "/data/out.jsonl"))
    '/data/out.jsonl: Read-only file system. Fix: the file system is read-only: write to another folder'
    """
    paths = [str(p) for p in (exc.filename, exc.filename2) if p is not None]
    where = f"{' -> '.join(paths)}: " if paths else ""
    fix = _OS_FIXES.get(exc.errno or 0, "check the path and that it can be read and written")
    return f"{where}{exc.strerror or exc}. Fix: {fix}"


class _Commands(TyperGroup):
    """Every command of ``slant``: a file system error is one line and exit status 2, not a traceback.

    A read-only output folder or a full disk can strike any command that writes; the commands
    themselves turn their own errors (SlantError) into one line the same way.
    """

    def invoke(self, ctx: Any) -> Any:  # typer.Context; typer vendors its own click
        try:
            return super().invoke(ctx)
        except OSError as exc:
            if exc.errno == errno.EPIPE:
                raise  # a closed pipe (slant ... | head): click ends quietly
            logging.getLogger("slant").debug("file system error", exc_info=True)
            typer.echo(f"error: {os_error_message(exc)}", err=True)
            raise typer.Exit(2) from None


app = typer.Typer(
    cls=_Commands,
    help="Stance toward named actors in news articles, tweets and sentences.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(labels, name="labels")
app.add_typer(models, name="models")

DEMO_ARTICLE = Path(__file__).with_name("demo_article.txt")

ModelOpt = Annotated[
    str | None, typer.Option("--model", "-m", help="Model directory or hub id (default: shipped model).")
]
BackendOpt = Annotated[
    str,
    typer.Option(
        "--backend",
        help="Forward pass: auto (torch on a GPU, else the CPU default), torch, onnx, onnx-int8.",
    ),
]


def _fail(exc: SlantError) -> None:
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(2)


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not verbose:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()


@app.command()
def predict(
    text: Annotated[
        str | None, typer.Argument(help="Text to label; '-' or nothing reads standard input.")
    ] = None,
    actor: Annotated[
        list[str] | None, typer.Option("--actor", "-a", help="Actor name; repeat for several.")
    ] = None,
    file: Annotated[Path | None, typer.Option("--file", "-f", help="Read the text from a file.")] = None,
    model: ModelOpt = None,
    evidence: Annotated[int, typer.Option(help="Evidence sentences per actor.")] = 3,
    backend: BackendOpt = "auto",
) -> None:
    """Print the stance of one text toward each actor (discovered when no --actor is given), as JSON."""
    _logging(False)
    try:
        raw: str | bytes
        if file is not None:
            raw = file.read_bytes()
        elif text is None or text == "-":
            raw = sys.stdin.buffer.read()
        else:
            raw = text
        typer.echo(
            json.dumps(
                predict_text(raw, actors=actor or None, model=model, evidence=evidence, backend=backend),
                indent=2,
            )
        )
    except SlantError as exc:
        _fail(exc)


def predict_text(
    text: str | bytes,
    *,
    actors: list[Any] | None = None,
    model: str | None = None,
    evidence: int = 3,
    backend: str = "auto",
) -> dict[str, Any]:
    """Stance of one text as a JSON-ready dict (model name, version, actor results)."""
    from model import StancePredictor

    predictor = StancePredictor.load(model, backend=backend)
    results = predictor.predict([text], actors, evidence=evidence)[0]
    return {"model": predictor.name, "version": predictor.version, "actors": [r.to_dict() for r in results]}


@app.command()
def demo(model: ModelOpt = None, backend: BackendOpt = "auto") -> None:
    """Label the bundled sample article and print a short table."""
    _logging(False)
    try:
        text = DEMO_ARTICLE.read_text(encoding="utf-8")
        out = predict_text(text, model=model, evidence=1, backend=backend)
    except SlantError as exc:
        _fail(exc)
    typer.echo(
        f"model: {out['model']} v{out['version']}   "
        f"article: {DEMO_ARTICLE.name} ({len(text.split())} words)\n"
    )
    typer.echo(f"{'actor':32} {'stance':8} {'against':>8} {'neutral':>8} {'favor':>8} {'mentions':>8}")
    for r in out["actors"]:
        p = r["probabilities"] or {}
        typer.echo(
            f"{r['actor'][:32]:32} {str(r['label']):8} {p.get('against', 0):8.2f} {p.get('neutral', 0):8.2f} "
            f"{p.get('favor', 0):8.2f} {r['mentions']:8d}"
        )
        for e in r["evidence"]:
            typer.echo(f"    evidence [{e['start']}:{e['end']}] {e['label']}: {e['text'][:110]}")


@app.command()
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
    _logging(True)
    from training.config import load_config
    from training.pipeline import finalize, run_training

    try:
        cfg = load_config(config, set_ or [])
        out = (
            finalize(output or cfg.output_dir, cfg) if finalize_only else run_training(cfg, output_dir=output)
        )
    except SlantError as exc:
        _fail(exc)
    typer.echo(str(out))


@app.command()
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
    processes: Annotated[int, typer.Option(help="spaCy processes for finding actors.")] = 1,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="Override a student setting: key.sub=value.")
    ] = None,
) -> None:
    """Teacher -> mention windows of news articles -> soft labels -> student (the GPU recipe).

    Each step's result is kept in --output, so a second run redoes only what did not finish.
    """
    _logging(True)
    from training.config import load_config
    from training.distill import distill as run_distill

    try:
        out = run_distill(
            teacher_config=load_config(teacher_config),
            student_config=load_config(student_config, set_ or []),
            output_dir=output,
            articles=articles,
            actors_per_text=actors_per_text,
            n_process=processes,
        )
    except SlantError as exc:
        _fail(exc)
    typer.echo(str(out))


@app.command()
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
    _logging(False)
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
        _fail(exc)
    text = json.dumps({"model": predictor.name, "version": predictor.version, "reports": report}, indent=2)
    if output:
        output.write_text(text + "\n", encoding="utf-8")
    typer.echo(text)


@app.command("fit-bias")
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
    _logging(True)
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
        _fail(exc)
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


@app.command()
def serve(
    model: ModelOpt = None,
    host: Annotated[str | None, typer.Option(help="Interface (default 127.0.0.1, or $SLANT_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000, or $SLANT_PORT).")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    backend: Annotated[
        str | None, typer.Option(help="Forward pass: auto, torch, onnx, onnx-int8 (or $SLANT_BACKEND).")
    ] = None,
) -> None:
    """Serve the HTTP API with uvicorn (docs at /docs). Other settings come from SLANT_* variables."""
    try:
        run_server(model=model, host=host, port=port, log_level=log_level, backend=backend)
    except SlantError as exc:
        _fail(exc)


def run_server(
    *,
    model: str | None = None,
    host: str | None = None,
    port: int | None = None,
    log_level: str = "info",
    backend: str | None = None,
) -> None:
    """Run the service in this process until interrupted; arguments override ``SLANT_*`` settings."""
    from model.errors import ConfigError
    from model.loading import preflight
    from model.predictor import default_model_path

    try:
        import uvicorn
        from pydantic import ValidationError

        from service.app import Settings, create_app
    except ImportError as exc:
        raise ConfigError(
            f"the HTTP service needs more packages ({exc.name} is missing)", fix="pip install 'slant[serve]'"
        ) from None
    overrides: dict[str, Any] = {"model": model, "host": host, "port": port, "backend": backend}
    try:
        settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        problems = "; ".join(
            (f"SLANT_{'_'.join(map(str, e['loc'])).upper()}: " if e["loc"] else "")
            + e["msg"].removeprefix("Value error, ")
            for e in exc.errors()
        )
        raise ConfigError(
            f"invalid service settings: {problems}",
            fix="check the SLANT_* environment variables and the options",
        ) from None
    # A missing or incomplete model directory stops here with its message, not in a lifespan traceback.
    preflight(settings.model or default_model_path())
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    level = logging.getLevelName(log_level.upper())
    if isinstance(level, int):
        logging.getLogger("service.app").setLevel(level)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        timeout_graceful_shutdown=10,
    )


@app.command("export-onnx")
def export_onnx(
    model: ModelOpt = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Directory for model.onnx and model-int8.onnx.")
    ] = None,
) -> None:
    """Export a model to ONNX (fp32 and int8) ahead of time; by default into the backend cache."""
    _logging(False)
    from model import StancePredictor
    from model.backends import export_onnx as export
    from model.backends import onnx_cache_dir

    try:
        predictor = StancePredictor.load(model, backend="torch", device="cpu", heads=[])
        target = output or onnx_cache_dir(predictor.encoder_hash)
        path = export(predictor.model, predictor.tokenizer, target, quantize=True)
    except SlantError as exc:
        _fail(exc)
    typer.echo(f"{path.parent}: model.onnx, model-int8.onnx (use with --backend onnx or onnx-int8)")


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def bench(ctx: typer.Context) -> None:
    """Benchmark the service against a naive pipeline baseline (runs benchmarks/bench_service.py).

    Options are passed through, e.g. `slant bench --concurrency 1,4,16 --articles 32`; see --help there.
    """
    import subprocess

    script = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_service.py"
    if not script.exists():
        typer.echo(f"error: {script} not found: run `slant bench` from a source checkout", err=True)
        raise typer.Exit(2)
    raise typer.Exit(subprocess.call([sys.executable, str(script), *ctx.args]))


app.command("label")(label_command)
app.command("retrain")(retrain_command)
app.command("report")(report_command)


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover - `python -m service.cli` for accelerate launch
    app()
