"""Result types of the predictor. Plain dataclasses: the service wraps them in its own schemas."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal


@dataclass
class Evidence:
    """A sentence that supports an actor's stance, with offsets into the caller's text."""

    text: str
    start: int
    end: int
    label: str
    probabilities: dict[str, float]
    #: How the actor is named in this sentence: ``name`` (an alias), ``title`` ("the senator from
    #: Vermont", "the committee") or ``pronoun`` (the strongest of its mentions there).
    via: Literal["name", "title", "pronoun"] = "name"


@dataclass
class ActorStance:
    """The stance of one text toward one actor.

    ``mentions`` counts the mentions by name, title and pronoun (``mentions_via`` splits them);
    ``salience`` is, for a discovered actor, its share of the article's weighted mentions (0 to
    1: headline and lead count more), None for an actor the caller named.
    ``status`` is ``"not_mentioned"`` when the text never mentions the actor; then
    ``label`` and ``probabilities`` are None rather than a guess (unless the caller asked
    for ``score_unmentioned``, in which case ``status`` is ``"scored_unmentioned"``).
    """

    actor: str
    status: Literal["scored", "not_mentioned", "scored_unmentioned"]
    label: str | None
    probabilities: dict[str, float] | None
    mentions: int
    aliases_matched: list[str] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    windows: int = 0
    level: Literal["sentence", "article"] = "sentence"
    mentions_via: dict[str, int] = field(default_factory=lambda: {"name": 0, "title": 0, "pronoun": 0})
    salience: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Leaning:
    """How an article leans politically (``left`` / ``center`` / ``right``)."""

    label: str
    probabilities: dict[str, float]


@dataclass
class FlaggedSentence:
    """A sentence the loaded-language head flags, with offsets into the caller's text."""

    text: str
    start: int
    end: int
    probability: float


@dataclass
class LoadedLanguage:
    """Sentence-level loaded (biased) language: the flagged sentences and how many were read."""

    sentences: list[FlaggedSentence]
    scored: int
    threshold: float

    @property
    def share(self) -> float:
        return round(len(self.sentences) / self.scored, 4) if self.scored else 0.0


@dataclass
class Bias:
    """The bias heads' reading of one text; a field is None when its head is not loaded.

    ``hyperpartisan`` is the probability that the text is hyperpartisan (0 to 1).
    ``sentences`` is how many sentences the heads read (0 for a text with no prose left).
    """

    leaning: Leaning | None = None
    hyperpartisan: float | None = None
    loaded_language: LoadedLanguage | None = None
    sentences: int = 0

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        if self.loaded_language is not None:
            out["loaded_language"]["share"] = self.loaded_language.share
        return out


@dataclass
class Analysis:
    """Stance toward each actor and, when bias heads are loaded, the text's bias."""

    stance: list[ActorStance]
    bias: Bias | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "stance": [s.to_dict() for s in self.stance],
            "bias": self.bias.to_dict() if self.bias is not None else None,
        }
