"""``slant retrain``: fine-tune on the base data mix plus the label store's labels, refit the bias
heads, compare the new model with the current one on the same rows, and register it (promoted if
it passes the gate).

How the training set is built:

- the base mix is the ``train`` data of a training config (``--config``; by default the config
  recorded in the current model's ``slant.json``), optionally subsampled to ``base_rows`` rows;
- the current labels (``LabelStore.training_rows``) are split by a hash of their text: a fixed
  ``holdout`` share (20%) is held back for evaluation, always the same texts, never trained on;
- the other labels are repeated ``k`` times so that they make up at least ``label_share`` (20%) of
  the examples of each epoch: ``k = ceil(share * base / ((1 - share) * labels))``, at least 1 and
  at most ``max_repeat`` (50), so a few hundred corrections weigh against tens of thousands of
  base rows without a handful of labels being repeated thousands of times.

The new model starts from the current (promoted) model, or from the base encoder with
``from_base``; it keeps the parent's article aggregator unless ``refit_aggregator`` (or
``from_base``, when the config names aggregator data). Both models are then evaluated with the
torch backend on the config's ``eval`` sets (each capped at ``eval_rows`` rows) and on the
held-back labels, and :func:`training.gate.promotion_gate` decides.

Bias labels (``leaning``, ``hyperpartisan``) retrain their heads, not the encoder:

- the head is refitted (:func:`training.bias.fit_head`) on its data plus the task's labels minus
  the same held-back 20% by text hash, and judged old head against new head on its fixed dev data
  (``<task>:dev``: the held-out split, or cross-validation for hyperpartisan) and on the held-back
  labels (``<task>:new-labels``), beside the stance sets in the same gate;
- with bias labels only (or ``tasks`` without ``stance``) the encoder is not fine-tuned: the
  current model directory is copied and only the refitted heads replace the old ones;
- when stance labels fine-tune the encoder, every head the current model carries is refitted on
  the new encoder (a head only loads on the encoder it was fitted on), its leaning data capped at
  ``bias_train_rows`` articles (default: as many as the current head was fitted on).

Loaded-language labels are not used here: that head lives outside model directories (its data is
AGPL-3.0); refit it with ``slant fit-bias --task loaded_language --labels-db ...``.

>>> result = retrain(base_rows=2000, epochs=1, eval_rows=300)                 # doctest: +SKIP
>>> print(result.gate.summary())                                              # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from model import StancePredictor
from model.bias import HEAD_FILE, HEADS_DIR, BiasHead, head_dirs
from model.errors import ConfigError, InvalidInputError
from model.files import write_text_atomic
from model.loading import META_FILE, ModelMeta, lineage, load_classifier, read_meta, write_meta
from model.tasks import BIAS_TASKS, RETRAIN_TASKS

from .config import TrainConfig, _apply_override, data_root, load_config, validation_problems
from .data import load_mix, load_rows, spec_hash
from .evaluate import evaluate_rows
from .gate import NEW_LABELS, GateDecision, promotion_gate
from .mil import BAG
from .registry import ModelRegistry, ModelVersion
from .retrain_options import RetrainOptions
from .store import LabelStore
from .store.store import text_sha256

log = logging.getLogger(__name__)

Progress = Callable[[str], None]
_SUMMARY_KEYS = ("n", "macro_f1", "f_avg", "accuracy", "ece")
_BIAS_SUMMARY_KEYS = ("n", "macro_f1", "accuracy", "roc_auc", "brier")


@dataclass
class RetrainResult:
    """What a retrain produced: the new version, its status, the gate's decision and the numbers.

    ``kind`` is ``fine-tune`` (stance labels fine-tuned the encoder; every head was refitted on it)
    or ``heads`` (the encoder was reused and only the bias heads with labels were refitted).
    ``heads`` says, per bias task, what was done and with how many labels.
    """

    version: str
    path: str
    parent: str
    status: str
    gate: GateDecision
    labels: dict[str, Any]
    train_rows: int
    old: dict[str, dict[str, Any]]
    new: dict[str, dict[str, Any]]
    seconds: dict[str, float]
    kind: str = "fine-tune"
    heads: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def promoted(self) -> bool:
        return self.status == "promoted"

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["gate"] = self.gate.to_json()
        out["promoted"] = self.promoted
        return out

    def summary(self) -> str:
        """What ``slant retrain`` prints."""
        lab = self.labels
        how = {"fine-tune": "fine-tuned", "aggregator": "encoder reused, article aggregator refitted,"}.get(
            self.kind, "encoder reused, bias heads refitted,"
        )
        lines = [f"version {self.version} ({self.status}) {how} from {self.parent}: {self.path}"]
        if self.kind == "fine-tune":
            lines.append(
                f"labels: {lab['total']} ({lab['train']} trained on, repeated {lab['repeat']}x = "
                f"{lab['share']:.0%} of {self.train_rows} rows per epoch; {lab['held_back']} held back)"
            )
        elif self.kind == "aggregator":
            lines.append(
                f"labels: {lab['total']} ({lab['train']} for the aggregator to fit on; "
                f"{lab['held_back']} held back)"
            )
        for task, h in self.heads.items():
            lines.append(f"{task} head: {h['summary']}")
        lines.append(self.gate.summary())
        return "\n".join(lines)


def retrain(
    options: RetrainOptions | None = None, *, progress: Progress | None = None, **settings: Any
) -> RetrainResult:
    """Retrain on the base mix plus the current labels, evaluate old against new, register the result.

    Give a :class:`RetrainOptions` or its fields as keywords. ``progress`` receives one line per
    step (the HTTP job shows them). A :class:`RetrainPlan` is made and printed first, then run step
    by step. The new version is promoted when it passes the gate and ``promote`` is true; otherwise
    it stays a ``candidate`` (or ``rejected``).
    """
    if options is None:
        try:
            options = RetrainOptions(**settings)
        except ValidationError as exc:
            raise ConfigError(
                f"invalid retrain options: {validation_problems(exc)}", fix="see `slant retrain --help`"
            ) from None
    elif settings:
        raise TypeError("give either options or keyword settings, not both")

    def say(message: str) -> None:
        log.info("%s", message)
        if progress is not None:
            progress(message)

    started = time.perf_counter()
    with LabelStore.open(options.database) as store:
        labels, stored, bias = _read_labels(options, store, say)
        registry = ModelRegistry(store.engine, options.registry)
        current = registry.current(options.default_model)
        say(f"current model: {current.version} ({current.path})")
        version, path = registry.reserve()
        try:
            plan = plan_retrain(options, registry, current, labels, stored, bias, version, path, say)
            say(plan.summary())
            result = run_plan(plan, registry, say, started)
        except BaseException:
            if not _registered(registry, version):
                registry.release(path)  # a registered version keeps its files, even if promotion failed
            raise
    return result


Rows = list[dict[str, Any]]


def _read_labels(
    options: RetrainOptions, store: LabelStore, say: Progress
) -> tuple[Rows, dict[str, Rows], dict[str, Rows]]:
    """(stance labels, every retrainable bias task's labels, the bias labels of the tasks asked for)."""
    wanted = set(options.tasks) if options.tasks else {"stance", *RETRAIN_TASKS}
    labels = store.training_rows() if "stance" in wanted else []
    # Every bias task's labels: a head refitted on a new encoder keeps training on them even when
    # this retrain was asked for other tasks; ``bias`` is the tasks asked for.
    stored = {t: rows for t in RETRAIN_TASKS if (rows := store.training_rows(task=t))}
    bias = {t: rows for t, rows in stored.items() if t in wanted}
    unused = [
        spec
        for spec in BIAS_TASKS.values()
        if spec.name not in RETRAIN_TASKS and store.labels(task=spec.name, limit=1).total
    ]
    if not labels and not bias:
        only = f" of {', '.join(sorted(wanted))}" if options.tasks else ""
        names = " and ".join(spec.title for spec in unused)
        raise InvalidInputError(
            f"the label store at {store.url} has no labels{only}, so retraining has nothing new to learn"
            + (f" (its {names} labels are not used by retrain)" if unused else ""),
            fix="add labels (POST /v1/labels, `slant labels import FILE`) and run it again"
            + "".join(
                f"; refit the {spec.title} head with `slant fit-bias --task {spec.name} --labels-db ... "
                "--out DIR`"
                for spec in unused
            ),
        )
    for spec in unused:
        say(
            f"note: {spec.title} labels are not used by retrain (that head is kept out of model "
            f"directories); refit it with `slant fit-bias --task {spec.name} --labels-db ...`"
        )
    return labels, stored, bias


def _registered(registry: ModelRegistry, version: str) -> bool:
    try:
        return any(v.version == version for v in registry.versions())
    except Exception:  # the database went away: keep the files rather than guess
        return True


# -- the plan -------------------------------------------------------------------------------------


@dataclass
class RetrainPlan:
    """What a retrain will do, decided before anything is trained: whether the encoder is
    fine-tuned (stance labels), which bias heads are refitted and why, which are kept as they are.

    :func:`retrain` prints :meth:`summary`, then :func:`run_plan` carries it out step by step.
    """

    options: RetrainOptions
    current: ModelVersion
    version: str
    path: Path
    #: The stance labels; with any, the encoder is fine-tuned and every carried head is refitted.
    labels: Rows
    #: The bias heads refitted, in order, and the labels each is refitted with.
    heads: list[str]
    head_labels: dict[str, Rows]
    #: Heads whose labels are those the current model was fitted on: kept as they are.
    kept: list[str]
    #: Bias tasks whose stored labels the current model's heads were fitted on.
    seen: set[str]
    data_root: str
    config: tuple[TrainConfig, ModelMeta | None] | None = None

    @property
    def fine_tune(self) -> bool:
        return bool(self.labels) and not self.options.aggregator_only

    @property
    def kind(self) -> str:
        if self.fine_tune:
            return "fine-tune"
        return "aggregator" if self.labels else "heads"

    @property
    def why(self) -> str:
        """Why the heads are refitted."""
        return "new encoder" if self.fine_tune else "new labels"

    def summary(self) -> str:
        """What ``slant retrain`` prints before it starts."""
        if self.fine_tune:
            stance = f"fine-tune the encoder on {len(self.labels)} stance labels plus the base mix"
        elif self.labels:
            stance = f"reuse the encoder; refit the article aggregator with {len(self.labels)} stance labels"
        else:
            stance = "reuse the encoder (no stance labels)"
        heads = ", ".join(f"{t} ({len(self.head_labels.get(t, []))} labels)" for t in self.heads)
        lines = [
            f"plan for {self.version} from {self.current.version}: {stance}",
            f"  refit ({self.why}): {heads}" if heads else "  refit no bias head",
        ]
        if self.kept:
            lines.append(f"  keep as they are: {', '.join(self.kept)}")
        return "\n".join(lines)


def plan_retrain(
    options: RetrainOptions,
    registry: ModelRegistry,
    current: ModelVersion,
    labels: Rows,
    stored: dict[str, Rows],
    bias: dict[str, Rows],
    version: str,
    path: Path,
    say: Progress,
) -> RetrainPlan:
    """Decide what the retrain changes; fails before any training when there is nothing new or a
    head's data folder is missing."""
    from .bias import check_data

    if options.aggregator_only and options.from_base:
        raise InvalidInputError(
            "aggregator_only reuses the current model's encoder, from_base fine-tunes the base encoder",
            field="aggregator_only",
            fix="give one of --aggregator-only and --from-base",
        )
    seen = _labels_seen(current, stored, options.holdout)
    kept: list[str] = []
    new_encoder = bool(labels) and not options.aggregator_only
    if not new_encoder:
        # The encoder is reused: a head whose labels are the ones the current model was fitted on would
        # come back identical (same encoder, data and labels), so it is not refitted.
        kept = sorted(set(bias) & seen)
        for task in kept:
            say(f"the {task} labels are those {current.version} was fitted on: its head is kept as it is")
        bias = {t: rows for t, rows in bias.items() if t not in seen}
        if not bias and not labels:
            raise InvalidInputError(
                f"no new labels since version {current.version}: its heads were fitted on the stored labels",
                fix="add labels (POST /v1/labels, `slant labels import FILE`) and run it again",
            )
    config = _config(options, registry, current, version, path) if labels else None
    root = options.bias_data_root or str(data_root(config[0].data_root if config else "../shared/data"))
    carried = carried_heads(current.path) if Path(current.path).is_dir() else []
    tasks = sorted(set(carried) | set(bias)) if new_encoder else sorted(bias)
    for task in tasks:  # before any training: a missing data folder is found in seconds, not after it
        check_data(task, root, fix="pass --bias-data-root, the shared data folder the heads are fitted on")
    return RetrainPlan(
        options=options,
        current=current,
        version=version,
        path=path,
        labels=labels,
        heads=tasks,
        head_labels={**stored, **bias},
        kept=kept,
        seen=seen,
        data_root=root,
        config=config,
    )


@dataclass
class _Stance:
    """What the stance step did (empty when the encoder was reused)."""

    labels: dict[str, Any]
    train_rows: int = 0
    base_rows: int = 0
    old: dict[str, dict[str, Any]] = field(default_factory=dict)
    new: dict[str, dict[str, Any]] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    held_back: Rows = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


@dataclass
class _Heads:
    """What the head step did: old and new scores by gate set, rows, per-head info, label hashes."""

    old: dict[str, dict[str, Any]] = field(default_factory=dict)
    new: dict[str, dict[str, Any]] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    info: dict[str, dict[str, Any]] = field(default_factory=dict)
    hashes: dict[str, str] = field(default_factory=dict)
    held_back: Rows = field(default_factory=list)


@dataclass
class _Record:
    """The numbers of one retrain, recorded once; ``slant.json``, the registry and the result are
    views of it."""

    parent: str
    kind: str
    stance: _Stance
    heads: _Heads
    gate: GateDecision
    seconds: dict[str, float]

    @property
    def old(self) -> dict[str, dict[str, Any]]:
        return {**self.stance.old, **self.heads.old}

    @property
    def new(self) -> dict[str, dict[str, Any]]:
        return {**self.stance.new, **self.heads.new}

    def for_model_dir(self) -> dict[str, Any]:
        """``slant.json`` ``metrics.retrain``."""
        return {
            "parent": self.parent,
            "kind": self.kind,
            "labels": self.stance.labels,
            "base_rows": self.stance.base_rows,
            "train_rows": self.stance.train_rows,
            "parent_dev": self.stance.old,
            "heads": self.heads.info,
            "bias_parent_dev": self.heads.old,
            "bias_dev": self.heads.new,
            "gate": self.gate.to_json(),
        }

    def for_registry(self) -> dict[str, Any]:
        """The registry's ``metrics`` of the version."""
        return {
            "kind": self.kind,
            "new": self.new,
            "old": self.old,
            "labels": self.stance.labels,
            "heads": self.heads.info,
            "train_rows": self.stance.train_rows,
            "seconds": dict(self.seconds),
        }


# -- the steps ------------------------------------------------------------------------------------


def run_plan(plan: RetrainPlan, registry: ModelRegistry, say: Progress, started: float) -> RetrainResult:
    """Carry out ``plan``: the stance step, the head refits, the gate, the record, the registration."""
    if plan.fine_tune:
        stance = _fine_tune_stance(plan, say)
    elif plan.labels:
        stance = _refit_aggregator_only(plan, say)
    else:
        stance = _copy_current(plan, say)
    t0 = time.perf_counter()
    heads = _refit_heads(plan, say)
    seconds = {**stance.seconds, "heads": round(time.perf_counter() - t0, 1)}
    gate = _gate(plan, stance, heads, say)
    record = _Record(plan.current.version, plan.kind, stance, heads, gate, seconds)
    _write_record(plan, record)
    status = _register(plan, registry, record, say)
    seconds["total"] = round(time.perf_counter() - started, 1)
    return RetrainResult(
        version=plan.version,
        path=str(plan.path),
        parent=plan.current.version,
        status=status,
        gate=gate,
        labels=stance.labels,
        train_rows=stance.train_rows,
        old=record.old,
        new=record.new,
        seconds=seconds,
        kind=plan.kind,
        heads=heads.info,
    )


def _gate(plan: RetrainPlan, stance: _Stance, heads: _Heads, say: Progress) -> GateDecision:
    """Old against new on every set, stance and heads together."""
    options = plan.options
    gate = promotion_gate(
        {k: v["macro_f1"] for k, v in {**stance.old, **heads.old}.items()},
        {k: v["macro_f1"] for k, v in {**stance.new, **heads.new}.items()},
        compared_to=plan.current.version,
        tolerance=options.tolerance,
        min_gain=options.min_gain,
        rows={**stance.rows, **heads.rows},
    )
    say(gate.summary())
    return gate


def _write_record(plan: RetrainPlan, record: _Record) -> None:
    """The held-back labels, ``slant.json``'s metrics, the eval report, the gate and the model card."""
    path, stance, heads = plan.path, record.stance, record.heads
    _write_jsonl(path / "heldout_labels.jsonl", stance.held_back + heads.held_back)
    meta = read_meta(path)
    meta.data_hashes = {**meta.data_hashes, **heads.hashes}
    meta.metrics = {**meta.metrics, "retrain": record.for_model_dir()}
    if stance.new:
        meta.metrics["dev"] = stance.new
    if heads.new:
        meta.metrics["bias"] = {**(meta.metrics.get("bias") or {}), **heads.new}
    write_meta(path, meta)
    if stance.new:
        write_text_atomic(path / "eval_report.json", json.dumps(stance.new, indent=2) + "\n")
    write_text_atomic(path / "gate.json", json.dumps(record.gate.to_json(), indent=2) + "\n")
    write_text_atomic(path / "README.md", _card(meta, plan, stance.labels, heads.info, record.gate))


def _register(plan: RetrainPlan, registry: ModelRegistry, record: _Record, say: Progress) -> str:
    """Index the new version, promote it when it passed and promotion is asked for; its status."""
    version, gate = plan.version, record.gate
    registered = registry.register(
        version, plan.path, parent=plan.current.version, metrics=record.for_registry(), gate=gate
    )
    status = registered.status
    if gate.passed and plan.options.promote:
        status = registry.promote(version, reason="passed the promotion gate").status
        say(f"promoted {version}")
    elif gate.passed:
        say(f"{version} passed the gate and stays a candidate: `slant models promote {version}`")
    else:
        say(f"{version} is rejected; `slant models promote {version} --force` overrides the gate")
    return status


def _fine_tune_stance(plan: RetrainPlan, say: Progress) -> _Stance:
    """Fine-tune the encoder on the base mix plus the stance labels; evaluate old and new on stance."""
    from .train import fine_tune

    assert plan.config is not None  # a fine-tune plan has a config
    options, labels, version, path = plan.options, plan.labels, plan.version, plan.path
    config, parent_meta = plan.config
    serve_length = parent_meta.max_length if parent_meta else config.max_length
    train_labels, held_back = _gate_split(plan, say)
    base, hashes = _base_rows(config, options.base_rows, say)
    repeat = label_repeats(len(base), len(train_labels), share=options.label_share, cap=options.max_repeat)
    rows = base + label_copies(train_labels, repeat, options.article_windows)
    random.Random(config.seed).shuffle(rows)
    share = len(train_labels) * repeat / len(rows) if rows else 0.0
    labels_info: dict[str, Any] = {
        "total": len(labels),
        "train": len(train_labels),
        "held_back": len(held_back),
        "repeat": repeat,
        "share": round(share, 4),
        "holdout_fraction": options.holdout,
        "article_windows": options.article_windows,
        "article_top_k": options.article_top_k,
        "parent_weight": options.parent_weight,
    }
    hashes["labels"] = rows_hash(train_labels)
    hashes["labels:held-back"] = rows_hash(held_back)
    if not rows:
        raise InvalidInputError(
            f"nothing to train on: no base rows and all {len(labels)} labels are held back for evaluation",
            fix="label more texts, or keep the base mix (leave --base-rows out)",
        )
    say(
        f"training {version} from {config.base_model}: {len(base)} base rows + {len(train_labels)} labels "
        f"x{repeat} ({share:.0%}); {len(held_back)} labels held back"
    )
    t0 = time.perf_counter()
    fine_tune(
        config,
        output_dir=path,
        rows=rows,
        data_hashes=hashes,
        callbacks=[_progress_callback(say)],
        window_length=serve_length,
        bag_top_k=options.article_top_k,
    )
    train_s = time.perf_counter() - t0
    if options.parent_weight > 0:
        from .soup import average_weights

        say(f"averaging the weights: {options.parent_weight} x {plan.current.version} + the fine-tuned")
        average_weights(plan.current.path, path, alpha=options.parent_weight, out=path)
    _finish_meta(plan, serve_length, say, train_labels=train_labels, held_back=held_back)
    return _judged(
        plan,
        labels_info,
        (train_labels, held_back),
        say,
        seconds={"train": round(train_s, 1)},
        train_rows=len(rows),
        base_rows=len(base),
    )


def _gate_split(plan: RetrainPlan, say: Progress) -> tuple[Rows, Rows]:
    """The stance labels learnt from, and those held back for the gate (a warning when none are)."""
    train_labels, held_back = split_labels(plan.labels, plan.options.holdout)
    if not held_back:
        say("warning: no label falls in the held-back slice, so the gate cannot judge the new labels")
    return train_labels, held_back


def _judged(
    plan: RetrainPlan,
    labels_info: dict[str, Any],
    split: tuple[Rows, Rows],
    say: Progress,
    *,
    seconds: dict[str, float],
    **counts: int,
) -> _Stance:
    """The stance step's record: the current and the new model scored on the gate's sets (which
    leave out the texts learnt from, counted in ``labels_info``) and on the held-back labels."""
    assert plan.config is not None
    train_labels, held_back = split
    t0 = time.perf_counter()
    eval_sets, labels_info["eval_rows_left_out"] = _eval_sets(plan.config[0], train_labels, held_back, say)
    old = _evaluate(plan.current.path, eval_sets, f"current model {plan.current.version}", say)
    new = _evaluate(str(plan.path), eval_sets, f"new model {plan.version}", say)
    return _Stance(
        labels=labels_info,
        old=old,
        new=new,
        rows={k: len(v) for k, v in eval_sets.items()},
        held_back=held_back,
        seconds={**seconds, "evaluate": round(time.perf_counter() - t0, 1)},
        **counts,
    )


def _finish_meta(
    plan: RetrainPlan, serve_length: int, say: Progress, *, train_labels: Rows, held_back: Rows
) -> None:
    """The fine-tuned model's serving length, calibration and article aggregator."""
    assert plan.config is not None
    config, parent_meta = plan.config
    meta = read_meta(plan.path)
    meta.max_length = serve_length  # --max-length only shortens training examples
    _set_calibration(meta, config, plan.path, say)
    labels = (train_labels, held_back)
    _set_aggregator(meta, config, parent_meta, plan.options, plan.path, say, labels=labels)
    write_meta(plan.path, meta)


def _copy_current(plan: RetrainPlan, say: Progress) -> _Stance:
    """The new version's directory as a copy of the current model: same weights, same stance."""
    current, version, path = plan.current, plan.version, plan.path
    source = Path(current.path)
    if not source.is_dir():
        raise ConfigError(
            f"the current model ({current.version}) is {current.path}, not a local directory, so its "
            "encoder cannot be copied into a new version",
            fix="serve a local model directory (SLANT_MODEL=DIR), or retrain with stance labels too",
        )
    why = "--aggregator-only" if plan.labels else "no stance labels"
    say(f"{why}: the encoder of {current.version} is reused (copied, not fine-tuned)")
    skip = shutil.ignore_patterns("_trainer", "gate.json", "heldout_labels.jsonl", ".*")
    shutil.copytree(source, path, dirs_exist_ok=True, ignore=skip)
    meta = read_meta(path) if (path / META_FILE).exists() else load_classifier(path)[2]
    meta.version = version
    write_meta(path, meta)
    return _Stance(labels={"total": 0, "train": 0, "held_back": 0, "repeat": 0, "share": 0.0})


def _refit_aggregator_only(plan: RetrainPlan, say: Progress) -> _Stance:
    """A copy of the current model whose article aggregator is refitted with the trained-on stance
    labels (never on a held-back label's text); old and new scored as after a fine-tune."""
    assert plan.config is not None  # stance labels: the plan has a config
    config, parent_meta = plan.config
    _copy_current(plan, say)
    train_labels, held_back = _gate_split(plan, say)
    meta = read_meta(plan.path)
    t0 = time.perf_counter()
    labels = (train_labels, held_back)
    _set_aggregator(meta, config, parent_meta, plan.options, plan.path, say, labels=labels, force=True)
    write_meta(plan.path, meta)
    labels_info: dict[str, Any] = {
        "total": len(plan.labels),
        "train": len(train_labels),
        "held_back": len(held_back),
        "repeat": 0,
        "share": 0.0,
        "holdout_fraction": plan.options.holdout,
        "aggregator_only": True,
    }
    return _judged(plan, labels_info, labels, say, seconds={"aggregator": round(time.perf_counter() - t0, 1)})


# -- bias heads -----------------------------------------------------------------------------------


def carried_heads(model_dir: str | Path) -> list[str]:
    """The bias tasks whose heads a model directory carries (``bias/<task>/head.json``)."""
    return [
        str(json.loads((d / HEAD_FILE).read_text(encoding="utf-8")).get("task", d.name))
        for d in head_dirs(model_dir)
    ]


def _bare_predictor(model_dir: str | Path, **kwargs: Any) -> StancePredictor:
    """The model without any bias heads (torch): stale or extra heads must not stop a retrain."""
    return StancePredictor.load(model_dir, with_heads=False, backend="torch", **kwargs)


def _refit_heads(plan: RetrainPlan, say: Progress) -> _Heads:
    """Refit the plan's heads into ``path/bias`` and score old and new heads for the gate."""
    out = _Heads()
    if not plan.heads:
        return out
    # The current model with its own heads (not $SLANT_HEADS'): the heads the new ones replace.
    old_pred = StancePredictor.load(plan.current.path, heads=[], backend="torch")
    new_pred = _bare_predictor(plan.path) if plan.fine_tune else old_pred
    for task in plan.heads:
        _refit_head(plan, task, old_pred, new_pred, out, say)
    return out


def _refit_head(
    plan: RetrainPlan,
    task: str,
    old_pred: StancePredictor,
    new_pred: StancePredictor,
    out: _Heads,
    say: Progress,
) -> None:
    """Refit one head on ``new_pred``'s encoder, write it, and score it (and the one it replaces)."""
    from .bias import READERS, Example, fit_head, head_card, write_head_dir

    rows = plan.head_labels.get(task, [])
    train, held = split_labels(rows, plan.options.holdout)
    extra = [Example(r["text"], r["label"], "labels") for r in train]
    old_head = old_pred.heads.get(task)
    sampled = READERS[task].sampled
    cap = plan.options.bias_train_rows
    if sampled and cap is None and old_head is not None:
        fitted = int(old_head.info.get("train_examples", 0)) - int(old_head.info.get("extra_examples", 0))
        cap = fitted if fitted > 0 else None
    why = plan.why
    say(
        f"refitting the {task} head ({why}): {len(train)} labels trained on, {len(held)} held back"
        + (f", {cap} sampled training articles" if sampled and cap else "")
    )
    spec = BIAS_TASKS[task]
    if spec.kept_apart:
        say(
            f"note: the {spec.title} head was in the model directory; it is refitted there "
            f"({spec.licence_id.split('-')[0]} data)"
        )
    rows_cap = cap if sampled else None
    fit = fit_head(new_pred, task, data_root=plan.data_root, train_rows=rows_cap, extra=extra, progress=say)
    head = fit.head
    head.info["retrain"] = {"parent": plan.current.version, "why": why, "labels": len(rows)}
    write_head_dir(
        head,
        plan.path / HEADS_DIR / task,
        card=head_card(head, command=f"slant retrain (registry version {plan.path.name}, {why})"),
    )
    dev = _score_dev(plan, task, head, old_head, old_pred, new_pred, extra, out, say)
    info: dict[str, Any] = {
        "refitted": why,
        "labels": len(rows),
        "train_labels": len(train),
        "held_back": len(held),
        "train_examples": head.info.get("train_examples"),
        "data_root": plan.data_root,
        "dev": out.new[dev],
    }
    if rows:
        _score_labels(plan, task, head, old_head, old_pred, new_pred, train, held, out, say)
    if old_head is None:
        say(f"note: the current model has no {task} head, so the gate has nothing to compare it with")
    info["summary"] = (
        f"refitted ({why}); {len(rows)} labels ({len(train)} trained on, {len(held)} held back), "
        f"{head.info.get('train_examples')} training examples; dev macro-F1 "
        f"{out.old.get(dev, {}).get('macro_f1', '-')} -> {out.new[dev]['macro_f1']}"
    )
    out.info[task] = info


def _score_dev(
    plan: RetrainPlan,
    task: str,
    head: BiasHead,
    old_head: BiasHead | None,
    old_pred: StancePredictor,
    new_pred: StancePredictor,
    extra: list[Any],
    out: _Heads,
    say: Progress,
) -> str:
    """Score the new head (and the old one) on the task's fixed dev data; the gate set's name."""
    from .bias import dev_report

    dev = f"{task}:dev"
    say(f"scoring the {task} heads on {dev}")
    # Dev texts the new head was fitted on (a user's labels) are scored for neither head.
    seen = [e.text for e in extra]
    new_dev = dev_report(new_pred, head, data_root=plan.data_root, extra=extra, leave_out=seen)
    if new_dev["left_out"]:
        say(
            f"{dev}: {new_dev['left_out']} rows left out of both heads' scores, "
            "their texts are among the labels fitted on"
        )
    out.new[dev] = _bias_summary(new_dev)
    out.rows[dev] = int(new_dev["n"])
    if old_head is not None:
        out.old[dev] = _bias_summary(dev_report(old_pred, old_head, data_root=plan.data_root, leave_out=seen))
    return dev


def _score_labels(
    plan: RetrainPlan,
    task: str,
    head: BiasHead,
    old_head: BiasHead | None,
    old_pred: StancePredictor,
    new_pred: StancePredictor,
    train: Rows,
    held: Rows,
    out: _Heads,
    say: Progress,
) -> None:
    """Score new and old head on the held-back labels, through the predictors, as the service would."""
    from .bias import classification_report, served_probabilities

    # Labels the current head was already fitted on cannot be asked to gain: judged like a
    # fixed set (within the tolerance) under another name.
    key = f"{task}:labels-seen" if task in plan.seen else f"{task}:{NEW_LABELS}"
    out.rows[key] = len(held)
    out.hashes[f"labels:{task}"] = rows_hash(train)
    out.hashes[f"labels:{task}:held-back"] = rows_hash(held)
    out.held_back += held
    if not held:
        say(f"warning: no {task} label falls in the held-back slice, so the gate cannot judge them")
        return
    gold, texts = [r["label"] for r in held], [r["text"] for r in held]
    for who, predictor, scored in (("new", new_pred, head), ("old", old_pred, old_head)):
        if scored is None:
            continue
        probs, _ = served_probabilities(predictor, scored, texts)
        report = _bias_summary(classification_report(gold, probs, scored.labels, present_only=True))
        (out.new if who == "new" else out.old)[key] = report


def _labels_seen(current: ModelVersion, stored: dict[str, list[dict[str, Any]]], holdout: float) -> set[str]:
    """The bias tasks whose stored labels (training part) are those the current model's heads saw."""
    if not (Path(current.path) / META_FILE).exists():
        return set()
    hashes = read_meta(current.path).data_hashes
    return {
        task
        for task, rows in stored.items()
        if hashes.get(f"labels:{task}") == rows_hash(split_labels(rows, holdout)[0])
    }


def _bias_summary(report: dict[str, Any]) -> dict[str, Any]:
    return {k: report[k] for k in _BIAS_SUMMARY_KEYS if k in report}


# -- the training set -----------------------------------------------------------------------------


def in_held_back_slice(text: str, fraction: float) -> bool:
    """Whether a labelled text is held back: decided by the hash of its normalised text, so the
    same texts are held back in every retrain and every actor of a text falls on the same side.

    >>> in_held_back_slice("Go Bernie!", 0.2) == in_held_back_slice("Go  Bernie! ", 0.2)
    True
    """
    return int(text_sha256(text)[:8], 16) / 0xFFFFFFFF < fraction


def split_labels(
    labels: list[dict[str, Any]], fraction: float
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(labels to train on, labels held back for evaluation)."""
    train: list[dict[str, Any]] = []
    held: list[dict[str, Any]] = []
    for row in labels:
        (held if in_held_back_slice(row["text"], fraction) else train).append(row)
    return train, held


def label_copies(labels: Rows, repeat: int, article_windows: str) -> Rows:
    """The labels repeated ``repeat`` times; with ``article_windows="top"`` each copy is a bag
    (:data:`training.mil.BAG`), so that an article label trains on its most label-like windows."""
    if article_windows != "top":
        return labels * repeat
    return [{**row, BAG: r * len(labels) + i} for r in range(repeat) for i, row in enumerate(labels)]


def label_repeats(n_base: int, n_labels: int, *, share: float = 0.2, cap: int = 50) -> int:
    """How many times each label is repeated per epoch so labels are at least ``share`` of the rows.

    >>> label_repeats(20_000, 300)   # 300 labels x 17 = 5,100 of 25,100 rows (20.3%)
    17
    >>> label_repeats(20_000, 5)     # capped: 5 labels are not repeated 1,000 times
    50
    """
    if n_labels == 0:
        return 0
    if share <= 0 or n_base == 0:
        return 1
    return max(1, min(cap, math.ceil(share * n_base / ((1 - share) * n_labels))))


def rows_hash(rows: list[dict[str, Any]]) -> str:
    """Content hash of labelled rows, independent of their order."""
    keys = sorted(
        f"{text_sha256(r['text'])}\t{r.get('target') or r.get('task', '')}\t{r['label']}" for r in rows
    )
    return "sha256:" + hashlib.sha256("\n".join(keys).encode("utf-8")).hexdigest()


def _base_rows(
    config: TrainConfig, limit: int | None, say: Progress
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    if limit == 0:
        return [], {}
    rows, hashes = load_mix(config.train, config.data_root)
    if limit is not None and len(rows) > limit:
        rows = random.Random(f"{config.seed}:base:{limit}").sample(rows, limit)
    say(f"base mix: {len(rows)} rows from {', '.join(s.name for s in config.train)}")
    return rows, hashes


# -- configuration --------------------------------------------------------------------------------


def _config(
    options: RetrainOptions, registry: ModelRegistry, current: ModelVersion, version: str, path: Path
) -> tuple[TrainConfig, ModelMeta | None]:
    """The training config of this retrain, and the current model's metadata (None for a hub model)."""
    parent_meta = _meta(current)
    if options.config:
        given = load_config(options.config, options.overrides)
        raw = given.model_dump(mode="json")
        if "window_format" not in given.model_fields_set:
            raw.pop("window_format")  # not in the file: inherit the parent's (below)
    else:
        # The config recorded in a model: the current one, or the registry version named.
        source = registry.get(options.config_version) if options.config_version else current
        source_meta = parent_meta if source is current else _meta(source)
        recorded = dict(source_meta.training_config) if source_meta else {}
        if not recorded.get("train"):
            which = f"model version {source.version}" if source is not current else "the current model"
            raise ConfigError(
                f"{which} ({source.version}, {source.path}) records no training config "
                "to take the base data mix and evaluation sets from",
                fix="pass one: --config training/configs/default-stage4.yaml (the shipped model's)",
            )
        raw = json.loads(json.dumps(recorded))
        for item in options.overrides:
            _apply_override(raw, item)
    if options.from_base:
        start = lineage(current.path)[0] if parent_meta else str(raw.get("base_model"))
    else:
        start = current.path
    training = dict(raw.get("training") or {})
    for key in ("epochs", "max_steps", "batch_size", "learning_rate"):
        value = getattr(options, key)
        if value is not None:
            training[key] = value
    raw.update(version=version, base_model=start, output_dir=str(path), training=training)
    if parent_meta is not None and "window_format" not in raw:
        # A config recorded before window formats existed: keep the parent's (plain) windows.
        raw["window_format"] = parent_meta.window_format
    if options.max_length is not None:
        raw["max_length"] = options.max_length
    if options.seed is not None:
        raw["seed"] = options.seed
    if options.eval_rows is not None:
        raw["eval"] = [
            {**spec, "max_rows": min(spec.get("max_rows") or options.eval_rows, options.eval_rows)}
            for spec in raw.get("eval") or []
        ]
    try:
        config = TrainConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(
            f"the retrain config does not validate: {validation_problems(exc)}",
            fix="check --config and --set",
        ) from None
    return config, parent_meta


def _meta(version: ModelVersion) -> ModelMeta | None:
    return read_meta(version.path) if (Path(version.path) / META_FILE).exists() else None


def _set_calibration(meta: ModelMeta, config: TrainConfig, path: Path, say: Progress) -> None:
    """Re-fit the softmax temperature on the config's calibration rows: new weights, new temperature."""
    meta.calibration = None
    if not config.calibration:
        return
    from .calibration import calibrate

    write_meta(path, meta)
    predictor = _bare_predictor(path, max_windows=config.aggregator.max_windows)
    meta.calibration = calibrate(predictor, config)
    if meta.calibration is not None:
        found = meta.calibration
        say(f"softmax temperature {found['temperature']} fitted on {found['rows']} rows")


def _set_aggregator(
    meta: ModelMeta,
    config: TrainConfig,
    parent_meta: ModelMeta | None,
    options: RetrainOptions,
    path: Path,
    say: Progress,
    *,
    labels: tuple[Rows, Rows] = ([], []),
    force: bool = False,
) -> None:
    """Keep the parent's article aggregator, or fit a new one when asked (or from the base encoder):
    on the config's aggregator data and the trained-on labels, never on a held-back label's text."""
    refit = force or options.refit_aggregator or options.from_base
    if not refit:
        meta.aggregator = parent_meta.aggregator if parent_meta else None
        return
    meta.aggregator = None
    train_labels, held_back = labels
    if not config.aggregator.data and not train_labels:
        return
    from .aggregator import fit_aggregator

    write_meta(path, meta)
    predictor = _bare_predictor(path, max_windows=config.aggregator.max_windows)
    data = [r for spec in config.aggregator.data for r in load_rows(spec, config.data_root)]
    rows, dropped = aggregator_rows(data, train_labels, held_back)
    say(
        f"fitting the article aggregator on {len(rows)} rows ({len(data)} of the config's aggregator data, "
        f"{dropped} of them left out because their text is held back, and the trained-on labels; "
        "rows too short to be an article are skipped)"
    )
    sources = [s.name for s in config.aggregator.data] + (["labels"] if train_labels else [])
    try:
        agg = fit_aggregator(
            predictor, rows, c=config.aggregator.c, sources=sources, weights=config.aggregator.weights
        )
    except ValueError as exc:  # too few articles of two labels: keep the parent's aggregator
        say(f"warning: aggregator not refitted ({exc}); the parent's is kept (it may have seen those rows)")
        kept = parent_meta.aggregator if parent_meta else None
        if kept:
            kept = {**kept, "info": {**kept.get("info", {}), "refit_failed": str(exc)}}
        meta.aggregator = kept
        return
    meta.aggregator = agg.to_json()
    meta.aggregator["info"]["held_back_left_out"] = dropped
    for spec in config.aggregator.data:
        meta.data_hashes[f"aggregator:{spec.name}"] = spec_hash(spec, config.data_root)
    if train_labels:
        meta.data_hashes["aggregator:labels"] = rows_hash(train_labels)


def aggregator_rows(data: Rows, train_labels: Rows, held_back: Rows) -> tuple[Rows, int]:
    """The rows a retrain fits the article aggregator on, and how many of ``data`` were left out.

    ``data`` (the config's aggregator articles) loses every row whose text is a held-back label's,
    so the gate's new-labels score is never fitted on; the trained-on stance labels are added
    (a user's label replaces the config's row for the same text and exactly the same actor
    string; of two labels for one pair the last wins; a label without a target is not used).

    >>> art = {"text": "A long article.", "target": "DNC", "label": "neutral"}
    >>> rows, dropped = aggregator_rows([art], [], [{**art, "label": "against"}])
    >>> rows, dropped
    ([], 1)
    """
    held = {text_sha256(r["text"]) for r in held_back}
    own = {(text_sha256(r["text"]), r.get("target")): r for r in train_labels if r.get("target")}
    rows, dropped = [], 0
    for r in data:
        digest = text_sha256(r["text"])
        if digest in held:
            dropped += 1
        elif (digest, r.get("target")) not in own:
            rows.append(r)
    return rows + list(own.values()), dropped


# -- evaluation -----------------------------------------------------------------------------------


def _eval_sets(
    config: TrainConfig, train_labels: Rows, held_back: Rows, say: Progress
) -> tuple[dict[str, Rows], dict[str, int]]:
    """The gate's sets: the config's eval sets, less every row whose text the new model was trained
    on (a label's text), and the held-back labels; and how many rows each fixed set lost."""
    trained = {text_sha256(r["text"]) for r in train_labels}
    sets: dict[str, Rows] = {}
    left_out: dict[str, int] = {}
    for spec in config.eval:
        loaded = load_rows(spec, config.data_root)
        rows = [r for r in loaded if text_sha256(r["text"]) not in trained]
        if len(rows) < len(loaded):
            left_out[spec.name] = len(loaded) - len(rows)
            say(
                f"{spec.name}: {left_out[spec.name]} of {len(loaded)} rows left out of both models' scores, "
                "their texts are among the labels the new model learnt from"
            )
        if rows:
            sets[spec.name] = rows
        else:
            say(f"warning: eval set {spec.name} has no rows; left out")
    if held_back:
        sets[NEW_LABELS] = held_back
    return sets, left_out


def _evaluate(
    model: str, sets: dict[str, list[dict[str, Any]]], who: str, say: Progress
) -> dict[str, dict[str, Any]]:
    """A short report per set; the weights as trained (torch), as model cards report them."""
    predictor = _bare_predictor(model)
    out: dict[str, dict[str, Any]] = {}
    for name, rows in sets.items():
        say(f"evaluating {who} on {name} ({len(rows)} rows)")
        report = evaluate_rows(predictor, rows, name)
        out[name] = {k: report[k] for k in _SUMMARY_KEYS}
    return out


def _progress_callback(say: Progress) -> Any:
    """A Trainer callback that reports the step and the loss at each logging step."""
    from transformers import TrainerCallback

    class _Progress(TrainerCallback):  # type: ignore[misc]
        def on_log(
            self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any
        ) -> None:
            if logs and "loss" in logs:
                say(f"fine-tuning: step {state.global_step}/{state.max_steps}, loss {logs['loss']:.4f}")

    return _Progress()


# -- files ----------------------------------------------------------------------------------------


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    """The held-back labels, in the label files' schema (a bias label's target is null)."""
    with path.open("w", encoding="utf-8") as fh:
        for r in rows:
            row = {"text": r["text"], "target": r.get("target"), "label": r["label"]}
            fh.write(json.dumps({**row, "task": r.get("task", "stance")}) + "\n")


def _card(
    meta: ModelMeta,
    plan: RetrainPlan,
    labels: dict[str, Any],
    heads: dict[str, dict[str, Any]],
    gate: GateDecision,
) -> str:
    from .pipeline import model_card

    parent = plan.current
    if plan.fine_tune:
        how = (
            f"Registry version {meta.version}, fine-tuned by `slant retrain` from registry version "
            f"{parent.version} on the base mix plus {labels['train']} labels from the label store, each "
            f"repeated {labels['repeat']} times ({labels['share']:.0%} of each epoch). {labels['held_back']} "
            f"labels ({labels['holdout_fraction']:.0%} of labelled texts, by text hash) were held back "
            "(`heldout_labels.jsonl`) and scored as the `new-labels` set."
        )
    elif plan.labels:
        how = (
            f"Registry version {meta.version}, made by `slant retrain --aggregator-only` from registry "
            f"version {parent.version}: the encoder (and so every window's stance) is the parent's, copied; "
            f"the article aggregator was refitted on the config's aggregator data plus {labels['train']} "
            f"labels from the label store. {labels['held_back']} labels "
            f"({labels['holdout_fraction']:.0%} of labelled texts, by text hash) were held back "
            "(`heldout_labels.jsonl`) and scored as the `new-labels` set."
        )
    else:
        how = (
            f"Registry version {meta.version}, made by `slant retrain` from registry version "
            f"{parent.version} with bias labels only: the encoder (and so every stance number above) is "
            "the parent's, copied; only the bias heads listed below were refitted."
        )
    lines = [model_card(meta.to_json()).rstrip("\n"), "", "## Retraining", "", how, ""]
    if heads:
        lines += [
            f"Bias heads refitted (each held back {plan.options.holdout:.0%} of its labels by text hash, "
            "scored as `<task>:new-labels`; `<task>:dev` is the head's fixed dev data):",
            "",
        ]
        lines += [f"- `{task}`: {h['summary']}" for task, h in heads.items()]
        lines.append("")
    lines += ["```", gate.summary(), "```", ""]
    return "\n".join(lines)
