"""Bias heads on the tiny model: shapes, offsets, one pass shared with stance, loading errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from model import Analysis, StancePredictor
from model.bias import BiasHead, load_head
from model.errors import InvalidInputError, ModelLoadError


def test_analyze_returns_every_head(tiny_bias_predictor: StancePredictor, article: str) -> None:
    [a] = tiny_bias_predictor.analyze([article], ["Bernie Sanders", "DNC"])
    assert isinstance(a, Analysis)
    assert [s.actor for s in a.stance] == ["Bernie Sanders", "Democratic National Committee"]
    bias = a.bias
    assert bias is not None and bias.sentences > 0
    assert bias.leaning is not None and bias.leaning.label in ("left", "center", "right")
    assert sum(bias.leaning.probabilities.values()) == pytest.approx(1.0, abs=1e-3)
    assert bias.hyperpartisan is not None and 0.0 <= bias.hyperpartisan <= 1.0
    loaded = bias.loaded_language
    assert loaded is not None and loaded.scored == bias.sentences
    for s in loaded.sentences:
        assert article[s.start : s.end] == s.text
        assert s.probability >= loaded.threshold
    assert a.to_dict()["bias"]["loaded_language"]["share"] == loaded.share


def test_boilerplate_is_not_read_by_the_bias_heads(
    tiny_bias_predictor: StancePredictor, article: str
) -> None:
    [a] = tiny_bias_predictor.analyze([article], ["DNC"])
    assert a.bias is not None and a.bias.loaded_language is not None
    texts = {s.text for s in a.bias.loaded_language.sentences}
    assert not any("Leave a Reply" in t or "Advertisement" in t for t in texts)


def test_stance_is_the_same_with_and_without_bias(tiny_bias_predictor: StancePredictor, article: str) -> None:
    texts = [article, "Hillary Clinton spoke. The DNC listened."]
    plain = tiny_bias_predictor.predict(texts, ["DNC", "Hillary Clinton"])
    both = tiny_bias_predictor.analyze(texts, ["DNC", "Hillary Clinton"])
    for p, a in zip(plain, both, strict=True):
        for x, y in zip(p, a.stance, strict=True):
            assert x.label == y.label
            if x.probabilities:
                assert y.probabilities is not None
                for k, v in x.probabilities.items():
                    assert y.probabilities[k] == pytest.approx(v, abs=1e-3)


def test_bias_false_and_no_heads_give_none(
    tiny_bias_predictor: StancePredictor, tiny_predictor: StancePredictor
) -> None:
    assert tiny_bias_predictor.analyze(["The DNC met."], ["DNC"], bias=False)[0].bias is None
    assert tiny_predictor.heads == {}
    assert tiny_predictor.analyze(["The DNC met."], ["DNC"])[0].bias is None


def test_sentence_features_match_the_analyze_pass(tiny_bias_predictor: StancePredictor) -> None:
    text = "The DNC met on Monday. Sanders spoke at length about the debates."
    [feats] = tiny_bias_predictor.sentence_features([text])
    assert feats.shape == (2, tiny_bias_predictor.model.config.hidden_size)
    head = tiny_bias_predictor.heads["hyperpartisan"]
    [a] = tiny_bias_predictor.analyze([text], ["DNC"])
    assert a.bias is not None
    assert a.bias.hyperpartisan == pytest.approx(
        float(head.score(feats[: head.lead_sentences].mean(0)[None])[0]), abs=1e-3
    )


def test_head_round_trip(tmp_path: Path, tiny_bias_predictor: StancePredictor) -> None:
    head = tiny_bias_predictor.heads["leaning"]
    copy = load_head(head.save(tmp_path / "leaning"))
    x = np.random.default_rng(0).normal(size=(3, head.mean.shape[0])).astype(np.float32)
    np.testing.assert_allclose(copy.probabilities(x), head.probabilities(x), rtol=1e-6)
    assert copy.labels == head.labels and copy.encoder == head.encoder


def test_head_from_another_encoder_is_refused(tmp_path: Path, tiny_bias_model_dir: tuple[Path, Path]) -> None:
    _, loaded = tiny_bias_model_dir
    head = load_head(loaded)
    head.encoder = "0123456789abcdef"
    head.save(tmp_path / "stale")
    with pytest.raises(ModelLoadError, match="fitted on encoder 0123456789abcdef.*slant fit-bias"):
        StancePredictor.load(
            tiny_bias_model_dir[0], heads=[tmp_path / "stale"], backend="torch", device="cpu"
        )


def test_not_a_head_directory(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="is not a bias head directory"):
        load_head(tmp_path)


def test_broken_head_file(tmp_path: Path, tiny_bias_model_dir: tuple[Path, Path]) -> None:
    shutil.copytree(tiny_bias_model_dir[1], tmp_path / "h")
    (tmp_path / "h" / "head.json").write_text('{"task": "leaning"}')
    with pytest.raises(ModelLoadError, match="cannot read the bias head"):
        load_head(tmp_path / "h")


def test_env_adds_heads(monkeypatch: pytest.MonkeyPatch, tiny_bias_model_dir: tuple[Path, Path]) -> None:
    model_dir, loaded = tiny_bias_model_dir
    monkeypatch.setenv("SLANT_HEADS", str(loaded))
    p = StancePredictor.load(model_dir, backend="torch", device="cpu")
    assert set(p.heads) == {"leaning", "hyperpartisan", "loaded_language"}


def test_binary_head_score(tiny_bias_predictor: StancePredictor) -> None:
    head: BiasHead = tiny_bias_predictor.heads["hyperpartisan"]
    x = np.zeros((1, head.mean.shape[0]), np.float32)
    assert head.score(x)[0] == pytest.approx(head.probabilities(x)[0, 1])
    with pytest.raises(ValueError, match="not binary"):
        tiny_bias_predictor.heads["leaning"].score(x)


def test_bias_only(tiny_bias_predictor: StancePredictor, article: str) -> None:
    [a] = tiny_bias_predictor.analyze([article], stance=False)
    assert a.stance == [] and a.bias is not None and a.bias.leaning is not None
    [b] = tiny_bias_predictor.analyze([article], ["DNC"])
    assert b.bias is not None and a.bias.leaning.probabilities == pytest.approx(
        b.bias.leaning.probabilities, abs=1e-3
    )
    with pytest.raises(InvalidInputError, match="actors were given with stance=False"):
        tiny_bias_predictor.analyze([article], ["DNC"], stance=False)


def test_a_stale_extra_head_can_be_left_out_instead(
    tmp_path: Path, tiny_bias_model_dir: tuple[Path, Path]
) -> None:
    model_dir, loaded = tiny_bias_model_dir
    head = load_head(loaded)
    head.encoder = "0123456789abcdef"
    head.save(tmp_path / "stale")
    p = StancePredictor.load(
        model_dir, heads=[tmp_path / "stale"], skip_stale_heads=True, backend="torch", device="cpu"
    )
    assert set(p.heads) == {"leaning", "hyperpartisan"}
    assert len(p.skipped_heads) == 1 and "0123456789abcdef" in p.skipped_heads[0]
    # The model's own heads are never skipped: a model directory must be consistent.
    own = tmp_path / "model"
    shutil.copytree(model_dir, own)
    bad = load_head(own / "bias" / "leaning")
    bad.encoder = "0123456789abcdef"
    bad.save(own / "bias" / "leaning")
    with pytest.raises(ModelLoadError, match="fitted on encoder 0123456789abcdef"):
        StancePredictor.load(own, heads=[], skip_stale_heads=True, backend="torch", device="cpu")
