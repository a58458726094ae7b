"""``slant retrain`` and ``slant models list | show | promote | rollback``: thin typer wrappers over
``training.retrain`` and ``training.registry``."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Annotated, Any, get_args

import typer
from pydantic import ValidationError

from model.errors import SlantError
from training.retrain_options import RetrainOptions, RetrainSettings

from .options import DatabaseOpt, JsonOpt, RegistryOpt, fail

models = typer.Typer(
    help="The model registry: list versions, promote one (the promotion gate can be overridden), roll back.",
    no_args_is_help=True,
)

# The options of `slant retrain` take their defaults and bounds from the settings they fill in.
_FIELDS = RetrainSettings.model_fields
_DEFAULTS: dict[str, Any] = {name: f.get_default(call_default_factory=True) for name, f in _FIELDS.items()}
# A constraint's attribute, the side it bounds (0: low, 1: high), and whether the bound is in range.
_LIMITS = (("ge", 0, True), ("gt", 0, False), ("le", 1, True), ("lt", 1, False))
Bound = tuple[float, bool] | None  # (value, inclusive)


def _bounds(name: str) -> tuple[Bound, Bound]:
    """The low and high bound of a :class:`RetrainSettings` field; an open bound on a whole number
    (``gt=0``) is the closed one it means (``>= 1``)."""
    field = _FIELDS[name]
    whole = int in (field.annotation, *get_args(field.annotation))
    bounds: list[Bound] = [None, None]
    for constraint in field.metadata:
        for attr, side, inclusive in _LIMITS:
            value = getattr(constraint, attr, None)
            if value is not None:
                if whole and not inclusive:
                    value, inclusive = value + (1 if side == 0 else -1), True
                bounds[side] = (value, inclusive)
    return bounds[0], bounds[1]


def _describe(low: Bound, high: Bound) -> str:
    """A range as typer shows one, open ends too: ``0<=x<1``, ``x>0``. (In the help, in parentheses:
    rich would take ``[x>0]`` for markup.)"""
    if low and not high:
        return f"x{'>=' if low[1] else '>'}{low[0]}"
    left = f"{low[0]}{'<=' if low[1] else '<'}" if low else ""
    right = f"{'<=' if high[1] else '<'}{high[0]}" if high else ""
    return f"{left}x{right}"


def _setting(name: str, *decls: str, help: str | None = None) -> Any:
    """The typer option of the :class:`RetrainSettings` field ``name``, bounded as the field is.

    Closed bounds become the option's ``min`` and ``max``, which typer checks and shows. Typer
    cannot state an open bound on a float (``lt=1``): the field's range then goes into the help,
    and pydantic checks it when the options are built, before anything is loaded.
    """
    low, high = _bounds(name)
    if (low and not low[1]) or (high and not high[1]):
        shown = f"({_describe(low, high)})"
        return typer.Option(*decls, help=f"{help} {shown}" if help else shown)
    return typer.Option(*decls, min=low[0] if low else None, max=high[0] if high else None, help=help)


def retrain_command(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="Training config for the base mix and eval sets (default: the current model's).",
        ),
    ] = _DEFAULTS["config"],
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="Override a config setting: key.sub=value.")
    ] = None,
    from_base: Annotated[
        bool, _setting("from_base", "--from-base", help="Fine-tune the base encoder, not the current model.")
    ] = _DEFAULTS["from_base"],
    base_rows: Annotated[
        int | None, _setting("base_rows", help="Subsample the base mix to N rows (0: labels only).")
    ] = _DEFAULTS["base_rows"],
    epochs: Annotated[
        float | None,
        _setting("epochs", help="Epochs (default: the config's)."),
    ] = _DEFAULTS["epochs"],
    max_steps: Annotated[
        int | None,
        _setting("max_steps", help="Stop after N optimiser steps."),
    ] = _DEFAULTS["max_steps"],
    batch_size: Annotated[int | None, _setting("batch_size")] = _DEFAULTS["batch_size"],
    learning_rate: Annotated[float | None, _setting("learning_rate")] = _DEFAULTS["learning_rate"],
    eval_rows: Annotated[
        int | None, _setting("eval_rows", help="At most N rows of each eval set.")
    ] = _DEFAULTS["eval_rows"],
    max_length: Annotated[
        int | None, _setting("max_length", help="Truncate training examples to N tokens (faster).")
    ] = _DEFAULTS["max_length"],
    label_share: Annotated[
        float, _setting("label_share", help="Labels make up at least this share of each epoch.")
    ] = _DEFAULTS["label_share"],
    max_repeat: Annotated[
        int, _setting("max_repeat", help="Repeat each label at most N times per epoch.")
    ] = _DEFAULTS["max_repeat"],
    holdout: Annotated[
        float, _setting("holdout", help="Share of labelled texts held back for the gate.")
    ] = _DEFAULTS["holdout"],
    tolerance: Annotated[
        float, _setting("tolerance", help="macro-F1 points a fixed eval set may lose.")
    ] = _DEFAULTS["tolerance"],
    min_gain: Annotated[
        float, _setting("min_gain", help="macro-F1 points the held-back labels must gain beyond.")
    ] = _DEFAULTS["min_gain"],
    promote: Annotated[
        bool, _setting("promote", help="Promote the new version when it passes the gate.")
    ] = _DEFAULTS["promote"],
    refit_aggregator: Annotated[
        bool,
        _setting("refit_aggregator", help="Fit the article aggregator again (default: keep the parent's)."),
    ] = _DEFAULTS["refit_aggregator"],
    aggregator_only: Annotated[
        bool,
        _setting(
            "aggregator_only",
            help="Stance labels refit the article aggregator only, through the current model's windows "
            "(the encoder is copied, not fine-tuned).",
        ),
    ] = _DEFAULTS["aggregator_only"],
    seed: Annotated[
        int | None,
        _setting("seed", help="Random seed (default: the config's)."),
    ] = _DEFAULTS["seed"],
    article_windows: Annotated[
        str,
        typer.Option(
            "--article-windows",
            help="top or all: an article label trains on its top windows (the --article-top-k the current "
            "model finds most in favour of the label; all windows of a neutral article) or on all of them.",
        ),
    ] = _DEFAULTS["article_windows"],
    article_top_k: Annotated[
        int, _setting("article_top_k", help="Windows per sided article with --article-windows top.")
    ] = _DEFAULTS["article_top_k"],
    parent_weight: Annotated[
        float,
        _setting(
            "parent_weight",
            help="Average the new weights with the current model's, this share the current's (0: none).",
        ),
    ] = _DEFAULTS["parent_weight"],
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
        _setting(
            "bias_train_rows",
            help="Leaning head: refit on N sampled training articles (default: as many as the current "
            "head was fitted on).",
        ),
    ] = _DEFAULTS["bias_train_rows"],
    bias_data_root: Annotated[
        str | None,
        _setting(
            "bias_data_root", help="Shared data folder for refitting the bias heads (default: the config's)."
        ),
    ] = _DEFAULTS["bias_data_root"],
    database: DatabaseOpt = None,
    registry: RegistryOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Fine-tune on the base data mix plus the label store's labels, compare with the current model
    on the same rows, register the new version and promote it if it passes the gate.

    On a CPU, e.g. `slant retrain --config training/configs/default-stage4.yaml --base-rows 3000
    --epochs 1 --eval-rows 300 --max-length 96`.

    Leaning and hyperpartisan labels refit those bias heads (judged on their dev data and held-back
    labels in the same gate). With bias labels only (or `--task leaning`) the encoder is reused and
    only the heads are refitted: fast. Stance labels fine-tune the encoder, and then every bias head
    the model carries is refitted on it (`--bias-train-rows` caps the leaning articles).
    """
    try:
        # Built before training.retrain (and torch) is imported: a bad option fails at once.
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
            aggregator_only=aggregator_only,
            article_windows=article_windows,  # type: ignore[arg-type]  # pydantic checks it
            article_top_k=article_top_k,
            parent_weight=parent_weight,
            seed=seed,
            tasks=task or None,
            bias_train_rows=bias_train_rows,
            bias_data_root=bias_data_root,
        )
        from training.retrain import retrain

        # Standard output is for the result alone; the Trainer prints its logs there.
        with contextlib.redirect_stdout(sys.stderr):
            result = retrain(options, progress=None if as_json else lambda m: typer.echo(m, err=True))
    except ValidationError as exc:
        from training.config import validation_problems

        problems = validation_problems(exc)
        typer.echo(f"error: invalid retrain options: {problems} Fix: see `slant retrain --help`", err=True)
        raise typer.Exit(2) from None
    except SlantError as exc:
        fail(exc)
    typer.echo(json.dumps(result.to_json(), indent=2) if as_json else result.summary())


@models.command("list")
def list_(database: DatabaseOpt = None, registry: RegistryOpt = None, as_json: JsonOpt = False) -> None:
    """Every version, oldest first: status, parent, when created and promoted, the gate's verdict."""
    from training.registry import ModelRegistry

    try:
        with ModelRegistry.open(database, registry) as reg:
            versions = reg.versions()
    except SlantError as exc:
        fail(exc)
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
        fail(exc)
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
        fail(exc)
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
        fail(exc)
    typer.echo(f"rolled back from {left.version} to {now.version}")
