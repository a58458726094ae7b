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
    from service.cli.predict import DEMO_ARTICLE

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


def test_shipped_bias_heads_fit_the_shipped_encoder(predictor):
    """The heads in models/default/bias load (their encoder hash matches) and read a real article."""
    assert set(predictor.heads) == {"leaning", "hyperpartisan"}
    for head in predictor.heads.values():
        assert head.encoder == predictor.encoder_hash
        assert head.info["dev"]["n"] > 0
    article = (
        "Senator Bernie Sanders told a rally in Iowa that the Democratic National Committee must stay "
        "neutral. Supporters cheered as he promised to fight for working families and Medicare for All. "
        "Hillary Clinton's campaign said it welcomed the debates and looked forward to the primary."
    )
    [a] = predictor.analyze([article], ["Bernie Sanders"])
    assert a.bias is not None and a.bias.leaning is not None
    assert a.bias.leaning.label in ("left", "center", "right")
    assert a.bias.hyperpartisan is not None and 0.0 <= a.bias.hyperpartisan <= 1.0
    assert a.bias.loaded_language is None  # the AGPL head is opt-in


def test_optional_loaded_language_head_loads_on_the_default_model():
    from model import StancePredictor

    p = StancePredictor.load(DEFAULT_MODEL, heads=[DEFAULT_MODEL.parent / "loaded-language-babe"])
    assert "AGPL" in p.heads["loaded_language"].licence
    [a] = p.analyze(["The senator's outrageous, reckless scheme would destroy the economy."], ["economy"])
    assert a.bias is not None and a.bias.loaded_language is not None
    assert a.bias.loaded_language.scored == 1
