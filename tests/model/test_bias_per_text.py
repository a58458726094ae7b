"""``analyze(bias=[...])``: one bias flag per text (the service's micro-batcher mixes texts that
want bias with texts that do not, in one forward pass)."""

from __future__ import annotations

import pytest

from model import InvalidInputError, StancePredictor


def test_one_flag_per_text(tiny_bias_predictor: StancePredictor, article: str) -> None:
    texts = [article, "Hillary Clinton spoke. The DNC listened.", "The DNC met on Monday."]
    mixed = tiny_bias_predictor.analyze(texts, ["DNC"], bias=[True, False, True])
    assert [a.bias is None for a in mixed] == [False, True, False]
    every = tiny_bias_predictor.analyze(texts, ["DNC"])
    for m, e in zip(mixed, every, strict=True):
        for x, y in zip(m.stance, e.stance, strict=True):
            assert x.status == y.status and x.mentions == y.mentions
            for k, v in (y.probabilities or {}).items():
                assert x.probabilities is not None and x.probabilities[k] == pytest.approx(v, abs=1e-3)
        if m.bias is not None:
            assert e.bias is not None and m.bias.sentences == e.bias.sentences
            assert m.bias.hyperpartisan == pytest.approx(e.bias.hyperpartisan, abs=1e-3)


def test_flags_must_match_the_texts(tiny_bias_predictor: StancePredictor) -> None:
    with pytest.raises(InvalidInputError, match="bias has 1 flags for 2 texts") as err:
        tiny_bias_predictor.analyze(["The DNC met.", "Sanders spoke."], bias=[True])
    assert err.value.field == "bias"


def test_all_false_is_bias_off(tiny_bias_predictor: StancePredictor) -> None:
    found = tiny_bias_predictor.analyze(["The DNC met.", "Sanders spoke."], ["DNC"], bias=[False, False])
    assert [a.bias for a in found] == [None, None]
