"""``slant retrain``: fine-tune on the base data mix plus the label store's labels, compare the new
model with the current one on the same rows, and register it (promoted if it passes the gate).

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

>>> result = retrain(base_rows=2000, epochs=1, eval_rows=300)                 # doctest: +SKIP
>>> print(result.gate.summary())                                              # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from model import StancePredictor
from model.errors import ConfigError, InvalidInputError
from model.loading import META_FILE, ModelMeta, lineage, read_meta, write_meta

from .config import TrainConfig, _apply_override, load_config
from .data import load_rows, spec_hash
from .evaluate import evaluate_rows
from .gate import NEW_LABELS, GateDecision, promotion_gate
from .registry import ModelRegistry, ModelVersion
from .retrain_options import RetrainOptions
from .store import LabelStore
from .store.store import text_sha256

log = logging.getLogger(__name__)

Progress = Callable[[str], None]
_SUMMARY_KEYS = ("n", "macro_f1", "f_avg", "accuracy", "ece")


@dataclass
class RetrainResult:
    """What a retrain produced: the new version, its status, the gate's decision and the numbers."""

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
        return "\n".join(
            [
                f"version {self.version} ({self.status}) fine-tuned from {self.parent}: {self.path}",
                f"labels: {lab['total']} ({lab['train']} trained on, repeated {lab['repeat']}x = "
                f"{lab['share']:.0%} of {self.train_rows} rows per epoch; {lab['held_back']} held back)",
                self.gate.summary(),
            ]
        )


def retrain(
    options: RetrainOptions | None = None, *, progress: Progress | None = None, **settings: Any
) -> RetrainResult:
    """Retrain on the base mix plus the current labels, evaluate old against new, register the result.

    Give a :class:`RetrainOptions` or its fields as keywords. ``progress`` receives one line per
    step (the HTTP job shows them). The new version is promoted when it passes the gate and
    ``promote`` is true; otherwise it stays a ``candidate`` (or ``rejected``).
    """
    if options is None:
        try:
            options = RetrainOptions(**settings)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise ConfigError(
                f"invalid retrain options: {problems}", fix="see `slant retrain --help`"
            ) from None
    elif settings:
        raise TypeError("give either options or keyword settings, not both")

    def say(message: str) -> None:
        log.info("%s", message)
        if progress is not None:
            progress(message)

    started = time.perf_counter()
    with LabelStore.open(options.database) as store:
        labels = store.training_rows()
        if not labels:
            raise InvalidInputError(
                f"the label store at {store.url} has no labels, so retraining has nothing new to learn",
                fix="add labels (POST /v1/labels, `slant labels import FILE`) and run it again",
            )
        registry = ModelRegistry(store.engine, options.registry)
        current = registry.current(options.default_model)
        say(f"current model: {current.version} ({current.path})")
        version, path = registry.reserve()
        try:
            result = _retrain_into(options, registry, current, labels, version, path, say, started)
        except BaseException:
            if not _registered(registry, version):
                registry.release(path)  # a registered version keeps its files, even if promotion failed
            raise
    return result


def _registered(registry: ModelRegistry, version: str) -> bool:
    try:
        return any(v.version == version for v in registry.versions())
    except Exception:  # the database went away: keep the files rather than guess
        return True


