"""``slant retrain`` and ``slant models list | show | promote | rollback``: thin typer wrappers over
``training.retrain`` and ``training.registry``."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from model.errors import SlantError

models = typer.Typer(
    help="The model registry: list versions, promote one (the promotion gate can be overridden), roll back.",
    no_args_is_help=True,
)

DatabaseOpt = Annotated[
    str | None,
    typer.Option(
        "--database",
        envvar="SLANT_DATABASE_URL",
        show_envvar=True,
        help="Database of the label store and the registry index (default: ~/.local/share/slant/labels.db).",
    ),
]
RegistryOpt = Annotated[
    str | None,
    typer.Option(
        "--registry",
        envvar="SLANT_REGISTRY",
        show_envvar=True,
        help="Folder of the model versions (default: ~/.local/share/slant/registry).",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def _fail(exc: SlantError) -> None:
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(2)


def retrain_command(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="Training config for the base mix and eval sets (default: the current model's).",
        ),
    ] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="Override a config setting: key.sub=value.")
    ] = None,
    from_base: Annotated[
        bool, typer.Option("--from-base", help="Fine-tune the base encoder, not the current model.")
    ] = False,
    base_rows: Annotated[
        int | None, typer.Option(min=0, help="Subsample the base mix to N rows (0: labels only).")
    ] = None,
    epochs: Annotated[float | None, typer.Option(min=0.01, help="Epochs (default: the config's).")] = None,
    max_steps: Annotated[int | None, typer.Option(min=1, help="Stop after N optimiser steps.")] = None,
    batch_size: Annotated[int | None, typer.Option(min=1)] = None,
    learning_rate: Annotated[float | None, typer.Option(min=0.0)] = None,
    eval_rows: Annotated[int | None, typer.Option(min=1, help="At most N rows of each eval set.")] = None,
    max_length: Annotated[
        int | None, typer.Option(min=16, max=512, help="Truncate training examples to N tokens (faster).")
    ] = None,
    label_share: Annotated[
        float, typer.Option(min=0.0, max=0.95, help="Labels make up at least this share of each epoch.")
    ] = 0.2,
    max_repeat: Annotated[int, typer.Option(min=1, help="Repeat each label at most N times per epoch.")] = 50,
    holdout: Annotated[
        float, typer.Option(min=0.01, max=0.9, help="Share of labelled texts held back for the gate.")
    ] = 0.2,
    tolerance: Annotated[
        float, typer.Option(min=0.0, help="macro-F1 points a fixed eval set may lose.")
    ] = 1.0,
    min_gain: Annotated[
        float, typer.Option(min=0.0, help="macro-F1 points the held-back labels must gain beyond.")
    ] = 0.0,
    promote: Annotated[bool, typer.Option(help="Promote the new version when it passes the gate.")] = True,
    refit_aggregator: Annotated[
        bool, typer.Option(help="Fit the article aggregator again (default: keep the parent's).")
    ] = False,
    seed: Annotated[int | None, typer.Option(help="Random seed (default: the config's).")] = None,
    task: Annotated[
        list[str] | None,
        typer.Option(
            "--task",
            help="Retrain on this task's labels only: stance, leaning, hyperpartisan; repeatable "
            "(default: every task with labels). Without stance the encoder is reused, not fine-tuned.",
        ),
    ] = None,
    bias_train_rows: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Leaning head: refit on N sampled training articles (default: as many as the current "
            "head was fitted on).",
        ),
    ] = None,
    bias_data_root: Annotated[
        str | None,
        typer.Option(help="Shared data folder for refitting the bias heads (default: the config's)."),
    ] = None,
    database: DatabaseOpt = None,
    registry: RegistryOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Fine-tune on the base data mix plus the label store's labels, compare with the current model
    on the same rows, register the new version and promote it if it passes the gate.

    On a CPU, e.g. `slant retrain --config training/configs/default-stage3.yaml --base-rows 3000
    --epochs 1 --eval-rows 300 --max-length 96`.

    Leaning and hyperpartisan labels refit those bias heads (judged on their dev data and held-back
    labels in the same gate). With bias labels only (or `--task leaning`) the encoder is reused and
    only the heads are refitted: fast. Stance labels fine-tune the encoder, and then every bias head
    the model carries is refitted on it (`--bias-train-rows` caps the leaning articles).
    """
    from service.cli import _logging
    from training.retrain import RetrainOptions, retrain

    _logging(False)
    try:
        options = RetrainOptions(
            config=str(config) if config else None,
            overrides=set_ or [],
            database=database,
            registry=registry,
            from_base=from_base,
            base_rows=base_rows,
            epochs=epochs,
            max_steps=max_steps,
            batch_size=batch_size,
            learning_rate=learning_rate,
            eval_rows=eval_rows,
            max_length=max_length,
            label_share=label_share,
            max_repeat=max_repeat,
            holdout=holdout,
            tolerance=tolerance,
            min_gain=min_gain,
            promote=promote,
            refit_aggregator=refit_aggregator,
            seed=seed,
            tasks=task or None,
            bias_train_rows=bias_train_rows,
            bias_data_root=bias_data_root,
        )
        # Standard output is for the result alone; the Trainer prints its logs there.
        with contextlib.redirect_stdout(sys.stderr):
            result = retrain(options, progress=None if as_json else lambda m: typer.echo(m, err=True))
    except ValidationError as exc:
        from training.config import validation_problems

        problems = validation_problems(exc)
        typer.echo(f"error: invalid retrain options: {problems} Fix: see `slant retrain --help`", err=True)
        raise typer.Exit(2) from None
    except SlantError as exc:
        _fail(exc)
    typer.echo(json.dumps(result.to_json(), indent=2) if as_json else result.summary())


