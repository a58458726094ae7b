"""Evaluation through the predictor: the same path as ``predict`` for tweets, sentences and articles,
and ``analyze`` for the bias heads (article leaning, hyperpartisanship)."""

from __future__ import annotations

import logging
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from model import StancePredictor
from model.errors import ConfigError
from model.labels import normalize_task_label
from model.tasks import BIAS_TASKS
from model.windows import row_actor

from .config import DatasetSpec
from .data import load_rows, read_records
from .metrics import stance_metrics

log = logging.getLogger(__name__)

MIN_TARGET_ROWS = 10
BIAS_FIELDS: tuple[str, ...] = tuple(BIAS_TASKS)
"""Fields of an evaluation file that hold a bias task's gold label for the whole text."""


def predict_rows(
    predictor: StancePredictor, rows: list[dict[str, Any]], *, chunk: int = 64
) -> tuple[np.ndarray, int]:
    """Probabilities for labelled rows via ``predictor.predict``; counts rows whose target is unmentioned.

    Unmentioned targets are still scored (``score_unmentioned``): a tweet can take a side on
    Hillary Clinton without naming her, and the benchmark rows all carry a gold label.
    """
    probs = np.zeros((len(rows), len(predictor.labels)))
    unmentioned = 0
    for s in range(0, len(rows), chunk):
        part = rows[s : s + chunk]
        results = predictor.predict(
            [r["text"] for r in part], per_text_actors=[[actor_of(r)] for r in part], score_unmentioned=True
        )
        for k, res in enumerate(results):
            stance = res[0]
            unmentioned += stance.status != "scored"
            assert stance.probabilities is not None
            probs[s + k] = [stance.probabilities[label] for label in predictor.labels]
    return probs, unmentioned


def actor_of(row: dict[str, Any]) -> Any:
    """The row's target as training saw it (:func:`model.windows.row_actor`): registry aliases and the
    other names the text calls it by, and dataset targets that are not clean names kept as they are."""
    return row_actor(row)


def evaluate_rows(
    predictor: StancePredictor,
    rows: list[dict[str, Any]],
    name: str,
    *,
    predicted: tuple[np.ndarray, int] | None = None,
) -> dict[str, Any]:
    """Metrics overall and per target (targets with at least MIN_TARGET_ROWS rows); ``predicted``:
    :func:`predict_rows`' answer for these rows, when the caller already has it."""
    probs, unmentioned = predicted if predicted is not None else predict_rows(predictor, rows)
    gold = [r["label"] for r in rows]
    report = {
        "name": name,
        **stance_metrics(gold, probs, predictor.labels),
        "target_not_mentioned": unmentioned,
    }
    by_target: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        by_target[r["target"]].append(i)
    report["per_target"] = {
        t: {
            k: v
            for k, v in stance_metrics([gold[i] for i in idx], probs[idx], predictor.labels).items()
            if k in ("n", "macro_f1", "f_avg", "accuracy")
        }
        for t, idx in sorted(by_target.items(), key=lambda kv: -len(kv[1]))
        if len(idx) >= MIN_TARGET_ROWS
    }
    by_kind: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        if r.get("kind"):
            by_kind[r["kind"]].append(i)
    if by_kind:
        report["per_kind"] = {
            k: {
                m: v
                for m, v in stance_metrics([gold[i] for i in idx], probs[idx], predictor.labels).items()
                if m in ("n", "macro_f1", "accuracy", "ece")
            }
            for k, idx in sorted(by_kind.items())
        }
    return report


def evaluate(predictor: StancePredictor, specs: list[DatasetSpec], data_root: str) -> dict[str, Any]:
    """One report per dataset spec."""
    out = {}
    for spec in specs:
        rows = load_rows(spec, data_root)
        log.info("evaluating %s (%d rows)", spec.name, len(rows))
        out[spec.name] = evaluate_rows(predictor, rows, spec.name)
    return out


