"""The one window builder: markers, reading order, old models, training pairs equal serving windows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from model import ModelLoadError, StancePredictor
from model.actors import parse_actors
from model.text import analyse, clean
from model.windows import MARKED, PLAIN, WindowBuilder, compact, mark
from tests.conftest import build_tiny_model_dir


@pytest.fixture(scope="module")
def marked_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model_dir(tmp_path_factory.mktemp("marked") / "model", window_format=2)


@pytest.fixture(scope="module")
def marked(marked_dir: Path) -> StancePredictor:
    return StancePredictor.load(marked_dir, device="cpu", backend="torch")


def test_mark_wraps_each_span_and_keeps_the_rest() -> None:
    assert compact(mark("Sanders met Clinton.", [(12, 19), (0, 7)])) == (
        "[TGT] Sanders [/TGT] met [TGT] Clinton [/TGT] ."
    )
    assert mark("no mention", []) == "no mention"


def test_format_two_marks_only_the_requested_actor(marked: StancePredictor) -> None:
    text = "Clinton thanked Sanders. Sanders said the DNC was unfair."
    plan = marked._plan(text, parse_actors(["Bernie Sanders"]), 1, False, clean(text), analyse(clean(text)))
    assert [w.text for w in plan.windows] == [
        "Clinton thanked [TGT] Sanders [/TGT] . [TGT] Sanders [/TGT] said the DNC was unfair."
    ]
    ids = marked.tokenizer("Bernie Sanders", plan.windows[0].text)["input_ids"]
    opener = marked.tokenizer.convert_tokens_to_ids("[TGT]")
    assert ids.count(opener) == 2  # one token each, never split into word pieces


def test_format_two_article_windows_keep_reading_order(marked: StancePredictor, article: str) -> None:
    cleaned = clean(article)
    plan = marked._plan(article, parse_actors(["DNC"]), 1, False, cleaned, analyse(cleaned))
    assert not plan.short and plan.windows
    first = plan.windows[0]
    assert first.text.startswith("Sanders praised the volunteers")  # the sentence before comes first
    assert "[TGT] Democratic National Committee [/TGT] declined" in first.text
    assert "Hillary Clinton" in first.text and "[TGT] Hillary" not in first.text


def test_old_models_read_plain_windows_focus_first(tiny_predictor: StancePredictor, article: str) -> None:
    assert tiny_predictor.meta.window_format == PLAIN
    cleaned = clean(article)
    plan = tiny_predictor._plan(article, parse_actors(["DNC"]), 1, False, cleaned, analyse(cleaned))
    assert plan.windows[0].text.startswith("The Democratic National Committee declined")
    assert all("[TGT]" not in w.text for w in plan.windows)
    assert tiny_predictor.predict([article], ["DNC"])[0][0].status == "scored"


def test_training_pairs_are_the_serving_windows(marked: StancePredictor, article: str) -> None:
    """What the model is trained on is built by the very code that serves: short rows and articles."""
    rows = [
        {"text": "Sanders is right about the DNC.", "target": "Bernie Sanders", "label": "favor"},
        {"text": article, "target": "DNC", "label": "neutral"},
        {"text": "Nobody named here.", "target": "Hillary Clinton", "label": "neutral"},
    ]
    pairs = marked.windows.examples(rows)
    served = []
    for r in rows:
        c = clean(r["text"])
        plan = marked._plan(r["text"], parse_actors([r["target"]]), 1, True, c, analyse(c))
        served += [(plan.actors[w.actor].name, w.text) for w in plan.windows]
    assert [(p["target"], p["text"]) for p in pairs] == served
    assert {p["label"] for p in pairs[1:-1]} == {"neutral"}  # an article label teaches every window
    assert pairs[0]["text"] == "[TGT] Sanders [/TGT] is right about the DNC."


def test_row_aliases_are_marked_and_long_topics_are_kept() -> None:
    builder = WindowBuilder(lambda t: len(t) < 500, fmt=MARKED)
    rows = [
        {
            "text": "The Fed held rates.",
            "target": "Federal Reserve",
            "aliases": ["the Fed"],
            "label": "neutral",
        },
        {"text": "A long topic.", "target": "x" * 250, "label": "neutral"},
    ]
    out = builder.examples(rows)
    assert out[0]["text"] == "[TGT] The Fed [/TGT] held rates."
    assert out[1]["target"] == "x" * 250 and "aliases" not in out[0]


def _rewrite_meta(path: Path, **changes: object) -> None:
    meta = json.loads((path / "slant.json").read_text())
    meta.update(changes)
    (path / "slant.json").write_text(json.dumps(meta))


def test_marked_format_without_marker_tokens_names_the_fix(tmp_path: Path) -> None:
    d = build_tiny_model_dir(tmp_path / "m")
    _rewrite_meta(d, window_format=2)
    with pytest.raises(
        ModelLoadError, match=r"window format 2 .* lacks \['\[TGT\]', '\[/TGT\]'\].*slant train"
    ):
        StancePredictor.load(d, device="cpu", backend="torch")


def test_unknown_window_format_asks_for_an_upgrade(tmp_path: Path) -> None:
    d = build_tiny_model_dir(tmp_path / "m")
    _rewrite_meta(d, window_format=9)
    with pytest.raises(ModelLoadError, match=r"window format 9.*upgrade slant"):
        StancePredictor.load(d, device="cpu", backend="torch")


def test_temperature_softens_without_changing_labels(tmp_path: Path) -> None:
    d = build_tiny_model_dir(tmp_path / "m", seed=3)
    texts = ["Sanders won big.", "Clinton lost Iowa.", "The DNC met."]
    plain = StancePredictor.load(d, device="cpu", backend="torch")
    before = plain.score_pairs(["Bernie Sanders"] * 3, texts)
    _rewrite_meta(d, calibration={"temperature": 4.0})
    hot = StancePredictor.load(d, device="cpu", backend="torch")
    after = hot.score_pairs(["Bernie Sanders"] * 3, texts)
    assert hot.temperature == 4.0
    assert (before.argmax(1) == after.argmax(1)).all()
    assert np.all(after.max(1) < before.max(1))
    expected = np.exp(np.log(before) / 4.0)
    np.testing.assert_allclose(after, expected / expected.sum(1, keepdims=True), atol=1e-6)


@pytest.mark.parametrize("bad", [0, -1.5, "hot", float("nan")])
def test_a_bad_temperature_is_refused_at_load(tmp_path: Path, bad: object) -> None:
    d = build_tiny_model_dir(tmp_path / "m")
    meta = json.loads((d / "slant.json").read_text())
    meta["calibration"] = {"temperature": bad}
    (d / "slant.json").write_text(json.dumps(meta).replace("NaN", "NaN"))
    with pytest.raises(ModelLoadError, match="calibration temperature .* must be a positive number"):
        StancePredictor.load(d, device="cpu", backend="torch")
