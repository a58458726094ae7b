"""The cases of issue 13: one actor per entity, mentions by title and pronoun, salience, bad input."""

from pathlib import Path

import pytest
from _cost import assert_linear

from model.actors import ActorRegistry, parse_actor, parse_actors
from model.errors import InvalidInputError
from model.linking import infer_year, link, rank
from model.text import analyse, clean


def _link(text, names, year=2016):
    actors = parse_actors(names)
    return {
        a.name: [(text[m.start : m.end], m.via) for m in ms]
        for a, ms in zip(actors, link(text, actors, year=year), strict=True)
    }


def _discover(text, limit=5):
    cleaned = clean(text)
    return rank(analyse(cleaned), cleaned, limit=limit)


PAGE = (
    "Sanders Wins New Hampshire Primary\n"
    "Browse latest Browse all 35528\n"
    "Now Reading\n"
    "Channel: Politics\n"
    "Bernie Sanders won the New Hampshire primary on Tuesday, beating Hillary Clinton by 22 points. "
    "Sanders said the Democratic Party must listen to young voters. He thanked his volunteers.\n"
    "Democrats worried about turnout. Democratic senators said the race was not over, according to Politico. "
    "Bernie Supporters cheered in Concord.\n"
    "Clinton said she would fight on. Clinton told reporters she was proud of her campaign.\n"
    "The Hill\n"
    "Sanders will campaign in Nevada next week, and Clinton will follow him there.\n"
)


def test_page_furniture_adjectives_groups_and_outlets_are_not_actors():
    found = _discover(PAGE)
    names = [d.actor.name for d in found]
    assert names[:2] == ["Bernie Sanders", "Hillary Clinton"]
    assert "Democratic Party" in names
    for junk in (
        "Browse",
        "Hill",
        "The Hill",
        "Democratic",
        "Democrats",
        "Bernie Supporters",
        "Politico",
        "Channel",
    ):
        assert junk not in names
    scores = [d.score for d in found]
    assert scores == sorted(scores, reverse=True) and all(0 < s <= 1 for s in scores)


def test_party_adjective_noun_and_name_are_one_actor():
    found = link(
        "Democrats met. Democratic senators spoke. The Democratic Party voted.", parse_actors(["Democrats"])
    )
    assert [m.alias for m in found[0]] == ["Democrats", "Democratic", "Democratic Party"]
    assert parse_actor("GOP").name == parse_actor("Republicans").name == "Republican Party"
    # "democratic values" is not the party, nor is the Democratic National Committee.
    assert link(
        "They share democratic values. The Democratic National Committee met.", parse_actors(["Democrats"])
    ) == [[]]


def test_surname_goes_to_the_nearest_full_mention():
    text = (
        "Hillary Clinton campaigned in Ohio. Clinton spoke about jobs.\n"
        "Her husband, Bill Clinton, spoke later. Clinton praised her record.\n"
    )
    found = _link(text, ["Hillary Clinton", "Bill Clinton"])
    hillary = [t for t, via in found["Hillary Clinton"] if via == "name"]
    bill = [t for t, via in found["Bill Clinton"] if via == "name"]
    assert hillary == ["Hillary Clinton", "Clinton"] and bill == ["Bill Clinton", "Clinton"]
    # Only Hillary requested: the "Clinton" after "Bill Clinton" is still not hers.
    alone = _link(text, ["Hillary Clinton"])["Hillary Clinton"]
    assert [t for t, via in alone if via == "name"] == ["Hillary Clinton", "Clinton"]


def test_requested_actors_match_their_common_short_forms():
    text = (
        "Harris spoke first. Harris's plan was praised. Warren's bill passed. Mitch said no. "
        "The UAW went on strike, and workers picketed."
    )
    found = _link(text, ["Kamala Harris", "Elizabeth Warren", "Mitch McConnell", "United Auto Workers"])
    assert [t for t, _ in found["Kamala Harris"]] == ["Harris", "Harris"]
    assert [t for t, _ in found["Elizabeth Warren"]] == ["Warren"]
    assert [t for t, _ in found["Mitch McConnell"]] == ["Mitch"]
    assert [t for t, _ in found["United Auto Workers"]] == ["UAW"]


@pytest.mark.parametrize(
    "name", ["United Auto Workers", "National Education Association", "Young Conservatives"]
)
def test_no_rule_turns_an_organisations_last_word_into_an_alias(name):
    actor = parse_actor(name)
    assert name.split()[-1] not in actor.aliases
    assert link("The workers and the association and the conservatives met.", [actor]) == [[]]
    if len(name.split()) >= 3:
        assert "".join(w[0] for w in name.split()) in actor.aliases  # the abbreviation instead


def test_unknown_people_get_their_surname_but_not_a_suffix():
    assert parse_actor("Benjamin Koellmann").aliases == ("Benjamin Koellmann", "Koellmann")
    assert "Jr." not in parse_actor("Donald Trump Jr.").aliases


