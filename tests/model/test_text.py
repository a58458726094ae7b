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


# Furniture lines seen on real pages (Article-Bias-Prediction, SemEval-2019 hyperpartisan, scraped blogs).
_SEED_FURNITURE = [
    "Browse latest Browse all 35528",
    "Now Reading",
    "Channel: Politics",
    "By Jane Doe and JOHN ROE, Reuters",
    "Enlarge this image toggle caption Brendan Smialowski/AFP/Getty Images Brendan Smialowski/AFP",
    "Story Continued Below",
    "Sign up for Daily Newsletters Manage Newsletters",
    "Copyright © 2019 The Washington Times, LLC. Click here for reprint permission.",
    "Media playback is unsupported on your device Media caption Sanders speaks in Iowa",
    "More: Trump to sign border security bill",
    "Follow USA TODAY's Ryan Miller on Twitter @RyanW_Miller",
    "1,234 shares",
    "1.2k views",
    "Updated at 12:32 p.m.",
    "(stock photo)",
]


@pytest.mark.parametrize("line", _SEED_FURNITURE)
def test_clean_masks_furniture_lines_of_real_pages(line):
    text = f"Sanders won Iowa.\n{line}\nThe DNC congratulated him on the result in a statement."
    out = clean(text)
    assert len(out) == len(text)
    assert line not in out and not out[text.index(line) : text.index(line) + len(line)].strip()
    assert out.startswith("Sanders won Iowa.") and out.endswith("on the result in a statement.")


def test_clean_masks_a_related_articles_list_but_not_the_prose_after_it():
    text = (
        "Sanders won Iowa, and the campaign said so at length tonight.\nRelated Articles\n"
        "Trump wins Nevada\nClinton campaign reshuffles staff\n\n"
        "The DNC met later. The chair spoke about the debates."
    )
    out = clean(text)
    for gone in ("Related Articles", "Trump wins Nevada", "Clinton campaign reshuffles"):
        assert gone not in out
    assert "The DNC met later. The chair spoke about the debates." in out


def test_clean_keeps_prose_lines_that_start_like_furniture():
    for prose in (
        "By the end of the day, Sanders had won Iowa and New Hampshire.",
        "More than 200 delegates walked out of the hall when the DNC chair spoke, and the party noticed it.",
    ):
        assert clean(f"Headline\n{prose}") == f"Headline\n{prose}"


def test_clean_masks_html_boilerplate_with_justext_and_keeps_offsets():
    pytest.importorskip("justext")
    body = " ".join(
        [
            "Bernie Sanders won the New Hampshire primary on Tuesday, beating Hillary Clinton by a wide",
            "margin among young voters and independents, and he thanked the people of the state who had",
            "given him their support over so many months of a long and difficult campaign in the snow.",
        ]
    )
    html = (
        "<html><body><div class='nav'><a href='/'>Home</a> | <a href='/p'>Politics</a> | <a>World</a>"
        "</div><div class='share'><a>Share on Facebook</a> <a>Tweet this</a> <a>Email</a></div>"
        f"<article><p>{body}</p><p>{body}</p></article>"
        "<div class='footer'><a>About us</a> | <a>Contact</a> | <a>Careers</a> | <a>Privacy</a></div>"
        "</body></html>"
    )
    out = clean(html)
    assert len(out) == len(html)
    assert "Share on Facebook" not in out and "Careers" not in out and "Politics" not in out
    assert out.count(body) == 2 and out.index(body) == html.index(body)