@models.command("list")
def list_(database: DatabaseOpt = None, registry: RegistryOpt = None, as_json: JsonOpt = False) -> None:
    """Every version, oldest first: status, parent, when created and promoted, the gate's verdict."""
    from training.registry import ModelRegistry

    try:
        with ModelRegistry.open(database, registry) as reg:
            versions = reg.versions()
    except SlantError as exc:
        _fail(exc)
    if as_json:
        typer.echo(json.dumps([v.to_json() for v in versions], indent=2))
        return
    if not versions:
        typer.echo("no versions yet: `slant retrain` registers the current model as 'default' and adds one")
        return
    typer.echo(
        f"{'version':10} {'status':12} {'parent':8} {'created':20} {'gate':6} {'new-labels':>10}  path"
    )
    for v in versions:
        gate = {None: "-", True: "pass", False: "fail"}[v.gate_passed]
        typer.echo(
            f"{v.version:10} {v.status:12} {v.parent or '-':8} {v.created_at:%Y-%m-%d %H:%M:%S} "
            f"{gate:6} {_new_labels(v):>10}  {v.path}"
        )


def _new_labels(v: Any) -> str:
    """The stance new-labels delta, else the first bias task's (``leaning:new-labels``)."""
    sets = (v.gate or {}).get("sets") or {}
    names = ["new-labels", *sorted(k for k in sets if k.endswith(":new-labels"))]
    check: dict[str, Any] = next((sets[k] for k in names if k in sets), {})
    return "-" if check.get("delta") is None else f"{check['delta']:+.2f}"


@models.command("show")
def show(
    version: Annotated[str, typer.Argument(help="Version id, e.g. r3.")],
    database: DatabaseOpt = None,
    registry: RegistryOpt = None,
) -> None:
    """One version as JSON: path, metrics, the gate's decision and its events."""
    from training.registry import ModelRegistry

    try:
        with ModelRegistry.open(database, registry) as reg:
            found = reg.get(version)
    except SlantError as exc:
        _fail(exc)
    typer.echo(json.dumps(found.to_json(), indent=2))


@models.command("promote")
def promote(
    version: Annotated[str, typer.Argument(help="Version id, e.g. r3.")],
    force: Annotated[
        bool, typer.Option("--force", help="Promote even though it failed the promotion gate (recorded).")
    ] = False,
    reason: Annotated[str | None, typer.Option(help="Why, recorded with the promotion.")] = None,
    database: DatabaseOpt = None,
    registry: RegistryOpt = None,
) -> None:
    """Make VERSION the promoted model; a running service picks it up on `POST /v1/models/reload`
    (or by itself with SLANT_RELOAD_SECONDS)."""
    from training.registry import ModelRegistry

    try:
        with ModelRegistry.open(database, registry) as reg:
            before = reg.promoted()
            after = reg.promote(version, force=force, reason=reason)
    except SlantError as exc:
        _fail(exc)
    if before is not None and before.version == after.version:
        typer.echo(f"{after.version} is already promoted")
        return
    forced = " (forced past the gate)" if after.events and after.events[-1].get("forced") else ""
    typer.echo(f"promoted {after.version}{forced}; was {before.version if before else 'nothing'}")


@models.command("rollback")
def rollback(database: DatabaseOpt = None, registry: RegistryOpt = None) -> None:
    """Go back to the previously promoted version (again: one further back)."""
    from training.registry import ModelRegistry

    try:
        with ModelRegistry.open(database, registry) as reg:
            left, now = reg.rollback()
    except SlantError as exc:
        _fail(exc)
    typer.echo(f"rolled back from {left.version} to {now.version}")
