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


@dataclass
class ActorStance:
    """The stance of one text toward one actor.

    ``status`` is ``"not_mentioned"`` when no alias of the actor occurs in the text; then
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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