def evaluate_files(predictor: StancePredictor, paths: list[str | Path], **spec_kwargs: Any) -> dict[str, Any]:
    """Evaluate JSONL/CSV files (``slant evaluate --data``): one report per file.

    Rows with text/target/label get the stance metrics. A file with a ``leaning`` (left / center /
    right), ``hyperpartisan`` (true / false, or the label names) or ``loaded_language`` (biased /
    non-biased; the text is one sentence) field also gets that head's metrics under the field's
    name; rows without the field (or without stance fields) are left out of that part.
    """
    out: dict[str, Any] = {}
    for p in paths:
        spec = DatasetSpec(name=Path(p).name, path=str(Path(p).resolve()), **spec_kwargs)
        path = Path(str(spec.path))
        records = [r for _, r in read_records(path)]
        fields = [f for f in BIAS_FIELDS if any(_given(r, f) for r in records)]
        if not fields:
            out[spec.name] = evaluate(predictor, [spec], data_root="/")[spec.name]
            continue
        missing = [f for f in fields if f not in predictor.heads]
        if missing:
            raise ConfigError(
                f"{spec.name} has a {' and a '.join(repr(f) for f in missing)} field, but the model "
                f"({predictor.name} {predictor.version}) has no {' or '.join(missing)} head",
                field="data",
                fix=f"fit one with `slant fit-bias --model <model dir> --task {missing[0]}`, or add a head "
                "directory with --heads",
            )
        stance = [
            r
            for r in records
            if all(_given(r, f) for f in (spec.text_field, spec.target_field, spec.label_field))
        ]
        report: dict[str, Any] = {"name": spec.name}
        if stance:
            rows = [
                {
                    "text": str(r[spec.text_field]).strip(),
                    "target": str(r[spec.target_field]).strip(),
                    "label": normalize_task_label("stance", r[spec.label_field], field=spec.label_field),
                    "dataset": spec.name,
                }
                for r in stance
            ]
            log.info("evaluating %s: stance (%d rows)", spec.name, len(rows))
            report.update(evaluate_rows(predictor, rows, spec.name))
        report.update(evaluate_bias(predictor, records, fields, name=spec.name, text_field=spec.text_field))
        out[spec.name] = report
    return out


def _given(row: dict[str, Any], field: str) -> bool:
    return row.get(field) not in (None, "")


def evaluate_bias(
    predictor: StancePredictor,
    records: list[dict[str, Any]],
    fields: list[str],
    *,
    name: str = "data",
    text_field: str = "text",
    chunk: int = 64,
) -> dict[str, dict[str, Any]]:
    """Leaning, hyperpartisan and loaded-language metrics of the rows that carry those fields.

    Leaning: macro-F1, accuracy, per-class F1, confusion. Hyperpartisan: the same plus ROC AUC
    and the Brier score of P(hyperpartisan). ``no_prose`` counts texts with no sentence left to
    read (scored as uniform probabilities).
    """
    from .bias import classification_report, served_probabilities

    wanted = [i for i, r in enumerate(records) if any(_given(r, f) for f in fields)]
    texts = []
    for i in wanted:
        text = records[i].get(text_field)
        if not isinstance(text, str) or not text.strip():
            raise ConfigError(
                f"{name} row {i + 1}: expected a non-empty string field {text_field!r}",
                field=text_field,
                fix="give every row its text (or name the column with --text-field)",
            )
        texts.append(text)
    log.info("evaluating %s: %s (%d texts)", name, ", ".join(fields), len(texts))
    out: dict[str, dict[str, Any]] = {}
    for task in fields:
        # Each head scores whole texts through the predictor: an article head reads the lead as
        # analyze does; a labelled sentence is read whole, as the head was fitted (the service
        # flags sentence by sentence with the same head).
        head = predictor.heads[task]
        rows = [(i, t) for i, t in zip(wanted, texts, strict=True) if _given(records[i], task)]
        gold = [
            normalize_task_label(task, records[i][task], field=f"{name} row {i + 1} {task}") for i, _ in rows
        ]
        probs = np.zeros((0, len(head.labels)))
        no_prose = 0
        for s in range(0, len(rows), chunk):
            part, empty = served_probabilities(predictor, head, [t for _, t in rows[s : s + chunk]])
            probs, no_prose = np.concatenate([probs, part]), no_prose + empty
        out[task] = {**classification_report(gold, probs, head.labels), "no_prose": no_prose}
    return out
