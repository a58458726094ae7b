"""What one text costs: ``clean`` and spaCy are linear in its length, and ``clean`` masks what it masked.

The reference below is the regex version ``clean`` had until it froze the process on 15,000
newlines (36 s); on short texts it is quick, so hypothesis compares the two on adversarial
fragments: runs of newlines and spaces, punctuation, furniture lines, comment headings,
nested and unclosed tags. spaCy's tokenizer was quadratic in runs of quotes or brackets (52 s
for 20,000 quotes); the tests at the end pin the fast suffix search and the masking of long runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from _cost import assert_linear
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from model.text import MAX_TEXT_CHARS, _clean, clean

_REF_BLOCKS = re.compile(r"<(script|style|noscript|iframe|svg)\b.*?</\1\s*>|<!--.*?-->", re.I | re.S)
_REF_TAGS = re.compile(r"</?[a-zA-Z][^<>]{0,500}>")
_REF_ENTITY = re.compile(r"&(?:nbsp|amp|quot|apos|lt|gt|#\d{1,5}|#x[0-9a-f]{1,4});", re.I)
_REF_BOILER_LINE = re.compile(
    r"^\s*(?:advertisement|sponsored(?: links?| content)?|share (?:this|on \w+)|click here.*|read more.*"
    r"|subscribe.*|sign up for.*|follow us.*|related(?: articles| stories| posts)?:?|tags?:.*"
    r"|(?:all rights reserved|copyright|©).*|we use cookies.*|accept cookies.*|skip to (?:main )?content"
    r"|print|email|facebook|twitter|whatsapp|pinterest|linkedin|reddit|share|tweet|menu|search|home"
    r"|loading\.*|image:? .{0,80}|photo:? .{0,80}"
    r"|\(?(?:ap|reuters|getty images?)\)?(?: photo.*)?)[\s:.!|»›>-]*$",
    re.I | re.M,
)
_REF_COMMENTS = re.compile(
    r"^\s*(?:leave a (?:reply|comment)|\d+\s+comments?|comments?(?: \(\d+\))?|join the discussion"
    r"|post a comment|add a comment|show comments|discussion)\s*:?\s*$",
    re.I | re.M,
)


def _ref_mask(text: str, start: int, end: int) -> str:
    return text[:start] + " " * (end - start) + text[end:]


def reference_clean(text: str) -> str:
    """``model.text.clean`` before it was made linear (quadratic on runs of newlines)."""
    out = text
    if "<" in out:
        for m in _REF_BLOCKS.finditer(out):
            out = _ref_mask(out, m.start(), m.end())
        for m in _REF_TAGS.finditer(out):
            out = _ref_mask(out, m.start(), m.end())
    if "&" in out:
        for m in _REF_ENTITY.finditer(out):
            out = _ref_mask(out, m.start(), m.end())
    comments = _REF_COMMENTS.search(out)
    if comments and comments.start() > len(out) // 5:
        out = _ref_mask(out, comments.start(), len(out))
    for m in _REF_BOILER_LINE.finditer(out):
        if len(m.group().split()) <= 10:
            out = _ref_mask(out, m.start(), m.end())
    return out


FRAGMENTS = [
    *["\n", "\n\n", "\n\n\n", " ", "   ", "\t", "\r", "\r\n", "\x0b", "\xa0", "\u2028", "\x1c"],
    *[":", ".", "...", "-", "---", "|", "»", "›", ">", "!", "©", "(", ")", "5", "12", "x"],
    *["word", "Sanders won.", "The DNC said so.", "one two three four five six seven eight nine ten eleven"],
    *["Advertisement", "advertisement", "ADVERTISEMENT", "Share", "share this", "share on x", "Share on "],
    *["Sponsored links", "sponsored content", "click here now", "Read more", "Tags: a, b", "tag:"],
    *["Image: a dog", "image ", "photo: ", "(AP)", "(AP) Photo by Bob", "Getty Images", "reuters"],
    *["loading", "Loading...", "Subscribe", "menu", "home", "Related articles:", "Copyright 2020"],
    *["Comments", "comments (3)", "5 comments", "comment", "Comments:", "Leave a Reply", "leave a comment"],
    *["Join the discussion", "discussion", "Post a comment", "show comments"],
    *["<script>", "</script>", "<SCRIPT", "</Script >", "<scripts>", "</script\n>", "<script</script>"],
    *["<ſcript>", "</ſcript>", "<ıframe>", "</ıframe>", "<İframe>", "</İFRAME>", "</iframe>", "<iframe"],
    *["<style>", "</style >", "<svg", "</svg>", "<noscript>", "</noscript>", "<svgx>"],
    *["<!--", "-->", "<!-->", "<!---->", "<b>", "</b>", "<a href='x'>", "<", "</", "<a", "<1>"],
    *["&amp;", "&nbsp;", "&#123;", "&#x1F;", "&x;", "&", ";"],
]
fragment = st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=3))
adversarial = st.lists(fragment, max_size=40).map("".join)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(adversarial)
@example("Sanders won.\nAdvertisement\nLeave a Reply\nspam")
@example("Intro text here.\n\n12\n\n comments:\nspam")
@example("A long enough first line.\nAdvertisement\n-\n\n|\n\nNext")
@example("<script>a</SCRIPT><script>b<!-- c --></script > d <!--x")
@example("<İframe>x</iframe> <ſcript>y</script> <ıframe>z</ıframe>")
def test_clean_masks_what_the_regex_version_masked(text):
    assert _clean(text, widen=False) == reference_clean(text)
    # The widened furniture lines only ever mask more.
    out = clean(text)
    assert all(a == b or a == " " for a, b in zip(out, _clean(text, widen=False), strict=True))


@settings(max_examples=300, deadline=None)
@given(adversarial)
def test_clean_keeps_length_and_every_character_it_does_not_mask(text):
    out = clean(text)
    assert len(out) == len(text)
    assert all(o == t or o == " " for o, t in zip(out, text, strict=True))


def _assert_clean_linear(make: Callable[[int], str]) -> None:
    """Cleaning a text 4x longer costs less than 12x as much (quadratic: 16x)."""
    sizes = [len(make(MAX_TEXT_CHARS // 4)), len(make(MAX_TEXT_CHARS))]
    assert sizes[1] >= 3 * sizes[0]
    assert_linear(make, clean, MAX_TEXT_CHARS // 4)


FAMILIES: dict[str, Callable[[int], str]] = {
    "newlines": lambda n: "\n" * n + "Sanders won.",
    "blank lines of spaces": lambda n: " \t\n" * (n // 3) + "Sanders won.",
    "spaces": lambda n: " " * n + "Sanders won.",
    "carriage returns": lambda n: "\r\n" * (n // 2) + "Sanders won.",
    "heading then spaces": lambda n: "Text.\n" * 10 + "Comments" + " " * n + "x",
    "heading then colons": lambda n: "Text.\n" * 10 + "Comments" + " :" * (n // 2) + "x",
    "furniture then punctuation": lambda n: "Text.\nAdvertisement" + "-" * n + "x",
    "loading dots": lambda n: "loading" + "." * n + "x",
    "image caption dashes": lambda n: "image: " + "-" * n + "x",
    "digits before blank lines": lambda n: "Text.\n" + "5\n\n" * (n // 3) + "x",
    "furniture lines": lambda n: "Share\n" * (n // 6),
    "punctuation lines": lambda n: "Text.\nAdvertisement\n" + "-\n" * (n // 2) + "x",
    "unclosed script": lambda n: "<script " * (n // 8),
    "unclosed comment": lambda n: "<!-- " * (n // 5),
    "unclosed mixed": lambda n: "<style <iframe <!-- <svg " * (n // 25),
    "closes without opens": lambda n: "</script>" * (n // 9),
    "tags without >": lambda n: ("<a" + "b" * 400) * (n // 402),
    "nested tags": lambda n: "<b><i>" * (n // 12) + "x" + "</i></b>" * (n // 16),
    "entities": lambda n: "&amp;" * (n // 5),
}


@pytest.mark.parametrize("family", list(FAMILIES))
def test_clean_cost_grows_linearly(family):
    _assert_clean_linear(FAMILIES[family])


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=8).map("".join))
def test_clean_cost_of_any_repeated_fragment_grows_linearly(unit):
    _assert_clean_linear(lambda n: (unit * (n // len(unit) + 1))[:n])


# spaCy: its tokenizer strips a run's prefixes and suffixes one at a time, searching the whole
# rest for a suffix each time (about 0.5 us per character per strip). ``model.text`` searches
# the end first and masks runs longer than MAX_RUN_CHARS for spaCy.


def _suffix_search():
    from model.text import SENTENCE_SPLITTER, _nlp

    tail_first = _nlp(SENTENCE_SPLITTER).tokenizer.suffix_search
    (cell,) = tail_first.__closure__ or ()
    return tail_first, cell.cell_contents


def test_suffix_patterns_fit_the_window_the_fast_search_assumes():
    import re._parser as sre_parse

    from model.text import _SUFFIX_WINDOW

    _, search = _suffix_search()
    (op, (_, branches)) = sre_parse.parse(search.__self__.pattern, search.__self__.flags).data[0]
    assert str(op) == "BRANCH"
    widths = {str(b): b.getwidth()[1] for b in branches}
    unbounded = [b for b, hi in widths.items() if hi >= sre_parse.MAXREPEAT]
    assert len(unbounded) == 1 and "46" in unbounded[0]  # r"\.\.+$": a run of dots, from any of its dots
    assert max(hi for hi in widths.values() if hi < sre_parse.MAXREPEAT) < _SUFFIX_WINDOW


_AFFIXES = ['"', "'", "(", ")", ".", "...", "!", "?", ",", "'s", "’s", "n't", "km", "$", "US$", "%", "°C."]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from([*_AFFIXES, "a", "B", "7", "-", "…", "." * 12]), max_size=20).map("".join))
def test_fast_suffix_search_finds_what_the_full_search_finds(string):
    tail_first, search = _suffix_search()
    fast, full = tail_first(string), search(string)
    assert (fast and fast.span()) == (full and full.span())


def test_spacy_keeps_offsets_past_a_masked_long_run():
    from model.text import MAX_RUN_CHARS, analyse, sentences

    text = "Clinton spoke. " + "x" * (MAX_RUN_CHARS + 5) + "\nTrump replied."
    doc = analyse(clean(text), entities=False)
    assert len(doc.text) == len(text)
    assert [text[s.start : s.end] for s in sentences(doc)] == ["Clinton spoke.", "Trump replied."]


def _quote_runs(length: int) -> str:
    """50 runs of ``length`` quotes, each different (spaCy caches the tokens of a run it has seen)."""
    return " ".join(f"{i:03d}" + '"' * length for i in range(50))


SPACY_FAMILIES: dict[str, tuple[Callable[[int], str], int]] = {
    "runs of quotes": (_quote_runs, 200),
    "one run of quotes": (lambda n: '"' * n, MAX_TEXT_CHARS // 4),
    "word, dots, word": (lambda n: "loading" + "." * n + "x", MAX_TEXT_CHARS // 4),
    "newlines": (lambda n: "\n" * n + "Sanders won.", MAX_TEXT_CHARS // 4),
}


@pytest.mark.parametrize("family", list(SPACY_FAMILIES))
def test_spacy_cost_grows_linearly(family):
    from model.text import analyse

    make, size = SPACY_FAMILIES[family]
    assert_linear(make, lambda text: analyse(text, entities=False), size, fresh=True)
