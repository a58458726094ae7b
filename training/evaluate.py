"""Evaluation through the predictor: the same path as ``predict`` for tweets, sentences and articles."""

from __future__ import annotations

import logging
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from model import StancePredictor

from .config import DatasetSpec
from .data import load_rows
from .metrics import stance_metrics

log = logging.getLogger(__name__)

MIN_TARGET_ROWS = 10


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
            [r["text"] for r in part], per_text_actors=[[r["target"]] for r in part], score_unmentioned=True
        )
        for k, res in enumerate(results):
            stance = res[0]
            unmentioned += stance.status != "scored"
            assert stance.probabilities is not None
            probs[s + k] = [stance.probabilities[label] for label in predictor.labels]
    return probs, unmentioned


def evaluate_rows(predictor: StancePredictor, rows: list[dict[str, Any]], name: str) -> dict[str, Any]:
    """Metrics overall and per target (targets with at least MIN_TARGET_ROWS rows)."""
    probs, unmentioned = predict_rows(predictor, rows)
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
    """Evaluate JSONL/CSV files with text/target/label columns (``slant evaluate --data``)."""
    specs = [DatasetSpec(name=Path(p).name, path=str(Path(p).resolve()), **spec_kwargs) for p in paths]
    return evaluate(predictor, specs, data_root="/")
