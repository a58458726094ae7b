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
from model.bias import HEAD_FILE, HEADS_DIR, load_heads
from model.errors import ConfigError, InvalidInputError
from model.loading import META_FILE, ModelMeta, lineage, load_classifier, read_meta, write_meta

from .config import TrainConfig, _apply_override, data_root, load_config
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
_BIAS_SUMMARY_KEYS = ("n", "macro_f1", "accuracy", "roc_auc", "brier")
BIAS_TASKS = ("leaning", "hyperpartisan")
"""Bias tasks whose stored labels retrain a model's own heads (loaded language is kept apart)."""


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
        how = "fine-tuned" if self.kind == "fine-tune" else "encoder reused, bias heads refitted,"
        lines = [f"version {self.version} ({self.status}) {how} from {self.parent}: {self.path}"]
        if self.kind == "fine-tune":
            lines.append(
                f"labels: {lab['total']} ({lab['train']} trained on, repeated {lab['repeat']}x = "
                f"{lab['share']:.0%} of {self.train_rows} rows per epoch; {lab['held_back']} held back)"
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
    wanted = set(options.tasks) if options.tasks else {"stance", *BIAS_TASKS}
    with LabelStore.open(options.database) as store:
        labels = store.training_rows() if "stance" in wanted else []
        # Every bias task's labels: a head refitted on a new encoder keeps training on them even when
        # this retrain was asked for other tasks; ``bias`` is the tasks asked for.
        stored = {t: rows for t in BIAS_TASKS if (rows := store.training_rows(task=t))}
        bias = {t: rows for t, rows in stored.items() if t in wanted}
        if not labels and not bias:
            only = f" of {', '.join(sorted(wanted))}" if options.tasks else ""
            loaded = store.labels(task="loaded_language", limit=1).total
            raise InvalidInputError(
                f"the label store at {store.url} has no labels{only}, so retraining has nothing new to learn"
                + (" (its loaded-language labels are not used by retrain)" if loaded else ""),
                fix="add labels (POST /v1/labels, `slant labels import FILE`) and run it again"
                + (
                    "; refit the loaded-language head with `slant fit-bias --task loaded_language "
                    "--labels-db ... --out DIR`"
                    if loaded
                    else ""
                ),
            )
        if store.labels(task="loaded_language", limit=1).total:
            say(
                "note: loaded-language labels are not used by retrain (that head is kept out of model "
                "directories); refit it with `slant fit-bias --task loaded_language --labels-db ...`"
            )
        registry = ModelRegistry(store.engine, options.registry)
        current = registry.current(options.default_model)
        say(f"current model: {current.version} ({current.path})")
        version, path = registry.reserve()
        try:
            result = _retrain_into(
                options, registry, current, labels, bias, stored, version, path, say, started
            )
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


@dataclass
class _Stance:
    """What the stance part of a retrain did (empty when the encoder was reused)."""

    labels: dict[str, Any]
    train_rows: int = 0
    base_rows: int = 0
    old: dict[str, dict[str, Any]] = field(default_factory=dict)
    new: dict[str, dict[str, Any]] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    held_back: list[dict[str, Any]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def _retrain_into(
    options: RetrainOptions,
    registry: ModelRegistry,
    current: ModelVersion,
    labels: list[dict[str, Any]],
    bias: dict[str, list[dict[str, Any]]],
    stored: dict[str, list[dict[str, Any]]],
    version: str,
    path: Path,
    say: Progress,
    started: float,
) -> RetrainResult:
    from .bias import check_data

    seen = _labels_seen(current, stored, options.holdout)
    if not labels:
        # Bias labels only: a head whose labels are the ones the current model was fitted on would
        # come back identical (same encoder, data and labels), so it is not refitted.
        for task in sorted(set(bias) & seen):
            say(f"the {task} labels are those {current.version} was fitted on: its head is kept as it is")
        bias = {t: rows for t, rows in bias.items() if t not in seen}
        if not bias:
            raise InvalidInputError(
                f"no new labels since version {current.version}: its heads were fitted on the stored labels",
                fix="add labels (POST /v1/labels, `slant labels import FILE`) and run it again",
            )
    config = _config(options, registry, current, version, path) if labels else None
    root = options.bias_data_root or str(data_root(config[0].data_root if config else "../shared/data"))
    carried = carried_heads(current.path) if Path(current.path).is_dir() else []
    tasks = sorted(set(carried) | set(bias)) if labels else sorted(bias)
    for task in tasks:  # before any training: a missing data folder is found in seconds, not after it
        check_data(task, root, fix="pass --bias-data-root, the shared data folder the heads are fitted on")

    if config is not None:
        stance = _fine_tune_stance(options, current, config, labels, version, path, say)
    else:
        stance = _copy_current(current, version, path, say)
    t0 = time.perf_counter()
    heads = _refit_heads(
        options,
        current,
        path,
        {**stored, **bias},
        tasks,
        encoder_changed=bool(labels),
        root=root,
        say=say,
        seen=seen,
    )
    heads_s = time.perf_counter() - t0
    old = {**stance.old, **heads.old}
    new = {**stance.new, **heads.new}
    gate = promotion_gate(
        {k: v["macro_f1"] for k, v in old.items()},
        {k: v["macro_f1"] for k, v in new.items()},
        compared_to=current.version,
        tolerance=options.tolerance,
        min_gain=options.min_gain,
        rows={**stance.rows, **heads.rows},
    )
    say(gate.summary())
    _write_jsonl(path / "heldout_labels.jsonl", stance.held_back + heads.held_back)

    kind = "fine-tune" if labels else "heads"
    seconds = {**stance.seconds, "heads": round(heads_s, 1)}
    meta = read_meta(path)
    meta.data_hashes = {**meta.data_hashes, **heads.hashes}
    retrain_info: dict[str, Any] = {
        "parent": current.version,
        "kind": kind,
        "labels": stance.labels,
        "base_rows": stance.base_rows,
        "train_rows": stance.train_rows,
        "parent_dev": stance.old,
        "heads": heads.info,
        "bias_parent_dev": heads.old,
        "bias_dev": heads.new,
        "gate": gate.to_json(),
    }
    meta.metrics = {**meta.metrics, "retrain": retrain_info}
    if stance.new:
        meta.metrics["dev"] = stance.new
    if heads.new:
        meta.metrics["bias"] = {**(meta.metrics.get("bias") or {}), **heads.new}
    write_meta(path, meta)
    if stance.new:
        (path / "eval_report.json").write_text(json.dumps(stance.new, indent=2) + "\n", encoding="utf-8")
    (path / "gate.json").write_text(json.dumps(gate.to_json(), indent=2) + "\n", encoding="utf-8")
    (path / "README.md").write_text(
        _card(meta, current, stance.labels, heads.info, gate, kind), encoding="utf-8"
    )

    metrics = {
        "kind": kind,
        "new": new,
        "old": old,
        "labels": stance.labels,
        "heads": heads.info,
        "train_rows": stance.train_rows,
        "seconds": seconds,
    }
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
        labels=stance.labels,
        train_rows=stance.train_rows,
        old=old,
        new=new,
        seconds=seconds,
        kind=kind,
        heads=heads.info,
    )


def _fine_tune_stance(
    options: RetrainOptions,
    current: ModelVersion,
    configured: tuple[TrainConfig, ModelMeta | None],
    labels: list[dict[str, Any]],
    version: str,
    path: Path,
    say: Progress,
) -> _Stance:
    """Fine-tune the encoder on the base mix plus the stance labels; evaluate old and new on stance."""
    from .train import fine_tune

    config, parent_meta = configured
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
    fine_tune(
        config,
        output_dir=path,
        rows=rows,
        data_hashes=hashes,
        callbacks=[_progress_callback(say)],
        window_length=serve_length,
    )
    train_s = time.perf_counter() - t0

    meta = read_meta(path)
    meta.max_length = serve_length  # --max-length only shortens training examples
    _set_calibration(meta, config, path, say)
    _set_aggregator(meta, config, parent_meta, options, path, say)
    write_meta(path, meta)

    t0 = time.perf_counter()
    eval_sets = _eval_sets(config, held_back, say)
    old = _evaluate(current.path, eval_sets, f"current model {current.version}", say)
    new = _evaluate(str(path), eval_sets, f"new model {version}", say)
    eval_s = time.perf_counter() - t0
    return _Stance(
        labels=labels_info,
        train_rows=len(rows),
        base_rows=len(base),
        old=old,
        new=new,
        rows={k: len(v) for k, v in eval_sets.items()},
        held_back=held_back,
        seconds={"train": round(train_s, 1), "evaluate": round(eval_s, 1)},
    )


def _copy_current(current: ModelVersion, version: str, path: Path, say: Progress) -> _Stance:
    """The new version's directory as a copy of the current model: same weights, same stance."""
    source = Path(current.path)
    if not source.is_dir():
        raise ConfigError(
            f"the current model ({current.version}) is {current.path}, not a local directory, so its "
            "encoder cannot be copied into a new version",
            fix="serve a local model directory (SLANT_MODEL=DIR), or retrain with stance labels too",
        )
    say(f"no stance labels: the encoder of {current.version} is reused (copied, not fine-tuned)")
    skip = shutil.ignore_patterns("_trainer", "gate.json", "heldout_labels.jsonl", ".*")
    shutil.copytree(source, path, dirs_exist_ok=True, ignore=skip)
    meta = read_meta(path) if (path / META_FILE).exists() else load_classifier(path)[2]
    meta.version = version
    write_meta(path, meta)
    return _Stance(labels={"total": 0, "train": 0, "held_back": 0, "repeat": 0, "share": 0.0})


# -- bias heads -----------------------------------------------------------------------------------


@dataclass
class _Heads:
    old: dict[str, dict[str, Any]] = field(default_factory=dict)
    new: dict[str, dict[str, Any]] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    info: dict[str, dict[str, Any]] = field(default_factory=dict)
    hashes: dict[str, str] = field(default_factory=dict)
    held_back: list[dict[str, Any]] = field(default_factory=list)


def carried_heads(model_dir: str | Path) -> list[str]:
    """The bias tasks whose heads a model directory carries (``bias/<task>/head.json``)."""
    root = Path(model_dir) / HEADS_DIR
    if not root.is_dir():
        return []
    tasks = []
    for d in sorted(root.iterdir()):
        if (d / HEAD_FILE).exists() and not d.name.startswith("."):
            tasks.append(str(json.loads((d / HEAD_FILE).read_text(encoding="utf-8")).get("task", d.name)))
    return tasks


def _bare_predictor(model_dir: str | Path, **kwargs: Any) -> StancePredictor:
    """The model without any bias heads (torch): stale or extra heads must not stop a retrain."""
    net, tokenizer, meta = load_classifier(model_dir)
    return StancePredictor(net, tokenizer, meta, backend="torch", **kwargs)


def _refit_heads(
    options: RetrainOptions,
    current: ModelVersion,
    path: Path,
    bias: dict[str, list[dict[str, Any]]],
    tasks: list[str],
    *,
    encoder_changed: bool,
    root: str,
    say: Progress,
    seen: set[str] | None = None,
) -> _Heads:
    """Refit the ``tasks`` heads into ``path/bias`` and score old and new heads for the gate."""
    from .bias import (
        Example,
        classification_report,
        dev_report,
        fit_head,
        head_card,
        head_probabilities,
        write_head_dir,
    )

    out = _Heads()
    if not tasks:
        return out
    old_pred = _bare_predictor(current.path)
    old_heads = load_heads(
        current.path if Path(current.path).is_dir() else None, [], encoder=old_pred.encoder_hash
    )
    new_pred = _bare_predictor(path) if encoder_changed else old_pred
    for task in tasks:
        rows = bias.get(task, [])
        train, held = split_labels(rows, options.holdout)
        extra = [Example(r["text"], r["label"], "labels") for r in train]
        old_head = old_heads.get(task)
        cap = options.bias_train_rows
        if task == "leaning" and cap is None and old_head is not None:
            fitted = int(old_head.info.get("train_examples", 0)) - int(old_head.info.get("extra_examples", 0))
            cap = fitted if fitted > 0 else None
        why = "new encoder" if encoder_changed else "new labels"
        say(
            f"refitting the {task} head ({why}): {len(train)} labels trained on, {len(held)} held back"
            + (f", {cap} sampled training articles" if task == "leaning" and cap else "")
        )
        if task == "loaded_language":
            say("note: the loaded-language head was in the model directory; it is refitted there (AGPL data)")
        fit = fit_head(
            new_pred,
            task,
            data_root=root,
            train_rows=cap if task == "leaning" else None,
            extra=extra,
            progress=say,
        )
        head = fit.head
        head.info["retrain"] = {"parent": current.version, "why": why, "labels": len(rows)}
        write_head_dir(
            head,
            path / HEADS_DIR / task,
            card=head_card(head, command=f"slant retrain (registry version {path.name}, {why})"),
        )

        dev = f"{task}:dev"
        say(f"scoring the {task} heads on {dev}")
        new_dev = dev_report(new_pred, head, data_root=root, extra=extra)
        out.new[dev] = _bias_summary(new_dev)
        out.rows[dev] = int(new_dev["n"])
        if old_head is not None:
            out.old[dev] = _bias_summary(dev_report(old_pred, old_head, data_root=root))
        info: dict[str, Any] = {
            "refitted": why,
            "labels": len(rows),
            "train_labels": len(train),
            "held_back": len(held),
            "train_examples": head.info.get("train_examples"),
            "data_root": root,
            "dev": out.new[dev],
        }
        if rows:
            # Labels the current head was already fitted on cannot be asked to gain: judged like a
            # fixed set (within the tolerance) under another name.
            key = f"{task}:labels-seen" if task in (seen or set()) else f"{task}:{NEW_LABELS}"
            out.rows[key] = len(held)
            out.hashes[f"labels:{task}"] = rows_hash(train)
            out.hashes[f"labels:{task}:held-back"] = rows_hash(held)
            out.held_back += held
            if held:
                gold, texts = [r["label"] for r in held], [r["text"] for r in held]
                probs = head_probabilities(new_pred, head, texts)
                out.new[key] = _bias_summary(
                    classification_report(gold, probs, head.labels, present_only=True)
                )
                if old_head is not None:
                    probs = head_probabilities(old_pred, old_head, texts)
                    out.old[key] = _bias_summary(
                        classification_report(gold, probs, old_head.labels, present_only=True)
                    )
            else:
                say(f"warning: no {task} label falls in the held-back slice, so the gate cannot judge them")
        if old_head is None:
            say(f"note: the current model has no {task} head, so the gate has nothing to compare it with")
        info["summary"] = (
            f"refitted ({why}); {len(rows)} labels ({len(train)} trained on, {len(held)} held back), "
            f"{head.info.get('train_examples')} training examples; dev macro-F1 "
            f"{out.old.get(dev, {}).get('macro_f1', '-')} -> {out.new[dev]['macro_f1']}"
        )
        out.info[task] = info
    return out


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
                fix="pass one: --config training/configs/default-stage3.yaml",
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
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(
            f"the retrain config does not validate: {problems}", fix="check --config and --set"
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
    predictor = _bare_predictor(path, max_windows=config.aggregator.max_windows)
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
    parent: ModelVersion,
    labels: dict[str, Any],
    heads: dict[str, dict[str, Any]],
    gate: GateDecision,
    kind: str,
) -> str:
    from .pipeline import model_card

    if kind == "fine-tune":
        how = (
            f"Registry version {meta.version}, fine-tuned by `slant retrain` from registry version "
            f"{parent.version} on the base mix plus {labels['train']} labels from the label store, each "
            f"repeated {labels['repeat']} times ({labels['share']:.0%} of each epoch). {labels['held_back']} "
            f"labels ({labels['holdout_fraction']:.0%} of labelled texts, by text hash) were held back "
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
            "Bias heads refitted (each held back 20% of its labels by text hash, scored as "
            "`<task>:new-labels`; `<task>:dev` is the head's fixed dev data):",
            "",
        ]
        lines += [f"- `{task}`: {h['summary']}" for task, h in heads.items()]
        lines.append("")
    lines += ["```", gate.summary(), "```", ""]
    return "\n".join(lines)
