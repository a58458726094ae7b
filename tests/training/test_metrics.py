import numpy as np

from training.metrics import expected_calibration_error, stance_metrics

LABELS = ["against", "neutral", "favor"]


def onehot(idx, conf=1.0):
    p = np.full((len(idx), 3), (1 - conf) / 2)
    p[np.arange(len(idx)), idx] = conf
    return p


def test_perfect_and_known_scores():
    gold = ["against", "favor", "neutral", "favor"]
    m = stance_metrics(gold, onehot([0, 2, 1, 2]), LABELS)
    assert (m["macro_f1"], m["f_avg"], m["accuracy"], m["ece"]) == (100.0, 100.0, 100.0, 0.0)
    m = stance_metrics(["against", "favor"], onehot([0, 0]), LABELS)
    # F1(against) = 2/3, F1(favor) = 0 -> F_avg 33.33; macro over the two gold classes as well.
    assert m["f_avg"] == 33.33 and m["macro_f1"] == 33.33 and m["accuracy"] == 50.0
    assert m["confusion"]["matrix"] == [[1, 0, 0], [0, 0, 0], [1, 0, 0]]


def test_ece_of_overconfident_predictions():
    probs = onehot([0, 0, 0, 0], conf=0.9)
    gold = np.array([0, 0, 1, 1])
    assert abs(expected_calibration_error(probs, gold) - 0.4) < 1e-9