def _retrain_into(
    options: RetrainOptions,
    registry: ModelRegistry,
    current: ModelVersion,
    labels: list[dict[str, Any]],
    version: str,
    path: Path,
    say: Progress,
    started: float,
) -> RetrainResult:
    from .train import fine_tune

    config, parent_meta = _config(options, current, version, path)
    serve_length = parent_meta.max_length if parent_meta else config.max_length
    train_labels, held_back = split_labels(labels, options.holdout)
    base, hashes = _base_rows(config, options.base_rows, say)
    repeat = label_repeats(len(base), len(train_labels), share=options.label_share, cap=options.max_repeat)
    rows = base + train_labels * repeat
    random.Random(config.seed).shuffle(rows)
    share = len(train_labels) * repeat / len(rows) if rows else 0.0
    labels_info = {
        "total": len(labels),
        "train": len(train_labels),
        "held_back": len(held_back),
        "repeat": repeat,
        "share": round(share, 4),
        "holdout_fraction": options.holdout,
    }
    hashes["labels"] = rows_hash(train_labels)
    hashes["labels:held-back"] = rows_hash(held_back)
    if not rows:
        raise InvalidInputError(
            f"nothing to train on: no base rows and all {len(labels)} labels are held back for evaluation",
            fix="label more texts, or keep the base mix (leave --base-rows out)",
        )
    if not held_back:
        say("warning: no label falls in the held-back slice, so the gate cannot judge the new labels")
    say(
        f"training {version} from {config.base_model}: {len(base)} base rows + {len(train_labels)} labels "
        f"x{repeat} ({share:.0%}); {len(held_back)} labels held back"
    )
    t0 = time.perf_counter()
    fine_tune(config, output_dir=path, rows=rows, data_hashes=hashes, callbacks=[_progress_callback(say)])
    train_s = time.perf_counter() - t0

    meta = read_meta(path)
    meta.max_length = serve_length  # --max-length only shortens training examples
    _set_aggregator(meta, config, parent_meta, options, path, say)
    write_meta(path, meta)
    _write_jsonl(path / "heldout_labels.jsonl", held_back)

    t0 = time.perf_counter()
    eval_sets = _eval_sets(config, held_back, say)
    old = _evaluate(current.path, eval_sets, f"current model {current.version}", say)
    new = _evaluate(str(path), eval_sets, f"new model {version}", say)
    eval_s = time.perf_counter() - t0
    gate = promotion_gate(
        {k: v["macro_f1"] for k, v in old.items()},
        {k: v["macro_f1"] for k, v in new.items()},
        compared_to=current.version,
        tolerance=options.tolerance,
        min_gain=options.min_gain,
        rows={k: len(v) for k, v in eval_sets.items()},
    )
    say(gate.summary())

    seconds = {"train": round(train_s, 1), "evaluate": round(eval_s, 1)}
    meta = read_meta(path)
    meta.metrics = {
        **meta.metrics,
        "dev": new,
        "retrain": {
            "parent": current.version,
            "labels": labels_info,
            "base_rows": len(base),
            "train_rows": len(rows),
            "parent_dev": old,
            "gate": gate.to_json(),
        },
    }
    write_meta(path, meta)
    (path / "eval_report.json").write_text(json.dumps(new, indent=2) + "\n", encoding="utf-8")
    (path / "gate.json").write_text(json.dumps(gate.to_json(), indent=2) + "\n", encoding="utf-8")
    (path / "README.md").write_text(_card(meta, current, labels_info, gate), encoding="utf-8")

    metrics = {"new": new, "old": old, "labels": labels_info, "train_rows": len(rows), "seconds": seconds}
    registered = registry.register(version, path, parent=current.version, metrics=metrics, gate=gate)
    status = registered.status
    if gate.passed and options.promote:
        status = registry.promote(version, reason="passed the promotion gate").status
        say(f"promoted {version}")
    elif gate.passed:
        say(f"{version} passed the gate and stays a candidate: `slant models promote {version}`")
    else:
        say(f"{version} is rejected; `slant models promote {version} --force` overrides the gate")
    seconds["total"] = round(time.perf_counter() - started, 1)
    return RetrainResult(
        version=version,
        path=str(path),
        parent=current.version,
        status=status,
        gate=gate,
        labels=labels_info,
        train_rows=len(rows),
        old=old,
        new=new,
        seconds=seconds,
    )


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
    keys = sorted(f"{text_sha256(r['text'])}\t{r['target']}\t{r['label']}" for r in rows)
    return "sha256:" + hashlib.sha256("\n".join(keys).encode("utf-8")).hexdigest()


