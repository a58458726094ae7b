import numpy as np
import pytest

from model.aggregate import FEATURES, Aggregator, LogisticAggregator, aggregator_from_json, window_features
from model.errors import ModelLoadError
from training.aggregator import fit_aggregator, fit_features

LABELS = ["against", "neutral", "favor"]
FILLER = "The committee spent the afternoon on procedural matters and a long list of budget items. " * 30


def articles():
    rows = []
    for i in range(12):
        label = LABELS[i % 3]
        mood = {
            "against": "Sanders is a liar and a fraud.",
            "neutral": "Sanders visited a school.",
            "favor": "Sanders is brilliant and kind.",
        }[label]
        rows.append(
            {
                "text": f"Report {i}. {mood} {FILLER} {mood} Later Sanders left.",
                "target": "Bernie Sanders",
                "label": label,
            }
        )
    return rows


def test_window_features_order():
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
    f = window_features(probs, LABELS)
    assert len(f) == len(FEATURES)
    assert np.allclose(f[:3], [0.4, 0.25, 0.35]) and f[3] == 0.7 and f[4] == 0.6 and f[5] == 0.2
    assert np.allclose(f[6:], [0.5, 0.5, 0.7, 0.1])


def test_fit_round_trip_and_label_order(tiny_predictor):
    agg = fit_aggregator(tiny_predictor, articles(), c=1.0, sources=["synthetic"])
    assert agg.info["articles"] == 12 and agg.info["label_counts"] == {"against": 4, "favor": 4, "neutral": 4}
    again = aggregator_from_json(agg.to_json())
    probs = np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])
    out = agg(probs, LABELS)
    assert np.allclose(out, again(probs, LABELS)) and abs(out.sum() - 1) < 1e-9
    # The same numbers come out whatever the model's label order is.
    swapped = ["favor", "neutral", "against"]
    assert np.allclose(agg(probs[:, ::-1], swapped)[::-1], out)


def test_mean_is_the_default_and_unknown_aggregators_fail():
    assert isinstance(aggregator_from_json(None), Aggregator)
    assert np.allclose(Aggregator()(np.array([[1.0, 0, 0], [0, 0, 1.0]]), LABELS), [0.5, 0, 0.5])
    with pytest.raises(ModelLoadError, match="unknown aggregator 'tree'"):
        aggregator_from_json({"type": "tree", "features": []})


def test_predictor_uses_a_fitted_aggregator(tiny_predictor):
    agg = fit_aggregator(tiny_predictor, articles())
    saved = tiny_predictor.aggregator
    try:
        tiny_predictor.aggregator = agg
        res = tiny_predictor.predict([articles()[0]["text"]], ["Bernie Sanders"])[0][0]
        probs, short = tiny_predictor.window_probabilities(articles()[0]["text"], "Bernie Sanders")
        assert not short and res.level == "article"
        expected = agg(probs, tiny_predictor.labels)
        assert np.allclose([res.probabilities[k] for k in tiny_predictor.labels], expected, atol=1e-4)
    finally:
        tiny_predictor.aggregator = saved
    assert isinstance(LogisticAggregator, type)


def test_source_weights_pull_the_fit_toward_that_source(tiny_predictor):
    """Two sources label the same articles differently: the heavier one decides."""
    flip = {"against": "favor", "favor": "against", "neutral": "neutral"}
    a = [{**r, "dataset": "a"} for r in articles()]
    b = [{**r, "label": flip[r["label"]], "dataset": "b"} for r in articles()]
    # Rows too short to be an article are skipped: the weights must follow the rows that are kept.
    short = [{"text": "Sanders won.", "target": "Bernie Sanders", "label": "favor", "dataset": "b"}] * 12
    probs = [tiny_predictor.window_probabilities(r["text"], r["target"])[0] for r in a]

    def agreement_with_b(weights):
        agg = fit_aggregator(tiny_predictor, short + a + b, c=10.0, weights=weights)
        assert agg.info["articles"] == 24
        assert agg.info["weights"] == weights
        predicted = [LABELS[int(np.argmax(agg(p, LABELS)))] for p in probs]
        return sum(p == r["label"] for p, r in zip(predicted, b, strict=True))

    assert agreement_with_b({"b": 50.0}) > agreement_with_b({"a": 50.0})


def test_aggregator_weights_must_name_a_source():
    from pydantic import ValidationError

    from training.config import AggregatorConfig

    data = [{"name": "persent-dev-a", "path": "persent/persent.jsonl"}]
    assert AggregatorConfig(data=data, weights={"persent-dev-a": 0.5, "labels": 2}).weights["labels"] == 2
    assert AggregatorConfig(data=data, weights=None).weights == {}  # `weights: null` in a child config
    with pytest.raises(ValidationError, match="names 'persent-a', which is not an aggregator.data source"):
        AggregatorConfig(data=data, weights={"persent-a": 0.5})
    with pytest.raises(ValidationError, match="must be above 0"):
        AggregatorConfig(data=data, weights={"persent-dev-a": 0})


def test_from_features_matches_the_per_article_call_in_any_class_order():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(6, len(FEATURES)))
    gold = ["favor", "against", "neutral", "favor", "against", "neutral"]
    agg = fit_features(x, gold, [{}] * 6, LABELS, c=1.0)
    assert agg.classes != LABELS  # scikit-learn sorts its classes: the columns must be reordered
    batch = agg.from_features(x, LABELS)
    for row, p in zip(x, batch, strict=True):
        logits = agg.coef @ ((row - agg.mean) / agg.scale) + agg.intercept
        direct = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
        assert np.allclose(p, [direct[agg.classes.index(k)] for k in LABELS])
    assert np.allclose(batch.sum(axis=1), 1.0)
