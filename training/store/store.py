"""The label store: labels of texts, from corrections and file imports.

Each label has a task: ``stance`` labels a (text, actor) pair (against / neutral / favor); the
bias tasks label the whole text and take no actor: ``leaning`` (left / center / right),
``hyperpartisan`` (hyperpartisan / not_hyperpartisan) and ``loaded_language`` (biased /
non-biased; the text is one sentence).

Conflict policy: labels are never silently doubled. A label equal to the *current* label of its
(text, task, actor) is a ``duplicate`` (counted, not stored again). A different label is a
``conflict``: it is stored, because a correction supersedes what was there, and reported with the
label it replaces. The current label is the newest one; the older ones stay as history. A stance
label and a leaning label of the same text never conflict. Each call to :meth:`LabelStore.add` is
one transaction: all of its labels are stored or none.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
import unicodedata
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, exists, func, insert, select, update
from sqlalchemy.engine import URL, Engine
from sqlalchemy.orm import Session, aliased, sessionmaker

from model.actors import parse_actor
from model.errors import InvalidInputError
from model.labels import STANCE_LABELS, TASK_LABELS, TASKS, check_task, normalize_task_label
from model.text import MAX_TEXT_CHARS, check_text

from .db import (
    database_url,
    describe,
    open_migrated,
    session_scope,
    writer,
)
from .schema import (
    MAX_ANNOTATOR_CHARS,
    MAX_MODEL_VERSION_CHARS,
    MAX_SOURCE_REF_CHARS,
    NO_ACTOR,
    SOURCES,
    LabelRow,
    TextRow,
)

Status = Literal["stored", "duplicate", "conflict"]
Source = Literal["correction", "import"]

_CHUNK = 500  # ids per IN (...) clause: well under SQLite's bound-parameter limit
IMPORT_CHUNK = 500
"""Labels per transaction of :meth:`LabelStore.add_resumable` (a file import): another writer (the
service's ``POST /v1/labels``) waits for one such transaction, not for the whole file."""
_SQLITE_TURN = 0.11  # seconds between two chunks of an import on SQLite: other writers' turn
_SPACE = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """The form of a text that is hashed: Unicode NFC, whitespace runs as one space, trimmed.

    >>> normalize_text("  The DNC\\n met. ")
    'The DNC met.'
    """
    return _SPACE.sub(" ", unicodedata.normalize("NFC", text)).strip()


def text_sha256(text: str) -> str:
    """SHA-256 (hex) of the normalised text: the identity of a text in the store."""
    return hashlib.sha256(normalize_text(text).encode("utf-8")).hexdigest()


def storable(value: str, *, field: str) -> str:
    """``value`` if a database can hold it: no NUL characters (PostgreSQL refuses them) and valid
    Unicode (JSON and ``\\ud800`` escapes can carry lone surrogates)."""
    if "\x00" in value:
        raise InvalidInputError(
            "contains a NUL character (\\u0000)", field=field, fix="remove NUL characters; send plain text"
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInputError(
            f"contains an unpaired UTF-16 surrogate (\\u{ord(value[exc.start]):04x}) at character "
            f"{exc.start}, which is not valid Unicode",
            field=field,
            fix="send valid Unicode text",
        ) from None
    return value


def canonical_actor(name: object, *, field: str = "actor") -> str:
    """The actor's canonical name from the alias registry ("Bernie" -> "Bernie Sanders"), else as given."""
    if not isinstance(name, str):
        raise InvalidInputError(
            f"expected an actor name (a string), found {type(name).__name__}",
            field=field,
            fix='e.g. "Bernie Sanders"',
        )
    return parse_actor(storable(_SPACE.sub(" ", name).strip(), field=field), field=field).name


@dataclass(frozen=True)
class LabelIn:
    """One label to store, already checked and normalised: build it with :func:`new_label`.

    ``actor`` is the canonical actor of a stance label, ``""`` for a bias task's."""

    text: str
    actor: str
    label: str
    annotator: str | None = None
    source: Source = "correction"
    source_ref: str | None = None
    corrected_prediction: dict[str, Any] | None = None
    model_version: str | None = None
    task: str = "stance"


def _optional_name(value: object, field: str, limit: int, example: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(
            f"expected a non-empty string, found {type(value).__name__} {str(value)[:40]!r}",
            field=field,
            fix=f"e.g. {example!r}, or leave it out",
        )
    value = storable(value.strip(), field=field)
    if len(value) > limit:
        raise InvalidInputError(
            f"has {len(value)} characters; the limit is {limit}", field=field, fix="shorten it"
        )
    return value


def _prediction(value: object, field: str, task: str = "stance") -> dict[str, Any] | None:
    """``{"label", "probabilities"?}`` with the label and probability keys normalised for ``task``."""
    if value is None:
        return None
    example = (
        '{"label": "favor", "probabilities": {"against": 0.1, "neutral": 0.2, "favor": 0.7}}'
        if task == "stance"
        else json.dumps(
            {"label": TASK_LABELS[task][0], "probabilities": dict.fromkeys(TASK_LABELS[task], 0.5)}
        )
    )
    if not isinstance(value, Mapping) or "label" not in value:
        raise InvalidInputError(
            "expected the corrected prediction as an object with a 'label'", field=field, fix=example
        )
    unknown = set(value) - {"label", "probabilities"}
    if unknown:
        raise InvalidInputError(f"unknown keys {sorted(unknown)}", field=field, fix=example)
    out: dict[str, Any] = {"label": normalize_task_label(task, value["label"], field=f"{field}.label")}
    probs = value.get("probabilities")
    if probs is not None:
        if not isinstance(probs, Mapping):
            raise InvalidInputError(
                f"expected an object of label: probability, found {type(probs).__name__}",
                field=f"{field}.probabilities",
                fix=example,
            )
        checked: dict[str, float] = {}
        for key, p in probs.items():
            name = normalize_task_label(task, key, field=f"{field}.probabilities")
            if (
                isinstance(p, bool)
                or not isinstance(p, int | float)
                or not (math.isfinite(p) and 0 <= p <= 1)
            ):
                raise InvalidInputError(
                    f"probability of {key!r} must be a number from 0 to 1, found {p!r}",
                    field=f"{field}.probabilities.{key}",
                    fix=example,
                )
            checked[name] = float(p)
        out["probabilities"] = checked
    return out


def _actor_of(task: str, actor: object, field: str) -> str:
    """The canonical actor of a stance label; ``""`` for a bias task, which must not name one."""
    if task == "stance":
        if actor is None:
            raise InvalidInputError(
                "a stance label needs the actor it is about (the target)",
                field=field,
                fix='e.g. "Bernie Sanders"; for a label of the whole text give a bias task '
                f"({', '.join(TASKS[1:])}) and no actor",
            )
        return canonical_actor(actor, field=field)
    if actor is not None and actor != "":
        raise InvalidInputError(
            f"a {task} label is about the whole text and takes no actor (target); found {str(actor)[:80]!r}",
            field=field,
            fix=f"leave the actor (target) out, or use task 'stance' for a stance toward {str(actor)[:80]!r}",
        )
    return NO_ACTOR


def new_label(
    *,
    text: object,
    label: object,
    actor: object = None,
    task: object = "stance",
    annotator: object = None,
    source: object = "correction",
    source_ref: object = None,
    corrected_prediction: object = None,
    model_version: object = None,
    field: str = "",
    max_text_chars: int = MAX_TEXT_CHARS,
) -> LabelIn:
    """Check and normalise one label of ``task`` (default ``stance``).

    Stance: the actor is required and made canonical, the label one of against/neutral/favor.
    Bias tasks take no actor; ``leaning``: left/center/right, ``hyperpartisan``:
    hyperpartisan/not_hyperpartisan, ``loaded_language``: biased/non-biased (the text is one
    sentence). ``field`` prefixes the field named in errors (``"items[3]."``).

    >>> new_label(text="Go Bernie!", actor="Bernie", label="positive").actor
    'Bernie Sanders'
    >>> new_label(text="An article.", task="leaning", label="Centre").label
    'center'
    """
    if source not in SOURCES:
        raise InvalidInputError(
            f"unknown label source {source!r}", field=f"{field}source", fix=f"use one of {', '.join(SOURCES)}"
        )
    kind = check_task(task, field=f"{field}task")
    return LabelIn(
        text=storable(check_text(text, field=f"{field}text", max_chars=max_text_chars), field=f"{field}text"),
        actor=_actor_of(kind, actor, f"{field}actor"),
        label=normalize_task_label(kind, label, field=f"{field}label"),
        task=kind,
        annotator=_optional_name(annotator, f"{field}annotator", MAX_ANNOTATOR_CHARS, "alice"),
        source="correction" if source == "correction" else "import",
        source_ref=_optional_name(
            source_ref, f"{field}source_ref", MAX_SOURCE_REF_CHARS, "https://example.com/story"
        ),
        corrected_prediction=_prediction(corrected_prediction, f"{field}corrected_prediction", kind),
        model_version=_optional_name(model_version, f"{field}model_version", MAX_MODEL_VERSION_CHARS, "3"),
    )


@dataclass(frozen=True)
class Outcome:
    """What happened to one label of a write.

    ``label_id`` is the stored label, or for a duplicate the existing label it repeats; a conflict
    names the label it supersedes in ``previous_label`` / ``previous_label_id``. ``actor`` is None
    for a bias task's label.
    """

    status: Status
    label_id: int
    text_id: int
    actor: str | None
    label: str
    previous_label: str | None = None
    previous_label_id: int | None = None
    task: str = "stance"


@dataclass(frozen=True)
class WriteReport:
    """The outcome of one :meth:`LabelStore.add`, one entry per label in order.

    ``resumed``: how many of them an earlier run of the same batch had already handled
    (:meth:`LabelStore.add_resumable`); they are reported as duplicates."""

    batch_id: str
    outcomes: list[Outcome]
    committed: bool
    resumed: int = 0

    def count(self, status: Status) -> int:
        return sum(o.status == status for o in self.outcomes)

    @property
    def stored(self) -> int:
        return self.count("stored")

    @property
    def duplicates(self) -> int:
        return self.count("duplicate")

    @property
    def conflicts(self) -> int:
        return self.count("conflict")


@dataclass(frozen=True)
class LabelRecord:
    """A stored label with its text; ``current`` is false once a newer label superseded it.

    ``actor`` is None for a bias task's label."""

    id: int
    text_id: int
    text: str
    text_sha256: str
    source_ref: str | None
    task: str
    actor: str | None
    label: str
    annotator: str | None
    source: str
    corrected_prediction: dict[str, Any] | None
    model_version: str | None
    batch_id: str
    created_at: datetime
    current: bool


@dataclass(frozen=True)
class LabelPage:
    items: list[LabelRecord]
    total: int


@dataclass(frozen=True)
class TextRecord:
    """A stored text and how many labels it has."""

    id: int
    sha256: str
    text: str
    source_ref: str | None
    created_at: datetime
    labels: int


def _is_current() -> ColumnElement[bool]:
    # No newer label for the same (text, task, actor). Writers are serialised, so ids follow write order.
    newer = aliased(LabelRow)
    return ~exists().where(
        newer.text_id == LabelRow.text_id,
        newer.task == LabelRow.task,
        newer.actor == LabelRow.actor,
        newer.id > LabelRow.id,
    )


def _actor_out(actor: str) -> str | None:
    return None if actor == NO_ACTOR else actor


def label_filter(label: str, task: str | None = None, *, field: str = "label") -> str:
    """A label to filter by, normalised for ``task``; with no task, for the first task that has it.

    >>> label_filter("pro"), label_filter("Left")
    ('favor', 'left')
    """
    if task is not None:
        return normalize_task_label(check_task(task), label, field=field)
    for kind in TASKS:
        try:
            return normalize_task_label(kind, label, field=field)
        except InvalidInputError:
            continue
    valid = "; ".join(f"{kind}: {', '.join(TASK_LABELS[kind])}" for kind in TASKS)
    raise InvalidInputError(f"unknown label {label!r}", field=field, fix=f"use a label of a task ({valid})")


def _chunks(values: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


class LabelStore:
    """Stance labels in SQLite or PostgreSQL; thread-safe, each method its own transaction.

    >>> store = LabelStore.open("sqlite:////tmp/labels.db")                      # doctest: +SKIP
    >>> report = store.add([new_label(text="Go Bernie!", actor="Bernie", label="favor")])  # doctest: +SKIP
    >>> report.outcomes[0].status                                                # doctest: +SKIP
    'stored'
    >>> store.training_rows()[0]["target"]                                       # doctest: +SKIP
    'Bernie Sanders'
    """

    def __init__(self, engine: Engine) -> None:
        """Wrap an engine whose database is already at the current schema; use :meth:`open`."""
        self.engine = engine
        self._read = sessionmaker(engine, expire_on_commit=False)
        self._write = sessionmaker(writer(engine), expire_on_commit=False)

    @classmethod
    def open(cls, url: str | URL | None = None) -> LabelStore:
        """Open (creating and migrating as needed) the store at ``url``, ``$SLANT_DATABASE_URL``
        or the default SQLite file."""
        return cls(open_migrated(url if isinstance(url, URL) else database_url(url)))

    @property
    def url(self) -> str:
        """Where the store is, password hidden."""
        return describe(self.engine.url)

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> LabelStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _session(self, *, write: bool = False, commit: bool = True) -> AbstractContextManager[Session]:
        """A session; for writers one transaction holding the write lock (:func:`session_scope`)."""
        factory = self._write if write else self._read
        return session_scope(self.engine.url, factory, write=write, commit=commit)

    # -- writing --------------------------------------------------------------------------------

    def add(
        self, items: Iterable[LabelIn], *, batch_id: str | None = None, dry_run: bool = False
    ) -> WriteReport:
        """Store labels in one transaction (all or nothing), detecting duplicates and conflicts.

        Labels are judged in order, so a later item of the same batch sees the earlier ones.
        With ``dry_run`` the outcomes are worked out and the transaction rolled back (their ids
        are not kept).
        """
        labels = list(items)
        batch = batch_id or uuid.uuid4().hex
        now = datetime.now(UTC)
        with self._session(write=True, commit=not dry_run) as session:
            shas = [text_sha256(item.text) for item in labels]
            text_ids = self._text_ids(session, labels, shas, now)
            keys = {(text_ids[sha], item.task, item.actor) for sha, item in zip(shas, labels, strict=True)}
            # (text_id, task, actor) -> (label id, or -1 - index of a row still to insert; its label)
            current: dict[tuple[int, str, str], tuple[int, str]] = self._current(session, keys)
            rows: list[dict[str, Any]] = []
            pending: list[tuple[Status, int, LabelIn, int, str | None, int | None]] = []
            for sha, item in zip(shas, labels, strict=True):
                key = (text_ids[sha], item.task, item.actor)
                before = current.get(key)
                if before is not None and before[1] == item.label:
                    pending.append(("duplicate", before[0], item, key[0], None, None))
                    continue
                ref = -1 - len(rows)
                rows.append(
                    {
                        "text_id": key[0],
                        "task": item.task,
                        "actor": item.actor,
                        "label": item.label,
                        "annotator": item.annotator,
                        "source": item.source,
                        "corrected_prediction": item.corrected_prediction,
                        "model_version": item.model_version,
                        "batch_id": batch,
                        "created_at": now,
                    }
                )
                status: Status = "stored" if before is None else "conflict"
                prev_label, prev_id = (before[1], before[0]) if before else (None, None)
                pending.append((status, ref, item, key[0], prev_label, prev_id))
                current[key] = (ref, item.label)
            ids: list[int] = []
            if rows:
                ids = list(
                    session.scalars(
                        insert(LabelRow).returning(LabelRow.id, sort_by_parameter_order=True), rows
                    )
                )

            def resolve(ref: int | None) -> int | None:
                return ids[-1 - ref] if ref is not None and ref < 0 else ref

            outcomes = [
                Outcome(
                    st,
                    int(resolve(ref) or 0),
                    tid,
                    _actor_out(item.actor),
                    item.label,
                    prev,
                    resolve(prev_id),
                    task=item.task,
                )
                for st, ref, item, tid, prev, prev_id in pending
            ]
        return WriteReport(batch_id=batch, outcomes=outcomes, committed=not dry_run)

    def add_resumable(
        self,
        items: Iterable[LabelIn],
        *,
        batch_id: str,
        chunk_size: int = IMPORT_CHUNK,
        dry_run: bool = False,
    ) -> WriteReport:
        """Store labels in transactions of ``chunk_size``; again with the same ``batch_id``, only
        what an earlier, interrupted run did not store.

        For a file import: the write lock is held for one chunk at a time, so the service's label
        writes go through meanwhile; the labels of each chunk see those of the chunks before it,
        as in :meth:`add`. ``batch_id`` names the import (the same file with the same options
        gives the same id): a run cut short and started again finds, for each (text, task,
        actor), the labels it stored in order, reports the items it had handled as duplicates
        and judges the rest, so the store ends as one uninterrupted run leaves it (a re-run of
        a finished import stores nothing). A ``dry_run`` is one transaction, rolled back.
        """
        labels = list(items)
        done = self._handled_by(batch_id, labels)
        todo = [i for i in range(len(labels)) if i not in done]
        outcomes: dict[int, Outcome] = dict(done)
        for n, chunk in enumerate(_chunks(todo, max(len(todo), 1) if dry_run else chunk_size)):
            if n and self.backend == "sqlite":
                # SQLite keeps no queue for its write lock: a writer waiting for it retries every
                # 100 ms at most (sqlite3's busy handler) and would miss the instant between two
                # chunks. PostgreSQL grants the advisory lock to waiters in turn.
                time.sleep(_SQLITE_TURN)
            report = self.add([labels[i] for i in chunk], batch_id=batch_id, dry_run=dry_run)
            outcomes.update(zip(chunk, report.outcomes, strict=True))
        return WriteReport(
            batch_id, [outcomes[i] for i in range(len(labels))], committed=not dry_run, resumed=len(done)
        )

    def _handled_by(self, batch_id: str, labels: list[LabelIn]) -> dict[int, Outcome]:
        """The items (by index) an earlier run of ``batch_id`` handled, as duplicate outcomes.

        Per (text, task, actor), that run judged a prefix of its items in order: each one it stored
        is the next of the batch's labels there, the others repeated the label then current. So
        the items up to the one matching the batch's last label are done; the rest are judged again
        (a repeat of the current label is a duplicate again).
        """
        with self._session() as session:
            ours = session.execute(
                select(LabelRow.id, LabelRow.text_id, LabelRow.task, LabelRow.actor, LabelRow.label)
                .where(LabelRow.batch_id == batch_id)
                .order_by(LabelRow.id)
            ).all()
            if not ours:
                return {}
            text_ids = sorted({row.text_id for row in ours})
            sha_of: dict[int, str] = {}
            history: dict[tuple[int, str, str], list[tuple[int, str]]] = {}
            for chunk in _chunks(text_ids):
                for tid, sha in session.execute(
                    select(TextRow.id, TextRow.sha256).where(TextRow.id.in_(chunk))
                ):
                    sha_of[tid] = sha
                for lid, tid, task, actor, label in session.execute(
                    select(LabelRow.id, LabelRow.text_id, LabelRow.task, LabelRow.actor, LabelRow.label)
                    .where(LabelRow.text_id.in_(chunk))
                    .order_by(LabelRow.id)
                ):
                    history.setdefault((tid, task, actor), []).append((lid, label))
        by_sha = {sha: tid for tid, sha in sha_of.items()}
        stored: dict[tuple[int, str, str], list[tuple[int, str]]] = {}
        for row in ours:
            stored.setdefault((row.text_id, row.task, row.actor), []).append((row.id, row.label))
        # Per key: the batch's labels still to match, and the label current before the next of them.
        left = {key: list(reversed(rows)) for key, rows in stored.items()}
        before: dict[tuple[int, str, str], int] = {}
        for key, rows in stored.items():
            prior = [lid for lid, _ in history.get(key, []) if lid < rows[0][0]]
            before[key] = prior[-1] if prior else 0
        done: dict[int, Outcome] = {}
        for i, item in enumerate(labels):
            text_id = by_sha.get(text_sha256(item.text))
            if text_id is None:
                continue
            key = (text_id, item.task, item.actor)
            pending = left.get(key)
            if not pending:
                continue
            repeated = before[key]
            if item.label == pending[-1][1]:
                repeated = before[key] = pending.pop()[0]
            done[i] = Outcome(
                "duplicate", repeated, text_id, _actor_out(item.actor), item.label, task=item.task
            )
        return done

    def _text_ids(
        self, session: Session, labels: list[LabelIn], shas: list[str], now: datetime
    ) -> dict[str, int]:
        """sha256 -> text id for every label's text, inserting the texts the store lacks."""
        first: dict[str, LabelIn] = {}
        for sha, item in zip(shas, labels, strict=True):
            first.setdefault(sha, item)
            if first[sha].source_ref is None and item.source_ref is not None:
                first[sha] = LabelIn(**{**first[sha].__dict__, "source_ref": item.source_ref})
        ids: dict[str, int] = {}
        for chunk in _chunks(sorted(first)):
            found = session.execute(
                select(TextRow.sha256, TextRow.id, TextRow.source_ref).where(TextRow.sha256.in_(chunk))
            )
            for sha, tid, ref in found:
                ids[sha] = tid
                if ref is None and first[sha].source_ref is not None:
                    session.execute(
                        update(TextRow).where(TextRow.id == tid).values(source_ref=first[sha].source_ref)
                    )
        new = [
            {"sha256": sha, "text": item.text, "source_ref": item.source_ref, "created_at": now}
            for sha, item in first.items()
            if sha not in ids
        ]
        if new:
            for sha, tid in session.execute(insert(TextRow).returning(TextRow.sha256, TextRow.id), new):
                ids[sha] = tid
        return ids

    def _current(
        self, session: Session, keys: set[tuple[int, str, str]]
    ) -> dict[tuple[int, str, str], tuple[int, str]]:
        text_ids = sorted({tid for tid, _, _ in keys})
        out: dict[tuple[int, str, str], tuple[int, str]] = {}
        for chunk in _chunks(text_ids):
            rows = session.execute(
                select(LabelRow.text_id, LabelRow.task, LabelRow.actor, LabelRow.id, LabelRow.label).where(
                    LabelRow.text_id.in_(chunk), _is_current()
                )
            )
            for tid, task, actor, lid, label in rows:
                if (tid, task, actor) in keys:
                    out[(tid, task, actor)] = (lid, label)
        return out

    # -- reading --------------------------------------------------------------------------------

    def _select(
        self,
        *,
        task: str | None = None,
        actor: str | None = None,
        source: str | None = None,
        label: str | None = None,
        annotator: str | None = None,
        batch_id: str | None = None,
        current_only: bool = False,
    ) -> Select:
        query = select(LabelRow, TextRow, _is_current().label("current")).join(LabelRow.text_row)
        if task is not None:
            query = query.where(LabelRow.task == check_task(task))
        if actor is not None:
            query = query.where(LabelRow.actor == canonical_actor(actor))
        if source is not None:
            query = query.where(LabelRow.source == source)
        if label is not None:
            query = query.where(LabelRow.label == label_filter(label, task))
        if annotator is not None:
            query = query.where(LabelRow.annotator == storable(annotator, field="annotator"))
        if batch_id is not None:
            query = query.where(LabelRow.batch_id == storable(batch_id, field="batch_id"))
        if current_only:
            query = query.where(_is_current())
        return query

    @staticmethod
    def _record(row: LabelRow, text_row: TextRow, current: Any) -> LabelRecord:
        return LabelRecord(
            id=row.id,
            text_id=row.text_id,
            text=text_row.text,
            text_sha256=text_row.sha256,
            source_ref=text_row.source_ref,
            task=row.task,
            actor=_actor_out(row.actor),
            label=row.label,
            annotator=row.annotator,
            source=row.source,
            corrected_prediction=row.corrected_prediction,
            model_version=row.model_version,
            batch_id=row.batch_id,
            created_at=row.created_at,
            current=bool(current),
        )

    def labels(
        self,
        *,
        task: str | None = None,
        actor: str | None = None,
        source: str | None = None,
        label: str | None = None,
        annotator: str | None = None,
        batch_id: str | None = None,
        current_only: bool = False,
        newest_first: bool = True,
        limit: int = 100,
        offset: int = 0,
    ) -> LabelPage:
        """One page of labels matching every filter given, and how many match in all."""
        query = self._select(
            task=task,
            actor=actor,
            source=source,
            label=label,
            annotator=annotator,
            batch_id=batch_id,
            current_only=current_only,
        )
        with self._session() as session:
            total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
            order = LabelRow.id.desc() if newest_first else LabelRow.id.asc()
            rows = session.execute(query.order_by(order).limit(limit).offset(offset)).all()
            return LabelPage(items=[self._record(*row) for row in rows], total=int(total))

    def iter_labels(self, *, current_only: bool = True, task: str | None = None) -> Iterator[LabelRecord]:
        """Every label (by default only the current one of each (text, task, actor)), oldest first;
        only those of ``task`` when given.

        Read in pages inside one transaction, so memory stays flat and the view is consistent.
        """
        with self._session() as session:
            last = 0
            while True:
                page = session.execute(
                    self._select(current_only=current_only, task=task)
                    .where(LabelRow.id > last)
                    .order_by(LabelRow.id)
                    .limit(_CHUNK)
                ).all()
                if not page:
                    return
                for row in page:
                    yield self._record(*row)
                last = page[-1][0].id

    def training_rows(self, *, task: str = "stance", dataset: str = "labels") -> list[dict[str, Any]]:
        """The current labels of ``task`` as training rows. Stance rows are shaped like
        ``training.data.load_rows`` output, ``{"text", "target", "label", "dataset"}``; bias rows
        are ``{"text", "task", "label", "dataset"}``."""
        if task == "stance":
            return [
                {"text": r.text.strip(), "target": r.actor, "label": r.label, "dataset": dataset}
                for r in self.iter_labels(current_only=True, task="stance")
            ]
        return [
            {"text": r.text.strip(), "task": r.task, "label": r.label, "dataset": dataset}
            for r in self.iter_labels(current_only=True, task=check_task(task))
        ]

    def recent_texts(self, *, limit: int = 50, since: datetime | None = None) -> list[TextRecord]:
        """Texts newest first (optionally only those stored after ``since``), with label counts."""
        n_labels = select(func.count(LabelRow.id)).where(LabelRow.text_id == TextRow.id).scalar_subquery()
        query = select(TextRow, n_labels).order_by(TextRow.created_at.desc(), TextRow.id.desc())
        if since is not None:
            query = query.where(TextRow.created_at > since)
        with self._session() as session:
            return [
                TextRecord(t.id, t.sha256, t.text, t.source_ref, t.created_at, int(n))
                for t, n in session.execute(query.limit(limit))
            ]

    def current_labels_by_text(self, text_ids: Iterable[int]) -> dict[int, dict[str, str]]:
        """The current stance label of each labelled actor of each text: ``{text_id: {actor: label}}``.

        Texts without stance labels are left out. Used by the review queue to know whom to score;
        :meth:`current_bias_labels_by_text` gives the bias tasks' labels.

        >>> store.current_labels_by_text([t.id for t in store.recent_texts()])  # doctest: +SKIP
        {1: {'Bernie Sanders': 'favor'}}
        """
        ids = sorted(set(text_ids))
        out: dict[int, dict[str, str]] = {}
        with self._session() as session:
            for chunk in _chunks(ids):
                rows = session.execute(
                    select(LabelRow.text_id, LabelRow.actor, LabelRow.label)
                    .where(LabelRow.text_id.in_(chunk), LabelRow.task == "stance", _is_current())
                    .order_by(LabelRow.text_id, LabelRow.actor)
                )
                for tid, actor, label in rows:
                    out.setdefault(tid, {})[actor] = label
        return out

    def current_bias_labels_by_text(self, text_ids: Iterable[int]) -> dict[int, dict[str, str]]:
        """The current label of each bias task of each text: ``{text_id: {task: label}}``.

        >>> store.current_bias_labels_by_text([1])  # doctest: +SKIP
        {1: {'leaning': 'left'}}
        """
        ids = sorted(set(text_ids))
        out: dict[int, dict[str, str]] = {}
        with self._session() as session:
            for chunk in _chunks(ids):
                rows = session.execute(
                    select(LabelRow.text_id, LabelRow.task, LabelRow.label)
                    .where(LabelRow.text_id.in_(chunk), LabelRow.task != "stance", _is_current())
                    .order_by(LabelRow.text_id, LabelRow.task)
                )
                for tid, task, label in rows:
                    out.setdefault(tid, {})[task] = label
        return out

    def counts(self) -> dict[str, int]:
        """``texts``, ``labels`` (all, history included) and ``current`` labels in the store."""
        with self._session() as session:
            return {
                "texts": int(session.scalar(select(func.count(TextRow.id))) or 0),
                "labels": int(session.scalar(select(func.count(LabelRow.id))) or 0),
                "current": int(session.scalar(select(func.count(LabelRow.id)).where(_is_current())) or 0),
            }


__all__ = [
    "STANCE_LABELS",
    "TASKS",
    "LabelIn",
    "LabelPage",
    "LabelRecord",
    "LabelStore",
    "Outcome",
    "TextRecord",
    "WriteReport",
    "canonical_actor",
    "label_filter",
    "new_label",
    "normalize_text",
    "storable",
    "text_sha256",
]