def _base_rows(
    config: TrainConfig, limit: int | None, say: Progress
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    rows: list[dict[str, Any]] = []
    hashes: dict[str, str] = {}
    if limit == 0:
        return rows, hashes
    for spec in config.train:
        part = load_rows(spec, config.data_root)
        rows.extend(part)
        hashes[spec.name] = spec_hash(spec, config.data_root)
    if limit is not None and len(rows) > limit:
        rows = random.Random(f"{config.seed}:base:{limit}").sample(rows, limit)
    say(f"base mix: {len(rows)} rows from {', '.join(s.name for s in config.train)}")
    return rows, hashes


# -- configuration --------------------------------------------------------------------------------


def _config(
    options: RetrainOptions, current: ModelVersion, version: str, path: Path
) -> tuple[TrainConfig, ModelMeta | None]:
    """The training config of this retrain, and the current model's metadata (None for a hub model)."""
    parent_meta = read_meta(current.path) if (Path(current.path) / META_FILE).exists() else None
    if options.config:
        raw = load_config(options.config, options.overrides).model_dump(mode="json")
    else:
        recorded = dict(parent_meta.training_config) if parent_meta else {}
        if not recorded.get("train"):
            raise ConfigError(
                f"the current model ({current.version}, {current.path}) records no training config "
                "to take the base data mix and evaluation sets from",
                fix="pass one: --config training/configs/default-stage2.yaml",
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
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(
            f"the retrain config does not validate: {problems}", fix="check --config and --set"
        ) from None
    return config, parent_meta


def _set_aggregator(
    meta: ModelMeta,
    config: TrainConfig,
    parent_meta: ModelMeta | None,
    options: RetrainOptions,
    path: Path,
    say: Progress,
) -> None:
    """Keep the parent's article aggregator, or fit a new one when asked (or from the base encoder)."""
    refit = options.refit_aggregator or options.from_base
    if not refit:
        meta.aggregator = parent_meta.aggregator if parent_meta else None
        return
    meta.aggregator = None
    if not config.aggregator.data:
        return
    from .aggregator import fit_aggregator

    write_meta(path, meta)
    predictor = StancePredictor.load(path, max_windows=config.aggregator.max_windows, backend="torch")
    rows = [r for spec in config.aggregator.data for r in load_rows(spec, config.data_root)]
    say(f"fitting the article aggregator on {len(rows)} articles")
    agg = fit_aggregator(
        predictor, rows, c=config.aggregator.c, sources=[s.name for s in config.aggregator.data]
    )
    meta.aggregator = agg.to_json()
    for spec in config.aggregator.data:
        meta.data_hashes[f"aggregator:{spec.name}"] = spec_hash(spec, config.data_root)


# -- evaluation -----------------------------------------------------------------------------------


def _eval_sets(
    config: TrainConfig, held_back: list[dict[str, Any]], say: Progress
) -> dict[str, list[dict[str, Any]]]:
    sets: dict[str, list[dict[str, Any]]] = {}
    for spec in config.eval:
        rows = load_rows(spec, config.data_root)
        if rows:
            sets[spec.name] = rows
        else:
            say(f"warning: eval set {spec.name} has no rows; left out")
    if held_back:
        sets[NEW_LABELS] = held_back
    return sets


def _evaluate(
    model: str, sets: dict[str, list[dict[str, Any]]], who: str, say: Progress
) -> dict[str, dict[str, Any]]:
    """A short report per set; the weights as trained (torch), as model cards report them."""
    predictor = StancePredictor.load(model, backend="torch")
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
    with path.open("w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps({"text": r["text"], "target": r["target"], "label": r["label"]}) + "\n")


def _card(meta: ModelMeta, parent: ModelVersion, labels: dict[str, Any], gate: GateDecision) -> str:
    from .pipeline import model_card

    lines = [
        model_card(meta.to_json()).rstrip("\n"),
        "",
        "## Retraining",
        "",
        f"Registry version {meta.version}, fine-tuned by `slant retrain` from registry version "
        f"{parent.version} on the base mix plus {labels['train']} labels from the label store, each "
        f"repeated {labels['repeat']} times ({labels['share']:.0%} of each epoch). {labels['held_back']} "
        f"labels ({labels['holdout_fraction']:.0%} of labelled texts, by text hash) were held back "
        "(`heldout_labels.jsonl`) and scored as the `new-labels` set.",
        "",
        "```",
        gate.summary(),
        "```",
        "",
    ]
    return "\n".join(lines)
