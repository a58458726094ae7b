import pytest
from _cost import assert_linear
from hypothesis import given, settings
from hypothesis import strategies as st

from model.actors import ActorRegistry, default_registry, discover, find_mentions, parse_actor, parse_actors
from model.errors import InvalidInputError
from model.text import analyse


def names(text, actor):
    return [text[m.start : m.end] for m in find_mentions(text, actor)]


def test_registry_covers_the_usual_us_actors():
    reg = default_registry()
    for alias, canonical in [
        ("DNC", "Democratic National Committee"),
        ("Bernie", "Bernie Sanders"),
        ("HRC", "Hillary Clinton"),
        ("GOP", "Republican Party"),
        ("RNC", "Republican National Committee"),
        ("Obama", "Barack Obama"),
        ("Biden", "Joe Biden"),
        ("Trump", "Donald Trump"),
        ("Democratic Party", "Democratic Party"),
    ]:
        assert reg.lookup(alias).name == canonical


def test_mentions_respect_exclusions_and_word_boundaries():
    bernie = parse_actor("Bernie Sanders")
    text = "Bernie Sanders spoke. Sarah Sanders replied. #FeelTheBern Sanders's plan. Sandersville is a town."
    assert names(text, bernie) == ["Bernie Sanders", "#FeelTheBern", "Sanders"]
    hillary = parse_actor("Hillary Clinton")
    assert names("Bill Clinton and Hillary met. Clinton spoke.", hillary) == ["Hillary", "Clinton"]


def test_acronyms_match_case_sensitively():
    dnc = parse_actor("DNC")
    assert names("The DNC met; dnc is a typo; DNCs too.", dnc) == ["DNC"]


def test_caller_aliases_and_unknown_people():
    actor = parse_actor({"name": "Koch brothers", "aliases": ["Kochs", "Charles Koch"]})
    assert actor.aliases == ("Koch brothers", "Kochs", "Charles Koch")
    person = parse_actor("Benjamin Koellmann")
    assert person.aliases == ("Benjamin Koellmann", "Koellmann")
    assert parse_actor("Feminist Movement").aliases == ("Feminist Movement",)


def test_duplicate_actors_are_merged():
    actors = parse_actors(["Bernie", "Sanders", {"name": "Bernie Sanders", "aliases": ["Senator Sanders"]}])
    assert [a.name for a in actors] == ["Bernie Sanders"]
    assert "Senator Sanders" in actors[0].aliases


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([], "actor list is empty"),
        ("DNC", "expected a list of actors, found str"),
        ([""], "actor name is empty"),
        ([42], "expected an actor name or an object, found int"),
        ([{"aliases": ["x"]}], "actor needs a string 'name'"),
        ([{"name": "DNC", "alias": ["x"]}], "unknown actor keys ['alias']"),
        (
            [{"name": "DNC", "aliases": "Democratic National Committee"}],
            "expected a list of non-empty strings",
        ),
        (["x"] * 33, "33 actors; the limit is 32"),
        (["Trump\x00"], "actors[0]: actor name contains a NUL character (at character 5) Fix: remove it"),
        (
            [{"name": "DNC", "aliases": ["D\x00NC"]}],
            "actors[0].aliases: actor name contains a NUL character (at character 1)",
        ),
        (
            ["Trump\ud800"],
            "actors[0]: actor name contains an unpaired UTF-16 surrogate (\\ud800) at character 5, "
            "which is not valid Unicode Fix: send the character itself, or its surrogate pair",
        ),
        ([{"name": "DNC", "exclude": ["\udfffx"]}], "unpaired UTF-16 surrogate (\\udfff) at character 0"),
    ],
)
def test_malformed_actor_lists_get_clear_errors(items, message):
    with pytest.raises(InvalidInputError) as info:
        parse_actors(items)
    assert message in str(info.value)


def test_registry_file_can_be_replaced(tmp_path):
    path = tmp_path / "actors.yaml"
    path.write_text("actors:\n  - name: Green Party\n    aliases: [Greens]\n")
    reg = ActorRegistry.from_file(path)
    assert reg.lookup("greens").name == "Green Party"
    assert parse_actor("Greens", registry=reg).name == "Green Party"


def test_discovery_ranks_people_and_organisations():
    text = (
        "Bernie Sanders criticised the Democratic National Committee. Sanders said the DNC was unfair. "
        "Sanders repeated it. Hillary Clinton disagreed."
    )
    found = discover(analyse(text), limit=3)
    assert found[0][0].name == "Bernie Sanders"
    assert {a.name for a, _ in found} >= {"Bernie Sanders", "Democratic National Committee"}


def _reference_mentions(text, actor):
    """find_mentions before it bisected: every match checked against every mention taken (quadratic)."""
    from model.actors import Mention, _alias_pattern

    blocked = [m.span() for ex in actor.exclude for m in _alias_pattern(ex).finditer(text)]
    taken = []
    for alias in sorted(actor.aliases, key=len, reverse=True):
        for m in _alias_pattern(alias).finditer(text):
            s, e = m.span()
            if any(s < be and bs < e for bs, be in blocked) or any(s < t.end and t.start < e for t in taken):
                continue
            taken.append(Mention(s, e, alias))
    return sorted(taken, key=lambda m: m.start)


_WORDS = ["Bernie", "Sanders", "Bernie Sanders", "Sarah Sanders", "Sanders's", "#Bernie", "DNC", "dnc", "x"]
_ACTOR = {"name": "Bernie Sanders", "aliases": ["Bernie", "Sanders", "Bernie Sanders", "Bern"]}


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([*_WORDS, " ", "  ", "\n", ".", "-"]), max_size=30).map("".join))
def test_mentions_are_those_of_the_quadratic_version(text):
    for actor in (parse_actor({**_ACTOR, "exclude": ["Sarah Sanders", "Sanders Bern"]}), parse_actor("DNC")):
        assert find_mentions(text, actor) == _reference_mentions(text, actor)


def test_mention_finding_cost_grows_linearly():
    actor = parse_actor({**_ACTOR, "exclude": ["Sarah Sanders"]})
    assert_linear(
        lambda n: "Sanders and Bernie, Sarah Sanders. " * n, lambda t: find_mentions(t, actor), 1000
    )


def test_discovery_cost_grows_linearly():
    class Ent:
        def __init__(self, text, start):
            self.text, self.label_, self.start_char = text, "PERSON", start

    class Doc:
        def __init__(self, n):
            self.ents = [Ent(f"Joe Name{i}", i) for i in range(n)]

    assert_linear(Doc, lambda doc: discover(doc, limit=5), 1000)