def test_registry_titles_need_the_year_they_hold():
    text = "The senator from Vermont spoke. The Vermont senator won. The former secretary of state replied."
    found = _link(text, ["Bernie Sanders", "Hillary Clinton"], year=2016)
    assert found["Bernie Sanders"] == [
        ("The senator from Vermont", "title"),
        ("The Vermont senator", "title"),
    ]
    assert found["Hillary Clinton"] == [("The former secretary of state", "title")]
    assert _link(text, ["Hillary Clinton"], year=2010)["Hillary Clinton"] == []  # still secretary then


def test_the_speaker_only_where_the_date_fixes_who():
    text = "The Speaker refused to schedule a vote."
    assert _link(text, ["Paul Ryan", "Nancy Pelosi"], year=2016) == {
        "Paul Ryan": [("The Speaker", "title")],
        "Nancy Pelosi": [],
    }
    assert _link(text, ["Paul Ryan", "Nancy Pelosi"], year=2020)["Nancy Pelosi"] == [("The Speaker", "title")]
    assert _link(text, ["Paul Ryan", "Nancy Pelosi"], year=None) == {"Paul Ryan": [], "Nancy Pelosi": []}
    assert infer_year("In 2016 the race began. By March 2016 it was over; 2012 was different.") == 2016


def test_role_nouns_and_pronouns_go_to_the_last_compatible_actor_of_the_paragraph():
    text = (
        "Sen. Bernie Sanders met Hillary Clinton. The senator said she was wrong, and he repeated it.\n"
        "The committee met. Sen. Elizabeth Warren arrived later and the senator spoke.\n"
        "The DNC answered that its rules were fair. The committee would not move.\n"
    )
    found = _link(text, ["Bernie Sanders", "Hillary Clinton", "DNC"])
    assert ("The senator", "title") in found["Bernie Sanders"] and ("he", "pronoun") in found[
        "Bernie Sanders"
    ]
    assert ("she", "pronoun") in found["Hillary Clinton"]
    # Warren, named in between, blocks "the senator" of the second paragraph.
    assert [t for t, via in found["Bernie Sanders"] if via == "title"] == ["The senator"]
    dnc = found["Democratic National Committee"]
    assert ("its", "pronoun") in dnc and ("The committee", "title") in dnc
    assert dnc.count(("The committee", "title")) == 1  # the first paragraph's has no committee named


def test_pronouns_inside_quotes_and_after_someone_else_are_left_alone():
    text = 'Bernie Sanders spoke. "He is a liar," said Mr. Smith. Then he left.'
    found = _link(text, ["Bernie Sanders"])["Bernie Sanders"]
    assert found == [("Bernie Sanders", "name")]


def test_predictor_marks_how_each_mention_was_found(tiny_predictor):
    text = (
        "Sen. Bernie Sanders rallied in Iowa on Saturday in 2016.\n"
        + "Voters in the state have heard many speeches this year and they keep coming back for more. " * 12
        + "\nThe senator from Vermont told the crowd that the party had to change, and he meant it."
    )
    r = tiny_predictor.predict([text], ["Bernie Sanders"])[0][0]
    assert r.mentions_via == {"name": 1, "title": 1, "pronoun": 1} and r.mentions == 3
    assert {e.via for e in r.evidence} == {"name", "title"}
    assert r.salience is None
    discovered = tiny_predictor.predict([PAGE])[0]
    assert discovered[0].actor == "Bernie Sanders" and discovered[0].salience > 0


def test_actor_lists_mixing_names_and_descriptions_are_refused():
    with pytest.raises(InvalidInputError) as info:
        parse_actors(["Bernie Sanders", "the senator from Vermont"])
    assert "'the senator from Vermont' is a description of 'Bernie Sanders'" in str(info.value)
    assert "actors[1]" in str(info.value) and "Fix:" in str(info.value)
    with pytest.raises(InvalidInputError, match="looks like a description, not a name"):
        parse_actors(["DNC", "the party chairman"])
    # A name typed in lower case is still a name; an Actor parsed already is taken as it is.
    assert parse_actors(["bernie sanders"])[0].name == "Bernie Sanders"
    parsed = parse_actors(["DNC"])[0]
    assert parse_actors([parsed])[0] is parsed


def test_dataset_targets_that_read_like_descriptions_are_scored_as_training_saw_them(tiny_predictor):
    from training.evaluate import actor_of, predict_rows

    row = {
        "text": "The GOP's Karen Handel won the runoff.",
        "target": "the GOP's Karen Handel",
        "label": "neutral",
    }
    assert actor_of(row).name == "the GOP's Karen Handel"
    probs, _ = predict_rows(tiny_predictor, [row])
    assert probs.shape == (1, 3)


def test_an_alias_that_can_match_nothing_is_named_in_a_warning_and_ignored(caplog):
    with caplog.at_level("WARNING", logger="model.actors"):
        [actor] = parse_actors([{"name": "Bernie Sanders", "aliases": ["Bernie", "!!!"]}])
    assert "!!!" not in actor.aliases and "Bernie" in actor.aliases
    assert "alias '!!!' of 'Bernie Sanders' has no letter or digit" in caplog.text
    assert "actors[0].aliases" in caplog.text


