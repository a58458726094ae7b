"""Stance metrics: macro-F1, F_avg (SemEval-2016), accuracy, confusion matrix, calibration error."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score


def expected_calibration_error(probs: np.ndarray, gold: np.ndarray, bins: int = 15) -> float:
    """Mean |accuracy - confidence| over equal-width confidence bins, weighted by bin size."""
    if len(gold) == 0:
        return 0.0
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == gold
    edges = np.linspace(0, 1, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        mask = (conf > lo) & (conf <= hi)
        if mask.any():
            ece += mask.mean() * abs(correct[mask].mean() - conf[mask].mean())
    return float(ece)


def stance_metrics(gold: list[str], probs: np.ndarray, labels: list[str]) -> dict[str, Any]:
    """All metrics for one set of rows. ``probs`` columns follow ``labels``.

    macro-F1 averages over the classes present in the gold labels (P-Stance has no neutral);
    F_avg is the mean of F1(favor) and F1(against), the SemEval-2016 measure.
    """
    idx = {label: i for i, label in enumerate(labels)}
    y = np.array([idx[g] for g in gold])
    pred = probs.argmax(axis=1)
    present = sorted(set(y.tolist()))
    per_class = f1_score(y, pred, labels=list(range(len(labels))), average=None, zero_division=0)
    return {
        "n": len(gold),
        "macro_f1": round(
            100 * float(f1_score(y, pred, labels=present, average="macro", zero_division=0)), 2
        ),
        "f_avg": round(100 * float((per_class[idx["favor"]] + per_class[idx["against"]]) / 2), 2),
        "accuracy": round(100 * float(accuracy_score(y, pred)), 2),
        "f1_per_class": {label: round(100 * float(per_class[i]), 2) for i, label in enumerate(labels)},
        "ece": round(expected_calibration_error(probs, y), 4),
        "confusion": {
            "labels": labels,
            "matrix": confusion_matrix(y, pred, labels=list(range(len(labels)))).tolist(),
        },
    }
