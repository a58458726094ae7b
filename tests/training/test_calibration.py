"""The softmax temperature: fitted by log-loss on dev rows, never changes a label."""

import numpy as np

from training.calibration import _nll, fit_temperature


def test_overconfident_logits_get_a_temperature_above_one():
    rng = np.random.default_rng(0)
    gold = rng.integers(0, 3, 400)
    logits = rng.normal(size=(400, 3))
    logits[np.arange(400), gold] += 1.0  # right more often than not...
    logits *= 6.0  # ...but far too sure of itself
    best = min(np.exp(np.linspace(-1, 2, 61)), key=lambda t: _nll(logits, gold, float(t)))
    assert best > 2.0
    assert _nll(logits, gold, float(best)) < _nll(logits, gold, 1.0)


def test_fit_temperature_on_the_tiny_model(tiny_predictor):
    rows = [
        {"text": "Sanders is great.", "target": "Bernie Sanders", "label": "favor"},
        {"text": "Clinton lost.", "target": "Hillary Clinton", "label": "against"},
        {"text": "The DNC met.", "target": "DNC", "label": "neutral"},
    ] * 4
    found = fit_temperature(tiny_predictor, rows)
    assert found["rows"] == 12 and 0.5 <= found["temperature"] <= 8.0
    assert found["nll_after"] <= found["nll_before"]
    assert tiny_predictor.temperature == 1.0  # fitting leaves the predictor as it was