def test_a_malformed_registry_entry_is_named_with_the_fix(tmp_path):
    path = tmp_path / "actors.yaml"
    path.write_text("actors:\n  - name: Ada Lovelace\n    titles: [{text: the countess, years: [1835]}]\n")
    with pytest.raises(InvalidInputError) as info:
        ActorRegistry.from_file(path)
    assert "actors[0] (Ada Lovelace).titles[0]" in str(info.value) and '"years": [2015, 2018]' in str(
        info.value
    )
    path.write_text("actors:\n  - name: Ada Lovelace\n    gender: x\n")
    with pytest.raises(InvalidInputError, match=r"\(Ada Lovelace\)\.gender"):
        ActorRegistry.from_file(path)


def test_overlapping_registry_aliases_warn_naming_both_entries(tmp_path):
    path = tmp_path / "actors.yaml"
    path.write_text(
        "actors:\n  - name: Green Party\n    aliases: [Greens]\n"
        "  - name: Green Alliance\n    aliases: [Greens]\n"
    )
    with pytest.warns(
        UserWarning, match="alias 'greens' of 'Green Alliance' is also a name or alias of 'Green Party'"
    ):
        reg = ActorRegistry.from_file(path)
    assert reg.lookup("Greens").name == "Green Party"


def test_the_shipped_registry_has_no_unexplained_overlap(recwarn):
    import model.actors

    ActorRegistry.from_file(Path(model.actors.__file__).with_name("actors.yaml"))
    assert not [w for w in recwarn if "actor registry" in str(w.message)]


def test_linking_cost_grows_linearly():
    actors = parse_actors(["Bernie Sanders", "Hillary Clinton", "DNC"])
    unit = (
        "Sen. Bernie Sanders met Hillary Clinton. The senator said she was wrong and he left. "
        'Mr. Smith said "he is right." The DNC said its rules hold. Clinton agreed.\n'
    )
    assert_linear(lambda n: unit * n, lambda t: link(t, actors, year=2016), 200)


def test_a_short_text_keeps_the_actors_it_names_once():
    found = _discover("Donald Trump attacked Hillary Clinton at a rally in Ohio on Saturday.")
    assert [d.actor.name for d in found] == ["Donald Trump", "Hillary Clinton"]


def test_an_organisations_head_noun_refers_to_it_text_wide_a_named_modifier_only_nearby():
    text = (
        "The Federal Aviation Administration grounded the jets on Monday.\n"
        "Airlines scrambled to rebook passengers.\n"
        "Pilots' unions welcomed the delay.\n"
        "The agency said the review would take weeks. The administration's order stands.\n"
        "The Trump campaign bought ads. Later the campaign said it plans to appeal.\n"
        "Gov. Jeb Bush spoke in Miami.\n"
        "Mary Smith waited outside.\n"
        "Robert Jones asked about Iowa.\n"
        "The former Florida governor took no questions.\n"
    )
    found = _link(text, ["Federal Aviation Administration", "Trump campaign", "Jeb Bush"])
    faa = [t for t, via in found["Federal Aviation Administration"] if via == "title"]
    assert faa == ["The agency", "The administration"]
    assert ("the campaign", "title") in found["Trump campaign"]
    assert ("it", "pronoun") in found["Trump campaign"]
    # Two paragraphs naming others back, "the former Florida governor" stays unresolved (its modifier
    # names someone: slant cannot check whom).
    assert [t for t, via in found["Jeb Bush"] if via == "title"] == []
    near = _link("Gov. Jeb Bush spoke in Miami. The former Florida governor took no questions.", ["Jeb Bush"])
    assert ("The former Florida governor", "title") in near["Jeb Bush"]


def test_a_us_state_is_a_place_the_state_refers_to():
    text = "Oklahoma sued the drugmaker in 2017. The state's case rested on its nuisance law."
    (state,) = parse_actors(["Oklahoma"])
    assert state.kind == "place"
    found = _link(text, ["Oklahoma"])["Oklahoma"]
    assert ("The state", "title") in found and ("its", "pronoun") in found


def test_they_refers_to_a_party_named_in_the_plural_it_only_before_a_verb():
    text = (
        "Republicans blocked the bill on Tuesday. They said it cost too much, and their leaders agreed.\n"
        "Voters were unhappy. They called their representatives.\n"
        "The DNC met on Monday. It said the rules were fair. It is unclear whether anyone listened.\n"
    )
    found = _link(text, ["Republican Party", "DNC"])
    gop = [t for t, via in found["Republican Party"] if via == "pronoun"]
    assert gop == ["They", "their"]  # the next paragraph's "they" is the voters'
    dnc = [t for t, via in found["Democratic National Committee"] if via == "pronoun"]
    assert dnc == ["It"]  # "It is unclear" is not the committee


def test_someone_named_after_a_capitalised_word_still_blocks_a_pronoun():
    """ "Reporter Mary Smith": the person is found although "Reporter Mary" is tried first."""
    text = "Hillary Clinton spoke in Iowa.\nReporter Mary Smith waited. She said nothing."
    found = _link(text, ["Hillary Clinton"])["Hillary Clinton"]
    assert [t for t, via in found if via == "pronoun"] == []
