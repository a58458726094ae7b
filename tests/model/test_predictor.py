import numpy as np
import pytest

from model import InvalidInputError


def test_result_fields_and_evidence_offsets(tiny_predictor, article):
    res = tiny_predictor.predict([article], ["Bernie Sanders", "DNC", "Donald Trump"])[0]
    by = {r.actor: r for r in res}
    assert list(by) == ["Bernie Sanders", "Democratic National Committee", "Donald Trump"]
    bernie = by["Bernie Sanders"]
    assert bernie.status == "scored" and bernie.level == "article"
    # Headline, dateline sentence, two more, and "his campaign"; the comment section is ignored.
    assert bernie.mentions == 5 and bernie.mentions_via == {"name": 4, "title": 0, "pronoun": 1}
    assert set(bernie.aliases_matched) == {"Bernie Sanders", "Sanders"}
    assert bernie.label in {"against", "neutral", "favor"}
    assert abs(sum(bernie.probabilities.values()) - 1) < 1e-3
    assert 1 <= len(bernie.evidence) <= 3
    for ev in bernie.evidence:
        assert article[ev.start : ev.end] == ev.text
        assert "Sanders" in ev.text or "Bernie" in ev.text
    assert by["DNC" if "DNC" in by else "Democratic National Committee"].mentions == 3


def test_unmentioned_actor_is_not_guessed(tiny_predictor, article):
    trump = tiny_predictor.predict([article], ["Donald Trump"])[0][0]
    assert (trump.status, trump.label, trump.probabilities, trump.evidence) == (
        "not_mentioned",
        None,
        None,
        [],
    )
    scored = tiny_predictor.predict([article], ["Donald Trump"], score_unmentioned=True)[0][0]
    assert scored.status == "scored_unmentioned" and scored.label is not None


def test_short_text_is_scored_whole(tiny_predictor):
    text = "Bernie is the only honest one here #FeelTheBern"
    res = tiny_predictor.predict([text], ["Bernie Sanders"])[0][0]
    assert res.level == "sentence" and res.windows == 1
    assert res.evidence[0].text == text and (res.evidence[0].start, res.evidence[0].end) == (0, len(text))
    direct = tiny_predictor.score_pairs(["Bernie Sanders"], [text])[0]
    assert np.allclose([res.probabilities[lab] for lab in tiny_predictor.labels], direct, atol=1e-4)


def test_batched_equals_single(tiny_predictor, article):
    texts = [article, "Clinton lied. #Benghazi", "The DNC met in Philadelphia on Monday.", article[:400]]
    actors = ["Hillary Clinton", "DNC", "Bernie Sanders"]
    together = tiny_predictor.predict(texts, actors)
    for text, expected in zip(texts, together, strict=True):
        alone = tiny_predictor.predict([text], actors)[0]
        for a, b in zip(alone, expected, strict=True):
            assert a.label == b.label and a.mentions == b.mentions
            if a.probabilities:
                assert all(abs(a.probabilities[k] - b.probabilities[k]) < 1e-3 for k in a.probabilities)


def test_long_article_uses_windows_past_512_tokens(tiny_predictor):
    filler = "The council discussed the budget for the coming year at length. " * 80
    text = "Bernie Sanders arrived early. " + filler + "Late in the meeting, Sanders spoke about wages."
    res = tiny_predictor.predict([text], ["Bernie Sanders"])[0][0]
    assert res.windows == 2 and res.mentions == 2
    assert any("Late in the meeting" in e.text for e in res.evidence)


def test_window_budget_spreads_over_the_article(tiny_predictor):
    text = " ".join(f"Sanders said thing number {i} about the economy and the weather." for i in range(60))
    res = tiny_predictor.predict([text], ["Bernie Sanders"])[0][0]
    assert res.mentions == 60 and res.windows == tiny_predictor.max_windows


def test_discovery_when_no_actors_are_given(tiny_predictor, article):
    res = tiny_predictor.predict([article])[0]
    assert res[0].actor == "Bernie Sanders"
    assert {"Democratic National Committee", "Hillary Clinton"} <= {r.actor for r in res}
    assert all(r.status == "scored" for r in res)


def test_per_text_actors(tiny_predictor, article):
    res = tiny_predictor.predict([article, "Trump is wrong."], per_text_actors=[["DNC"], ["Donald Trump"]])
    assert [r.actor for r in res[0]] == ["Democratic National Committee"]
    assert [r.actor for r in res[1]] == ["Donald Trump"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"texts": "just a string"}, "expected a list of texts, found a single string"),
        ({"texts": [""]}, "texts[0]: text is empty"),
        ({"texts": ["ok", b"\xc3\x28"]}, "texts[1]: text is not valid UTF-8"),
        ({"texts": ["ok"], "actors": []}, "actor list is empty"),
        ({"texts": ["ok"], "actors": [{"nom": "x"}]}, "unknown actor keys"),
        ({"texts": ["ok", "ok"], "per_text_actors": [["DNC"]]}, "per_text_actors has 1 entries for 2 texts"),
    ],
)
def test_bad_input_is_rejected_before_the_model_runs(tiny_predictor, kwargs, message):
    with pytest.raises(InvalidInputError) as info:
        tiny_predictor.predict(**kwargs)
    assert message in str(info.value)
