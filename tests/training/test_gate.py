"""The promotion gate's rules, at the edges of the tolerance, and the label weighting of retrain."""

from __future__ import annotations

import pytest

from training.gate import NEW_LABELS, GateDecision, promotion_gate
from training.retrain import in_held_back_slice, label_repeats, rows_hash, split_labels


def gate(old_dev: float, new_dev: float, old_new: float | None, new_new: float | None, **kw):
    old = {"dev": old_dev} | ({NEW_LABELS: old_new} if old_new is not None else {})
    new = {"dev": new_dev} | ({NEW_LABELS: new_new} if new_new is not None else {})
    return promotion_gate(old, new, compared_to="default", **kw)


@pytest.mark.parametrize(
    ("old_dev", "new_dev", "passed"),
    [
        (70.0, 69.0, True),  # exactly the tolerance: passes
        (70.0, 68.99, False),  # a hundredth beyond it: fails
        (70.0, 75.0, True),
        (70.1, 69.1, True),  # float rounding must not turn -1.0 into -1.0000000001
        (33.33, 32.33, True),
    ],
)
def test_fixed_sets_may_lose_at_most_the_tolerance(old_dev, new_dev, passed):
    d = gate(old_dev, new_dev, 50.0, 60.0)
    assert d.passed is passed
    assert d.sets["dev"].ok is passed and d.sets["dev"].kind == "fixed"
    if not passed:
        assert d.reasons == ["dev: macro-F1 fell 1.01 points, more than the tolerance 1"]


def test_the_tolerance_is_configurable():
    assert gate(70.0, 67.5, 50.0, 60.0, tolerance=2.5).passed
    assert not gate(70.0, 67.4, 50.0, 60.0, tolerance=2.5).passed
    assert not gate(70.0, 69.99, 50.0, 60.0, tolerance=0.0).passed
    assert gate(70.0, 70.0, 50.0, 60.0, tolerance=0.0).passed


@pytest.mark.parametrize(
    ("old_new", "new_new", "min_gain", "passed"),
    [(50.0, 50.0, 0.0, False), (50.0, 50.01, 0.0, True), (50.0, 52.0, 2.0, False), (50.0, 52.01, 2.0, True)],
)
def test_the_new_labels_must_gain_more_than_min_gain(old_new, new_new, min_gain, passed):
    d = gate(70.0, 70.0, old_new, new_new, min_gain=min_gain)
    assert d.passed is passed
    assert d.sets[NEW_LABELS].kind == "new_labels"
    if not passed:
        assert d.reasons[0].startswith(f"{NEW_LABELS}: macro-F1 changed +")


def test_missing_sets_and_an_empty_slice_fail_with_reasons():
    d = promotion_gate({"dev": 70.0, NEW_LABELS: 40.0}, {NEW_LABELS: 60.0})
    assert not d.passed and d.reasons == ["dev: scored for only the old model"]
    d = gate(70.0, 70.0, None, None)
    assert not d.passed
    assert d.reasons == [
        f"{NEW_LABELS}: no held-back new labels to judge by; label more texts (or use --force)"
    ]
    d = promotion_gate({"dev": 70.0}, {"dev": 70.0, NEW_LABELS: 1.0}, rows={NEW_LABELS: 0})
    assert not d.passed


def test_several_failures_are_all_reported_and_the_decision_round_trips():
    d = promotion_gate(
        {"a": 70.0, "b": 60.0, NEW_LABELS: 50.0}, {"a": 60.0, "b": 61.0, NEW_LABELS: 40.0}, compared_to="r1"
    )
    assert not d.passed and len(d.reasons) == 2
    assert [name for name, s in d.sets.items() if not s.ok] == ["a", NEW_LABELS]
    assert GateDecision.from_json(d.to_json()) == d
    text = d.summary()
    assert "promotion gate FAILED against r1" in text and "FAIL a" in text and "ok   b" in text


def test_label_repeats_reach_the_share_within_the_cap():
    assert label_repeats(20_000, 300) == 17
    k = label_repeats(20_000, 300)
    assert 300 * k / (20_000 + 300 * k) >= 0.2 > 300 * (k - 1) / (20_000 + 300 * (k - 1))
    assert label_repeats(20_000, 5) == 50 and label_repeats(20_000, 5, cap=10) == 10
    assert label_repeats(100, 1_000) == 1  # labels already dominate: never below once
    assert label_repeats(0, 10) == 1 and label_repeats(500, 0) == 0
    assert label_repeats(1_000, 10, share=0.0) == 1


def test_the_held_back_slice_is_by_text_and_stable():
    rows = [{"text": f"text {i}", "target": a, "label": "favor"} for i in range(200) for a in ("DNC", "GOP")]
    train, held = split_labels(rows, 0.2)
    assert 40 < len(held) < 120 and len(train) + len(held) == 400
    held_texts = {r["text"] for r in held}
    assert not held_texts & {r["text"] for r in train}  # both actors of a text on the same side
    assert in_held_back_slice("text 7", 0.2) == in_held_back_slice("  text   7 ", 0.2)
    assert rows_hash(train) == rows_hash(list(reversed(train))) != rows_hash(held)


def test_bias_sets_are_judged_beside_the_stance_ones():
    old = {"dev": 70.0, NEW_LABELS: 50.0, "leaning:dev": 60.0, "leaning:new-labels": 40.0}
    new = {"dev": 70.0, NEW_LABELS: 55.0, "leaning:dev": 59.5, "leaning:new-labels": 45.0}
    d = promotion_gate(old, new, rows={"leaning:new-labels": 12})
    assert d.passed and [(k, s.kind) for k, s in d.sets.items()] == [
        ("dev", "fixed"),
        ("leaning:dev", "fixed"),
        (NEW_LABELS, "new_labels"),
        ("leaning:new-labels", "new_labels"),
    ]
    assert "leaning:new-labels" in d.summary() and "(12 rows)" in d.summary()
    # Every slice must gain, and a fixed bias set may lose at most the tolerance.
    d = promotion_gate(old, {**new, "leaning:new-labels": 40.0, "leaning:dev": 58.0})
    assert d.reasons == [
        "leaning:dev: macro-F1 fell 2.00 points, more than the tolerance 1",
        "leaning:new-labels: macro-F1 changed +0.00 points; it must gain more than 0",
    ]
    # A heads-only retrain has no stance slice; a task with labels but none held back fails.
    only = promotion_gate(
        {"leaning:dev": 60.0, "leaning:new-labels": 40.0}, {"leaning:dev": 60.0, "leaning:new-labels": 50.0}
    )
    assert only.passed and NEW_LABELS not in only.sets
    empty = promotion_gate({"leaning:dev": 60.0}, {"leaning:dev": 60.0}, rows={"leaning:new-labels": 0})
    assert not empty.passed and empty.reasons == [
        "leaning:new-labels: no held-back new labels to judge by; label more texts (or use --force)"
    ]
