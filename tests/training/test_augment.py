import json

from faker.providers.person.en_US import Provider

from model.actors import find_mentions
from model.windows import MARKED, WindowBuilder, row_actor
from training.augment import NameSwapper
from training.config import DatasetSpec
from training.data import load_rows

HRC = "Hillary Clinton"
TRUMP = {
    "text": (
        "Trump was right to pull the convention. President Trump owed Charlotte nothing, and TRUMP knew it."
    ),
    "target": "Donald Trump",
    "label": "favor",
    "kind": "angry_defence",
}


def test_every_name_form_of_the_target_is_renamed_and_the_label_kept():
    out = NameSwapper().swap(TRUMP, "s:1")
    assert out is not None
    first, last = out["target"].split()
    assert "Trump" not in out["text"] and "TRUMP" not in out["text"]
    assert out["text"] == (
        f"{last} was right to pull the convention. President {last} owed Charlotte nothing, "
        f"and {last.upper()} knew it."
    )
    assert (out["label"], out["kind"]) == ("favor", "angry_defence")
    # The renamed row is read as the original was: every name mention found, and marked.
    assert len(find_mentions(out["text"], row_actor(out))) == 3
    window = WindowBuilder(lambda t: True, fmt=MARKED).whole(
        out["text"], find_mentions(out["text"], row_actor(out))
    )
    assert window.count("[TGT]") == 3


def test_gender_is_kept_and_names_are_deterministic_per_seed():
    row = {"text": "Hillary deserved better, and Clinton knows it.", "target": HRC, "label": "favor"}
    swapper = NameSwapper()
    a, b, c = swapper.swap(row, "x"), swapper.swap(row, "x"), swapper.swap(row, "y")
    assert a == b and a is not None and c is not None and a["target"] != c["target"]
    first, last = a["target"].split()
    assert a["text"] == f"{first} deserved better, and {last} knows it."
    assert first in Provider.first_names_female


def test_rows_that_cannot_be_renamed_are_refused():
    swapper = NameSwapper()
    # Not a person: an organisation, a topic.
    assert swapper.swap({"text": "The DNC did well.", "target": "DNC", "label": "favor"}, "s") is None
    assert swapper.swap({"text": "Ban guns now.", "target": "gun control", "label": "favor"}, "s") is None
    # A nickname that has no made-up counterpart.
    assert swapper.swap({"text": "HRC lost again.", "target": HRC, "label": "against"}, "s") is None
    # A person the text never names.
    assert swapper.swap({"text": "She lost again.", "target": HRC, "label": "against"}, "s") is None


def test_descriptions_stay_and_row_aliases_follow_the_new_name():
    row = {
        "text": "Sanders spoke for an hour. The Vermont senator got a standing ovation.",
        "target": "Bernie Sanders",
        "aliases": ["Sanders", "the Vermont senator"],
        "label": "neutral",
    }
    out = NameSwapper().swap(row, "d")
    assert out is not None
    last = out["target"].split()[-1]
    assert out["text"] == f"{last} spoke for an hour. The Vermont senator got a standing ovation."
    assert last in out["aliases"] and "Sanders" not in out["aliases"]


def test_spec_swap_names_renames_person_rows_only(tmp_path):
    path = tmp_path / "d.jsonl"
    rows = [TRUMP, {"text": "The DNC apologised.", "target": "DNC", "label": "neutral"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    plain = load_rows(DatasetSpec(name="d", path=str(path)), "/")
    swapped = load_rows(DatasetSpec(name="d", path=str(path), swap_names=True), "/")
    again = load_rows(DatasetSpec(name="d", path=str(path), swap_names=True), "/")
    assert plain[0]["target"] == "Donald Trump" and swapped[0]["target"] != "Donald Trump"
    assert swapped == again  # deterministic: the same mix every run
    assert swapped[1] == plain[1]
    assert [r["label"] for r in swapped] == [r["label"] for r in plain]
