"""The one window builder: what the classifier reads for one actor in one text.

Serving (:class:`model.StancePredictor`) and training (``training.train``, ``slant retrain``) both
build their (target, window) pairs here, so that what the model sees in training is what it
sees when serving. A model directory records the window format it was trained on
(``slant.json`` ``window_format``):

- format 1 (``plain``): the window text as it is. Models written before markers existed.
- format 2 (``marked``): every mention of the actor by name inside the window is wrapped in the marker
  tokens ``[TGT]`` ... ``[/TGT]`` (special tokens added to the tokenizer), so the classifier knows
  *which* span is the actor and can read the author's attitude toward that span rather than the
  mood of the sentence.

A text that fits in one window (a tweet, a sentence, a short paragraph) is one window: the whole
text. A longer text gets one window per sentence that mentions the actor (up to ``max_windows``,
spread over the text), made of the focus sentence followed by the sentence before and after it;
an actor it never names can be scored on the lead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .actors import Actor, Mention, parse_actors
from .errors import InvalidInputError
from .linking import link
from .text import Sentence, analyse_many, clean, sentences

PLAIN, MARKED = 1, 2
WINDOW_FORMATS = {PLAIN: "plain", MARKED: "marked"}
LATEST_FORMAT = MARKED
MARKERS = ("[TGT]", "[/TGT]")
"""Opening and closing marker tokens of format 2 (added to the tokenizer as special tokens)."""


@dataclass
class Window:
    actor: int
    sentence: int | None  # focus sentence; None: the whole (short) text; -1: the lead of a long one
    text: str


@dataclass
class Plan:
    """The windows of one text: which actors, where they are named, and what the model reads."""

    text: str
    actors: list[Actor]
    mentions: list[list[Mention]]
    sentences: list[Sentence]
    short: bool
    windows: list[Window] = field(default_factory=list)
    unmentioned_scored: set[int] = field(default_factory=set)
    bias_sentences: list[Sentence] = field(default_factory=list)
    #: Discovered actors' salience scores (None: the caller named the actors).
    salience: list[float] | None = None


def mark(text: str, spans: Sequence[tuple[int, int]], markers: tuple[str, str] = MARKERS) -> str:
    """Wrap each (start, end) span of ``text`` in the markers, spaced; spans must not overlap.

    >>> compact(mark("Sanders won.", [(0, 7)]))
    '[TGT] Sanders [/TGT] won.'
    """
    out, last = [], 0
    for s, e in sorted(spans):
        out += [text[last:s], f" {markers[0]} ", text[s:e], f" {markers[1]} "]
        last = e
    out.append(text[last:])
    return "".join(out)


def unmark(text: str, markers: tuple[str, str] = MARKERS) -> str:
    """A format-2 window without its markers; ``mark`` and ``compact`` give the same window back.

    >>> unmark("[TGT] Sanders [/TGT] won.")
    'Sanders won.'
    """
    return compact(text.replace(f"{markers[0]} ", "").replace(f" {markers[1]}", ""))


def compact(text: str) -> str:
    return " ".join(text.split())


def token_fits(tokenizer: Any, max_length: int) -> Callable[[str], bool]:
    """The "short enough to read whole" test for a tokenizer and length: room for the target too."""

    def fits(text: str) -> bool:
        # Cheap character test first: max_length word pieces never hold more than ~8 characters each.
        if len(text) > max_length * 8:
            return False
        return len(tokenizer(text, add_special_tokens=False)["input_ids"]) <= max_length - 16

    return fits


def add_markers(tokenizer: Any, model: Any | None = None) -> bool:
    """Add the format-2 marker tokens to a tokenizer (and grow the model's embeddings); True if added.

    The new embeddings start at the mean of the existing ones (transformers' mean resizing).
    """
    vocab = tokenizer.get_vocab()
    new = [m for m in MARKERS if m not in vocab]
    if not new:
        return False
    tokenizer.add_special_tokens({"additional_special_tokens": list(MARKERS)})
    if model is not None:
        model.resize_token_embeddings(len(tokenizer))
    return True


def row_actor(row: dict[str, Any]) -> Actor:
    """A labelled row's target as an Actor: registry aliases, plus the row's own ``aliases``.

    Dataset targets can be topics longer than the service's actor-name limit (VAST) or phrases
    that read like descriptions (NewsMTSC's "the GOP's Karen Handel"); those are used as they are.
    Training builds its windows with this actor, and evaluation scores the row with it.
    """
    aliases = row.get("aliases")
    try:
        return parse_actors([{"name": row["target"], "aliases": aliases} if aliases else row["target"]])[0]
    except InvalidInputError:
        return Actor(row["target"], (row["target"], *(aliases or ())))


class WindowBuilder:
    """Builds the windows of texts for one model (its tokenizer, length and window format).

    ``fits`` decides whether a compacted text is short enough to be read whole; the predictor
    passes its token-count test.
    """

    def __init__(self, fits: Callable[[str], bool], *, max_windows: int = 16, fmt: int = PLAIN) -> None:
        if fmt not in WINDOW_FORMATS:
            raise ValueError(f"unknown window format {fmt}")
        self.fits = fits
        self.max_windows = max_windows
        self.fmt = fmt

    def _spans(self, start: int, end: int, mentions: Sequence[Mention]) -> list[tuple[int, int]]:
        if self.fmt == PLAIN:
            return []
        # Only names are marked: the shipped format-2 models were trained on name markers, and the
        # marker head pools the states of marked names. Title and pronoun mentions still choose
        # windows and give evidence (``Mention.via``).
        return [
            (m.start - start, m.end - start)
            for m in mentions
            if start <= m.start and m.end <= end and m.via == "name"
        ]

    def _piece(self, cleaned: str, start: int, end: int, mentions: Sequence[Mention]) -> str:
        return mark(cleaned[start:end], self._spans(start, end, mentions))

    def whole(self, cleaned: str, mentions: Sequence[Mention]) -> str:
        """The whole text as one window (mentions marked in format 2)."""
        return compact(self._piece(cleaned, 0, len(cleaned), mentions))

    def sentence_window(
        self, cleaned: str, sents: list[Sentence], i: int, mentions: Sequence[Mention]
    ) -> str:
        """The focus sentence ``i`` with the sentence before and after it as context.

        Format 1 puts the focus sentence first, so truncation at max_length never cuts it.
        Format 2 keeps reading order (before, focus, after), dropping a neighbour that would push
        the window past the length limit, so a window reads like the passage an annotator saw.
        """

        def piece(k: int) -> str:
            return self._piece(cleaned, sents[k].start, sents[k].end, mentions)

        before = [i - 1] if i > 0 else []
        after = [i + 1] if i + 1 < len(sents) else []
        if self.fmt == PLAIN:
            return compact(" ".join(piece(k) for k in [i, *before, *after]))
        for order in ([*before, i, *after], [i, *after], [*before, i], [i]):
            window = compact(" ".join(piece(k) for k in order))
            if self.fits(window):
                return window
        return window

    def lead(self, cleaned: str) -> str:
        return compact(cleaned)

    def focus_sentences(self, sents: list[Sentence], mentions: Sequence[Mention]) -> list[int]:
        """The sentences that get a window: each that names the actor, and each that refers to it by
        title or pronoun only unless a window already reads it as context (the sentence next to
        one that names it)."""
        hit: list[int] = []
        via: dict[int, bool] = {}  # sentence -> named (True) or only referred to (False)
        j = 0
        for m in mentions:
            while j < len(sents) and sents[j].end <= m.start:
                j += 1
            if j < len(sents) and sents[j].start <= m.start:
                if not hit or hit[-1] != j:
                    hit.append(j)
                via[j] = via.get(j, False) or m.via == "name"
        if not all(via.values()):
            named = {i for i in hit if via[i]}
            kept: list[int] = []
            for i in hit:
                if via[i] or not ({i - 1, i + 1} & named or (kept and kept[-1] == i - 1)):
                    kept.append(i)
            hit = kept
        if len(hit) > self.max_windows:
            # Spread the budget over the whole article, always keeping the first mention.
            picks = np.linspace(0, len(hit) - 1, self.max_windows).round().astype(int)
            hit = [hit[i] for i in sorted(set(picks.tolist()))]
        return hit

    def plan(
        self,
        text: str,
        actors: list[Actor],
        cleaned: str,
        doc: Any,
        *,
        score_unmentioned: bool = False,
        year: int | None = None,
        mentions: list[list[Mention]] | None = None,
    ) -> Plan:
        """Windows for one text; ``cleaned`` is ``clean(text)`` and ``doc`` its spaCy analysis.

        Mentions by name, title and pronoun (:func:`model.linking.link`; ``year`` fixes time-bound
        titles) each make a window (only names are marked); ``mentions`` gives them when already found.
        """
        sents = sentences(doc)
        if mentions is None:
            mentions = link(cleaned, actors, year=year)
        short = self.fits(compact(cleaned))
        wholes = [self.whole(cleaned, ms) for ms in mentions] if short else []
        if short and self.fmt == MARKED:  # each marked mention adds two tokens
            short = all(self.fits(w) for w, ms in zip(wholes, mentions, strict=True) if ms)
        plan = Plan(text, actors, mentions, sents, short=short)
        for ai, ms in enumerate(mentions):
            if plan.short:
                if ms or score_unmentioned:
                    plan.windows.append(Window(ai, None, wholes[ai]))
                    if not ms:
                        plan.unmentioned_scored.add(ai)
                continue
            focus = self.focus_sentences(sents, ms)
            if not focus and score_unmentioned and sents:
                # No mention: read the text from the top (truncated at max_length).
                plan.windows.append(Window(ai, -1, self.lead(cleaned)))
                plan.unmentioned_scored.add(ai)
            for si in focus:
                plan.windows.append(Window(ai, si, self.sentence_window(cleaned, sents, si, ms)))
        return plan

    def examples(self, rows: Sequence[dict[str, Any]], *, batch: int = 256) -> list[dict[str, Any]]:
        """Training pairs for labelled rows (``text``, ``target``, ``label``): one per window.

        A row short enough for one window gives one pair; a whole article gives one pair per
        mention window (each with the article's label), or its lead when the target is never
        named, exactly as the predictor would read it. Other fields of the row are kept.
        """
        out: list[dict[str, Any]] = []
        for s in range(0, len(rows), batch):
            part = rows[s : s + batch]
            cleaned = [clean(r["text"]) for r in part]
            docs = analyse_many(cleaned, entities=False)
            for r, c, d in zip(part, cleaned, docs, strict=True):
                actor = row_actor(r)
                plan = self.plan(r["text"], [actor], c, d, score_unmentioned=True)
                for w in plan.windows:
                    row = {k: v for k, v in r.items() if k != "aliases"}
                    out.append({**row, "target": actor.name, "text": w.text})
        return out
