"""The label store's tables as typed SQLAlchemy 2 ORM classes.

Two tables: ``texts`` (each distinct text once, keyed by the SHA-256 of its normalised form) and
``labels`` (every label ever given; the newest of each (text, task, actor) is the current one).
A label's ``task`` is ``stance`` (toward ``actor``) or a bias task of the whole text (``leaning``,
``hyperpartisan``, ``loaded_language``), which has no actor: its ``actor`` column holds ``''`` so
that (text, task, actor) identifies what a label is about on every backend (NULLs never compare
equal, and would slip past the current-label lookup and its index).
A third, ``model_versions``, is the index of the model registry (``training.registry``): retraining
reads labels and writes versions, so both live in one database.
Changing a column here needs a new migration in ``migrations/versions``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, DateTime, ForeignKey, Index, MetaData, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from model.labels import TASK_LABELS, TASKS

SOURCES: tuple[str, ...] = ("correction", "import")
"""How a label arrived: a person correcting a prediction, or a file import."""

MAX_ACTOR_CHARS = 200
NO_ACTOR = ""
"""The ``actor`` of a bias-task label (those label the whole text)."""

# Each task's labels, and an actor for stance only: one CHECK over both columns.
TASK_LABEL_RULE = " OR ".join(
    f"(task = '{task}' AND label IN {TASK_LABELS[task]!r} AND actor {'<>' if task == 'stance' else '='} '')"
    for task in TASKS
)
MAX_ANNOTATOR_CHARS = 200
MAX_MODEL_VERSION_CHARS = 200
MAX_SOURCE_REF_CHARS = 2048

# Constraint names fixed by convention, so later migrations can name what they alter on both backends.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite stores none and returns naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# none_as_null: a missing prediction is SQL NULL, not the JSON value null.
_JSON = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
_JSON_LIST = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class TextRow(Base):
    """One distinct text. ``sha256`` is of the normalised text (see ``normalize_text``)."""

    __tablename__ = "texts"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    text: Mapped[str] = mapped_column(Text)
    source_ref: Mapped[str | None] = mapped_column(String(MAX_SOURCE_REF_CHARS))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)

    labels: Mapped[list[LabelRow]] = relationship(back_populates="text_row", passive_deletes=True)


class LabelRow(Base):
    """One label of a text (stance: of a (text, actor) pair), with who gave it, when, how and what
    it corrected."""

    __tablename__ = "labels"
    __table_args__ = (
        CheckConstraint(TASK_LABEL_RULE, name="task_label"),
        CheckConstraint(f"source IN {SOURCES!r}", name="source"),
        # The current label of a (text, task, actor) is the one with the highest id.
        Index("ix_labels_text_task_actor", "text_id", "task", "actor", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    text_id: Mapped[int] = mapped_column(ForeignKey("texts.id", ondelete="CASCADE"))
    task: Mapped[str] = mapped_column(String(16), index=True, server_default="stance")
    actor: Mapped[str] = mapped_column(String(MAX_ACTOR_CHARS), index=True)
    label: Mapped[str] = mapped_column(String(32))
    annotator: Mapped[str | None] = mapped_column(String(MAX_ANNOTATOR_CHARS))
    source: Mapped[str] = mapped_column(String(16), index=True)
    corrected_prediction: Mapped[dict[str, Any] | None] = mapped_column(_JSON)
    model_version: Mapped[str | None] = mapped_column(String(MAX_MODEL_VERSION_CHARS))
    batch_id: Mapped[str] = mapped_column(String(32), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)

    text_row: Mapped[TextRow] = relationship(back_populates="labels")


VERSION_STATUSES: tuple[str, ...] = ("candidate", "promoted", "rejected", "retired", "rolled_back")
"""A registered model version: ``candidate`` (not promoted; the gate passed or was not asked),
``promoted`` (the one being served; at most one), ``rejected`` (the gate failed), ``retired``
(was promoted, then superseded by a newer promotion), ``rolled_back`` (was promoted, then rolled back)."""

MAX_VERSION_CHARS = 64
MAX_PATH_CHARS = 2048


class ModelVersionRow(Base):
    """One model version of the registry: where its directory is, what it was trained from, how it
    scored, what the promotion gate decided, and what happened to it since (``events``)."""

    __tablename__ = "model_versions"
    __table_args__ = (CheckConstraint(f"status IN {VERSION_STATUSES!r}", name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[str] = mapped_column(String(MAX_VERSION_CHARS), unique=True)
    path: Mapped[str] = mapped_column(String(MAX_PATH_CHARS))
    parent: Mapped[str | None] = mapped_column(String(MAX_VERSION_CHARS))
    status: Mapped[str] = mapped_column(String(16), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    promoted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    metrics: Mapped[dict[str, Any] | None] = mapped_column(_JSON)
    gate: Mapped[dict[str, Any] | None] = mapped_column(_JSON)
    events: Mapped[list[dict[str, Any]]] = mapped_column(_JSON_LIST)
