"""One softmax temperature for the window classifier, fitted on dev rows by log-loss.

The probabilities of a fine-tuned classifier are over-confident, the more so off its training
distribution (the contrast items where tone and stance disagree). Dividing the logits by one
temperature T > 1 keeps every argmax and makes the confidence mean something; T is stored in
``slant.json`` (``calibration``) and applied by the predictor before aggregation, so the
article aggregator is fitted on calibrated window probabilities.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from model import StancePredictor

from .config import TrainConfig
from .data import load_rows

GRID = np.exp(np.linspace(np.log(0.5), np.log(8.0), 121))


def _nll(logp: np.ndarray, gold: np.ndarray, t: float) -> float:
    z = logp / t
    z = z - z.max(axis=1, keepdims=True)
    logsm = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-logsm[np.arange(len(gold)), gold].mean())


def fit_temperature(predictor: StancePredictor, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Fit T on labelled rows, read through the predictor's own windows; returns the ``calibration`` record.

    T is fitted on the unrounded probabilities of every window at T = 1 (each window carries its
    row's label), not on the rounded, aggregated probabilities that ``predict`` reports.
    """
    if not rows:
        raise ValueError("no calibration rows")
    pairs = predictor.windows.examples(rows)
    before = predictor.temperature
    predictor.temperature = 1.0
    try:
        probs = predictor.score_pairs([p["target"] for p in pairs], [p["text"] for p in pairs])
    finally:
        predictor.temperature = before
    # log-probabilities are the logits up to a per-row constant, which softmax ignores.
    logp = np.log(np.clip(probs, 1e-300, 1.0))
    idx = {label: i for i, label in enumerate(predictor.labels)}
    gold = np.array([idx[p["label"]] for p in pairs])
    losses = [_nll(logp, gold, float(t)) for t in GRID]
    best = float(GRID[int(np.argmin(losses))])
    return {
        "temperature": round(best, 4),
        "rows": len(rows),
        "windows": len(pairs),
        "nll_before": round(_nll(logp, gold, 1.0), 4),
        "nll_after": round(min(losses), 4),
    }


def calibrate(predictor: StancePredictor, config: TrainConfig) -> dict[str, Any] | None:
    """The ``calibration`` record for a config: T fitted on its ``calibration`` rows (None: none named).

    ``slant train`` and ``slant retrain`` both call it, so a retrain refits T exactly as training did.
    """
    if not config.calibration:
        return None
    rows = [r for spec in config.calibration for r in load_rows(spec, config.data_root)]
    return {**fit_temperature(predictor, rows), "sources": [s.name for s in config.calibration]}
