"""The shipped default model, end to end. Marked slow: it loads the real MiniLM weights."""

import pytest
from conftest import DEFAULT_MODEL, needs_data, needs_default_model

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def predictor():
    from model import StancePredictor

    needs_default_model()
    return StancePredictor.load(DEFAULT_MODEL, device="cpu")


def test_model_directory_is_self_describing(predictor):
    meta = predictor.meta
    assert meta.labels == ["against", "neutral", "favor"]
    assert meta.base_model == "sentence-transformers/all-MiniLM-L6-v2"
    assert meta.aggregator and meta.aggregator["type"] == "logistic"
    assert meta.training_config["name"] == meta.name
    assert {"semeval2016a", "pstance", "newsmtsc", "vast"} <= set(meta.data_hashes)
    assert "persent-dev-b" in meta.metrics["dev"]
    assert (DEFAULT_MODEL / "README.md").exists() and (DEFAULT_MODEL / "eval_report.json").exists()


def test_real_article_end_to_end(predictor):
    from service.cli import DEMO_ARTICLE

    text = DEMO_ARTICLE.read_text(encoding="utf-8")
    results = predictor.predict([text], ["Bernie Sanders", "DNC", "Hillary Clinton", "Donald Trump"])[0]
    by = {r.actor: r for r in results}
    assert by["Donald Trump"].status == "not_mentioned"
    for name in ("Bernie Sanders", "Democratic National Committee", "Hillary Clinton"):
        r = by[name]
        assert r.status == "scored" and r.level == "article" and r.mentions >= 3
        assert abs(sum(r.probabilities.values()) - 1) < 1e-3
        for ev in r.evidence:
            assert text[ev.start : ev.end] == ev.text
    # The comment section ("Bernie is a fraud lol") is boilerplate, never evidence.
    assert all("fraud" not in ev.text for r in results for ev in r.evidence)
    discovered = [r.actor for r in predictor.predict([text])[0]]
    assert "Bernie Sanders" in discovered[:2]


@pytest.mark.parametrize(
    ("text", "actor", "label"),
    [
        (
            "Bernie Sanders is the most honest man in Washington and he has my vote. #FeelTheBern",
            "Bernie Sanders",
            "favor",
        ),
        (
            "Donald Trump is a dangerous liar who must never be allowed near the White House again.",
            "Donald Trump",
            "against",
        ),
        (
            "I am furious at the smears: Bernie Sanders is the only one fighting for working people!",
            "Bernie Sanders",
            "favor",
        ),
    ],
)
def test_clear_sentences(predictor, text, actor, label):
    assert predictor.predict([text], [actor])[0][0].label == label


def test_pstance_dev_slice_is_far_above_chance(predictor):
    from training.config import DatasetSpec
    from training.data import load_rows
    from training.evaluate import evaluate_rows

    needs_data("pstance", "pstance.jsonl")
    rows = load_rows(
        DatasetSpec(name="p", path="pstance/pstance.jsonl", where={"split": "val"}, max_rows=200),
        str(needs_data()),
    )
    report = evaluate_rows(predictor, rows, "pstance-dev-slice")
    assert report["f_avg"] > 65, report
