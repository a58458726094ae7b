"""Wire schemas of GET /v1/review/queue. They wrap the review queue's types (``review_queue.py``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from .review_queue import QueueEntry
from .schemas import json_safe


class QueueItem(BaseModel):
    """One (text, actor) pair the model is unsure about."""

    text_id: int = Field(description="The text in the label store.")
    text_sha256: str = Field(description="SHA-256 of the normalised text.")
    text: str = Field(description="The whole text, to load into the analyser.")
    snippet: str = Field(description="The actor's top evidence sentence, else the start of the text.")
    source_ref: str | None = Field(description="Where the text came from, if known.")
    created_at: datetime = Field(description="When the text was first stored.")
    actor: str = Field(description="Canonical actor name.")
    discovered: bool = Field(
        description="True when the text has no labels and the actor was discovered in it."
    )
    label: str = Field(description="The predicted label.")
    probabilities: dict[str, float | None] = Field(description="Predicted probability of each label.")
    uncertainty: float = Field(
        ge=0, le=1, description="1 - (p_top1 - p_top2): 1 when the top two labels tie, 0 when one is certain."
    )
    labels: int = Field(description="Labels the text already has (all actors, superseded ones included).")
    current_label: str | None = Field(description="The current stored label for this actor on this text.")

    @classmethod
    def of(cls, e: QueueEntry) -> QueueItem:
        return cls(
            text_id=e.text.id,
            text_sha256=e.text.sha256,
            text=e.text.text,
            snippet=e.scored.snippet,
            source_ref=e.text.source_ref,
            created_at=e.text.created_at,
            actor=e.scored.actor,
            discovered=e.discovered,
            label=e.scored.label,
            probabilities=json_safe(e.scored.probabilities),
            uncertainty=round(e.uncertainty, 6),
            labels=e.text.labels,
            current_label=e.current_label,
        )


class ReviewQueue(BaseModel):
    model: str = Field(description="Name of the model that made the predictions.")
    version: str
    candidates: int = Field(description="Recent texts considered.")
    pairs: int = Field(description="(text, actor) pairs scored among them.")
    predicted_texts: int = Field(
        description="Texts run through the model for this answer; the others came from the cache."
    )
    items: list[QueueItem] = Field(description="At most `limit` pairs, most uncertain first.")
