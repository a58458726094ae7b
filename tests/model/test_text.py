import pytest

from model.errors import InputTooLargeError, InvalidInputError
from model.text import MAX_TEXT_CHARS, analyse, check_text, clean, sentences


def test_clean_keeps_offsets_and_masks_boilerplate():
    text = (
        "<html><head><script>var ad = 1;</script></head><body><p>Sanders won Iowa.</p>\n"
        "Advertisement\nSponsored Links\nThe DNC congratulated him &amp; his staff.\n"
        "Share this:\nFacebook\n"
        + "Filler sentence about the weather. " * 20
        + "\nLeave a Reply\nBernie sucks lol"
    )
    out = clean(text)
    assert len(out) == len(text)
    for gone in (
        "script",
        "Advertisement",
        "Sponsored",
        "Share this",
        "Facebook",
        "Leave a Reply",
        "Bernie sucks",
    ):
        assert gone not in out
    assert "Sanders won Iowa." in out and out.index("Sanders won Iowa.") == text.index("Sanders won Iowa.")


def test_clean_keeps_prose_that_starts_like_boilerplate():
    prose = (
        "Subscribe to the idea that Sanders is right, and the rest of this long sentence follows on from it."
    )
    assert clean(prose) == prose


def test_sentences_have_offsets_into_the_text():
    text = "Headline about Clinton\nClinton spoke today. She said little."
    sents = sentences(analyse(clean(text)))
    assert [s.text for s in sents] == ["Headline about Clinton", "Clinton spoke today.", "She said little."]
    assert all(text[s.start : s.end] == s.text for s in sents)


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        ("", InvalidInputError, "empty or only whitespace"),
        ("   \n\t", InvalidInputError, "empty or only whitespace"),
        (b"\xff\xfeabc", InvalidInputError, "not valid UTF-8 (bad byte 0xff at position 0)"),
        (42, InvalidInputError, "expected a string, found int"),
        ("a\x00b", InvalidInputError, "NUL bytes"),
        ("x" * (MAX_TEXT_CHARS + 1), InputTooLargeError, f"the limit is {MAX_TEXT_CHARS:,}"),
    ],
)
def test_check_text_rejects_bad_input_with_a_fix(value, error, message):
    with pytest.raises(error) as info:
        check_text(value)
    assert message in str(info.value)
    assert "Fix:" in str(info.value)


def test_check_text_decodes_utf8_bytes():
    assert check_text("Café Sanders".encode()) == "Café Sanders"


def test_clean_docstring_examples_hold():
    import doctest

    import model.text

    assert doctest.testmod(model.text).failed == 0
