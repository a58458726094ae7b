"""Uncertainty sampling for the review page: the stored texts the model is least sure about.

Candidates are the newest texts of the label store. Each is scored for the actors labelled on it
(or, for a text without labels, the actors discovered in it). The uncertainty of a (text, actor)
pair is one minus the margin between its two most probable labels: 1.0 when the top two tie,
0.0 when one label holds all the probability. Predictions are cached in memory by (text SHA-256,
actor, model version), so loading the queue again only predicts texts it has not seen with the
current model.
"""

from __future__ import annotations

import asyncio
import math
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from model.types import ActorStance
from training.store import TextRecord

SNIPPET_CHARS = 240

CacheKey = tuple[str, str | None, str]
"""(text SHA-256, actor or None for "discovered", model version)."""

Predict = Callable[[list[str], list[list[str] | None]], Awaitable[list[list[ActorStance]]]]
"""Async ``predict(texts, per_text_actors)``; a None actor list discovers the text's actors."""


@dataclass(frozen=True)
class Scored:
    """One actor's prediction for one text, as much of it as the queue needs."""

    actor: str
    label: str
    probabilities: dict[str, float]
    snippet: str


@dataclass(frozen=True)
class QueueEntry:
    """A (text, actor) pair in the queue, with its uncertainty."""

    text: TextRecord
    scored: Scored
    uncertainty: float
    discovered: bool
    current_label: str | None


@dataclass(frozen=True)
class QueueResult:
    entries: list[QueueEntry]
    candidates: int
    pairs: int
    predicted_texts: int


def uncertainty(probabilities: Mapping[str, float]) -> float:
    """One minus the margin between the two most probable labels (margin sampling), in [0, 1].

    >>> round(uncertainty({"against": 0.45, "neutral": 0.10, "favor": 0.45}), 6)
    1.0
    >>> round(uncertainty({"against": 0.05, "neutral": 0.05, "favor": 0.90}), 6)
    0.15
    """
    top = sorted((p for p in probabilities.values() if math.isfinite(p)), reverse=True)
    if not top:
        return 0.0
    second = top[1] if len(top) > 1 else 0.0
    return min(1.0, max(0.0, 1.0 - (top[0] - second)))


class PredictionCache:
    """Bounded LRU of predictions keyed by (text SHA-256, actor, model version).

    An actor that a text never mentions is cached as an empty tuple, so it is not predicted again.
    ``lock`` lets one queue build at a time: a second request waits, then reads the cache.
    """

    def __init__(self, max_entries: int = 20_000) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[CacheKey, tuple[Scored, ...]] = OrderedDict()
        self.lock = asyncio.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: CacheKey) -> tuple[Scored, ...] | None:
        found = self._entries.get(key)
        if found is not None:
            self._entries.move_to_end(key)
        return found

    def put(self, key: CacheKey, value: tuple[Scored, ...]) -> None:
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)


def _snippet(result: ActorStance, text: str) -> str:
    # The evidence sentence says why the model hesitates; without one, the start of the text.
    raw = result.evidence[0].text if result.evidence else text
    flat = " ".join(raw.split())
    return flat if len(flat) <= SNIPPET_CHARS else flat[: SNIPPET_CHARS - 1].rstrip() + "\u2026"


def _scored(result: ActorStance, text: str) -> Scored | None:
    if result.label is None or not result.probabilities or result.status == "not_mentioned":
        return None
    return Scored(result.actor, result.label, dict(result.probabilities), _snippet(result, text))


def _chunks(
    work: list[tuple[TextRecord, list[str] | None]], max_texts: int, max_chars: int
) -> list[list[tuple[TextRecord, list[str] | None]]]:
    """Split the texts to predict so each call fits one micro-batch; stance requests run between."""
    out: list[list[tuple[TextRecord, list[str] | None]]] = []
    current: list[tuple[TextRecord, list[str] | None]] = []
    chars = 0
    for item in work:
        size = len(item[0].text)
        if current and (len(current) >= max_texts or chars + size > max_chars):
            out.append(current)
            current, chars = [], 0
        current.append(item)
        chars += size
    if current:
        out.append(current)
    return out


async def build_queue(
    texts: Sequence[TextRecord],
    labelled: Mapping[int, Mapping[str, str]],
    *,
    predict: Predict,
    cache: PredictionCache,
    model_version: str,
    limit: int,
    max_batch_texts: int = 32,
    max_batch_chars: int = 400_000,
) -> QueueResult:
    """Score every (text, actor) pair of ``texts`` and return the ``limit`` most uncertain.

    ``labelled`` maps a text id to its labelled actors and their current labels (texts without
    labels are scored for the actors discovered in them). Ties rank newer texts first.

    >>> result = await build_queue(store.recent_texts(limit=200), store.current_labels_by_text(ids),
    ...     predict=predict, cache=PredictionCache(), model_version="tiny-test 0", limit=20)  # doctest: +SKIP
    """
    async with cache.lock:
        work: list[tuple[TextRecord, list[str] | None]] = []
        for t in texts:
            names = sorted(labelled.get(t.id, {}))
            if not names:
                if cache.get((t.sha256, None, model_version)) is None:
                    work.append((t, None))
                continue
            missing = [a for a in names if cache.get((t.sha256, a, model_version)) is None]
            if missing:
                work.append((t, missing))
        for chunk in _chunks(work, max_batch_texts, max_batch_chars):
            results = await predict([t.text for t, _ in chunk], [wanted for _, wanted in chunk])
            for (t, wanted), found in zip(chunk, results, strict=True):
                if wanted is None:
                    kept = (_scored(r, t.text) for r in found)
                    cache.put((t.sha256, None, model_version), tuple(s for s in kept if s is not None))
                    continue
                by_actor = {r.actor: r for r in found}
                for name in wanted:
                    result = by_actor.get(name)
                    scored = _scored(result, t.text) if result is not None else None
                    cache.put((t.sha256, name, model_version), (scored,) if scored else ())

        entries: list[QueueEntry] = []
        for t in texts:
            current = labelled.get(t.id, {})
            keys: list[str | None] = list(sorted(current)) or [None]
            for key in keys:
                for s in cache.get((t.sha256, key, model_version)) or ():
                    entries.append(
                        QueueEntry(
                            text=t,
                            scored=s,
                            uncertainty=uncertainty(s.probabilities),
                            discovered=key is None,
                            current_label=current.get(s.actor),
                        )
                    )
    pairs = len(entries)
    # Newest text first among equals: sorted() is stable and ``texts`` is newest first.
    entries.sort(key=lambda e: -e.uncertainty)
    return QueueResult(entries[:limit], candidates=len(texts), pairs=pairs, predicted_texts=len(work))
