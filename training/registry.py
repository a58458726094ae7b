"""The model registry: one directory per model version, indexed in the label store's database.

Layout::

    $SLANT_REGISTRY (default ~/.local/share/slant/registry)/
        r1/     a complete model directory (weights, tokenizer, slant.json, README.md model card,
                eval_report.json) plus gate.json and heldout_labels.jsonl from ``slant retrain``
        r2/
        ...

The index is the ``model_versions`` table next to the labels (SQLite or PostgreSQL, see
``training.store``): version, path, parent, status, metrics, the gate's decision and an event log.
At most one version is ``promoted``: the one the service should serve. Until something is
promoted, the model served before the registry existed (the shipped ``models/default``, or
``$SLANT_MODEL``) is registered as version ``default`` and counts as promoted.

>>> with ModelRegistry.open() as registry:                                   # doctest: +SKIP
...     print(registry.current().version, [v.version for v in registry.versions()])
default ['default', 'r1']
"""

from __future__ import annotations

import os
import re
import shutil
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from model.errors import SlantError
from model.loading import META_FILE, check_model_dir

from .gate import GateDecision
from .store.db import (
    database_url,
    describe,
    open_migrated,
    session_scope,
    writer,
)
from .store.schema import ModelVersionRow

ENV_VAR = "SLANT_REGISTRY"
DEFAULT_VERSION = "default"
_NUMBERED = re.compile(r"r(\d+)")


class RegistryError(SlantError):
    """A registry operation that cannot be done as asked (unknown version, nothing to roll back to)."""

    code = "registry_error"


def default_registry_dir() -> Path:
    """``$SLANT_REGISTRY``, else ``$XDG_DATA_HOME/slant/registry`` (``~/.local/share/slant/registry``)."""
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "slant" / "registry"


@dataclass(frozen=True)
class ModelVersion:
    """One registered version, as the index holds it."""

    version: str
    path: str
    parent: str | None
    status: str
    created_at: datetime
    promoted_at: datetime | None
    metrics: dict[str, Any] | None
    gate: dict[str, Any] | None
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def gate_passed(self) -> bool | None:
        """The gate's verdict, or None when no gate was run (the ``default`` version)."""
        return None if self.gate is None else bool(self.gate.get("passed"))

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["created_at"] = self.created_at.isoformat(timespec="seconds")
        out["promoted_at"] = self.promoted_at.isoformat(timespec="seconds") if self.promoted_at else None
        return out

    @classmethod
    def of(cls, row: ModelVersionRow) -> ModelVersion:
        return cls(
            version=row.version,
            path=row.path,
            parent=row.parent,
            status=row.status,
            created_at=row.created_at,
            promoted_at=row.promoted_at,
            metrics=row.metrics,
            gate=row.gate,
            events=list(row.events or []),
        )


def _now() -> datetime:
    return datetime.now(UTC)


def _event(action: str, **details: Any) -> dict[str, Any]:
    return {"at": _now().isoformat(timespec="seconds"), "action": action, **details}


class ModelRegistry:
    """Model versions on disk under ``root``, indexed in the label store's database; thread-safe.

    >>> registry = ModelRegistry.open("sqlite:////tmp/labels.db", "/tmp/registry")   # doctest: +SKIP
    >>> registry.promote("r2").status                                                # doctest: +SKIP
    'promoted'
    """

    def __init__(self, engine: Engine, root: str | Path | None = None) -> None:
        """Wrap an engine whose database is at the current schema (``LabelStore.open`` or
        :meth:`open` migrate it); ``root`` defaults to :func:`default_registry_dir`."""
        self.engine = engine
        self.root = Path(root).expanduser() if root else default_registry_dir()
        self._read = sessionmaker(engine, expire_on_commit=False)
        self._write = sessionmaker(writer(engine), expire_on_commit=False)
        self._owns_engine = False

    @classmethod
    def open(cls, database: str | None = None, root: str | Path | None = None) -> ModelRegistry:
        """Open the index in ``database`` (default: the label store's, ``$SLANT_DATABASE_URL``),
        creating and migrating it as needed."""
        registry = cls(open_migrated(database_url(database)), root)
        registry._owns_engine = True
        return registry

    @classmethod
    def peek_promoted(
        cls, database: str | None = None, root: str | Path | None = None
    ) -> ModelVersion | None:
        """The promoted version, or None; creates nothing when the default SQLite file does not exist
        (so ``slant serve`` on a fresh machine leaves no database behind)."""
        url = database_url(database)
        if url.get_backend_name() == "sqlite" and not Path(str(url.database)).exists():
            return None
        with cls.open(database, root) as registry:
            return registry.promoted()

    def close(self) -> None:
        if self._owns_engine:
            self.engine.dispose()

    def __enter__(self) -> ModelRegistry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def url(self) -> str:
        return describe(self.engine.url)

    def _session(self, *, write: bool = False) -> AbstractContextManager[Session]:
        return session_scope(self.engine.url, self._write if write else self._read, write=write)

    # -- reading --------------------------------------------------------------------------------

    def versions(self) -> list[ModelVersion]:
        """Every registered version, oldest first."""
        with self._session() as session:
            rows = session.scalars(select(ModelVersionRow).order_by(ModelVersionRow.id))
            return [ModelVersion.of(r) for r in rows]

    def get(self, version: str) -> ModelVersion:
        """One version; RegistryError naming the known ones when it does not exist."""
        with self._session() as session:
            row = session.scalar(select(ModelVersionRow).where(ModelVersionRow.version == version))
            if row is not None:
                return ModelVersion.of(row)
        known = ", ".join(v.version for v in self.versions()) or "none yet"
        raise RegistryError(
            f"no model version {version!r} in the registry at {self.url} (versions: {known})",
            fix="see `slant models list`",
        )

    def promoted(self) -> ModelVersion | None:
        """The version the service should serve, or None before anything was registered."""
        with self._session() as session:
            row = session.scalar(select(ModelVersionRow).where(ModelVersionRow.status == "promoted"))
            return ModelVersion.of(row) if row is not None else None

    def current(self, default_model: str | Path | None = None) -> ModelVersion:
        """The promoted version; with none, registers ``default_model`` (default: the shipped model
        or ``$SLANT_MODEL``) as version ``default``, promoted, and returns it."""
        found = self.promoted()
        if found is not None:
            return found
        if default_model is None:
            from model.predictor import default_model_path

            default_model = default_model_path()
        path = Path(default_model)
        source = str(path.resolve()) if path.is_dir() else str(default_model)
        with self._session(write=True) as session:
            row = session.scalar(select(ModelVersionRow).where(ModelVersionRow.version == DEFAULT_VERSION))
            promoted = session.scalar(select(ModelVersionRow).where(ModelVersionRow.status == "promoted"))
            if promoted is not None:  # another process got there first
                return ModelVersion.of(promoted)
            now = _now()
            if row is None:
                row = ModelVersionRow(
                    version=DEFAULT_VERSION,
                    path=source,
                    parent=None,
                    status="promoted",
                    created_at=now,
                    promoted_at=now,
                    metrics=None,
                    gate=None,
                    events=[_event("registered", note="the model served before anything was promoted")],
                )
                session.add(row)
            else:
                row.status, row.promoted_at = "promoted", now
                row.events = [*row.events, _event("promoted", note="nothing else was promoted")]
            session.flush()
            return ModelVersion.of(row)

    # -- writing --------------------------------------------------------------------------------

    def reserve(self) -> tuple[str, Path]:
        """A new version id (``r1``, ``r2``, ...) and its empty directory under the root.

        The directory is the reservation: two retrains never get the same id. Remove it with
        :meth:`release` if the version is never registered.
        """
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RegistryError(
                f"cannot create the registry folder {self.root}: {exc.strerror or exc}",
                fix=f"make it writable, or point {ENV_VAR} at another folder",
            ) from None
        taken = [v.version for v in self.versions()] + [p.name for p in self.root.iterdir()]
        numbers = [int(m.group(1)) for name in taken if (m := _NUMBERED.fullmatch(name))]
        n = max(numbers, default=0) + 1
        while True:
            path = self.root / f"r{n}"
            try:
                path.mkdir()
            except FileExistsError:
                n += 1
                continue
            return path.name, path

    def release(self, path: Path) -> None:
        """Remove a reserved directory whose version was never registered."""
        shutil.rmtree(path, ignore_errors=True)

    def register(
        self,
        version: str,
        path: str | Path,
        *,
        parent: str | None,
        metrics: dict[str, Any] | None = None,
        gate: GateDecision | None = None,
        note: str | None = None,
    ) -> ModelVersion:
        """Index a finished model directory: ``rejected`` when the gate failed, else ``candidate``."""
        path = Path(path).resolve()
        check_model_dir(path)
        status = "rejected" if gate is not None and not gate.passed else "candidate"
        details: dict[str, Any] = {"status": status}
        if note:
            details["note"] = note
        row = ModelVersionRow(
            version=version,
            path=str(path),
            parent=parent,
            status=status,
            created_at=_now(),
            promoted_at=None,
            metrics=metrics,
            gate=gate.to_json() if gate is not None else None,
            events=[_event("registered", **details)],
        )
        try:
            with self._session(write=True) as session:
                session.add(row)
        except IntegrityError:
            raise RegistryError(
                f"model version {version!r} is already registered", fix="reserve a new version"
            ) from None
        return ModelVersion.of(row)

    def promote(self, version: str, *, force: bool = False, reason: str | None = None) -> ModelVersion:
        """Make ``version`` the promoted one; the one it replaces becomes ``retired``.

        A version that failed the promotion gate is refused unless ``force`` (recorded in its events).
        """
        target = self.get(version)
        if target.status == "promoted":
            return target
        if target.gate_passed is False and not force:
            reasons = "; ".join(target.gate.get("reasons", [])) if target.gate else ""
            raise RegistryError(
                f"model version {version} failed the promotion gate ({reasons})",
                fix=f"promote it anyway with `slant models promote {version} --force`",
            )
        self._check_files(target)
        action = "promoted (forced)" if force and target.gate_passed is False else "promoted"
        return self._switch(version, action, reason=reason, forced=force and target.gate_passed is False)

    def rollback(self) -> tuple[ModelVersion, ModelVersion]:
        """Go back to the previously promoted version: (the version left, the version now promoted).

        The version left becomes ``rolled_back`` (a second rollback goes one further back).
        """
        current = self.promoted()
        if current is None:
            raise RegistryError(
                "nothing is promoted, so there is nothing to roll back", fix="see `slant models list`"
            )
        earlier = [v for v in self.versions() if v.status == "retired" and v.promoted_at is not None]
        if not earlier:
            raise RegistryError(
                f"no version was promoted before {current.version}, so there is nothing to roll back to",
                fix="promote a version by name with `slant models promote VERSION`",
            )
        target = max(earlier, key=lambda v: v.promoted_at or datetime.min.replace(tzinfo=UTC))
        self._check_files(target)
        now_promoted = self._switch(target.version, "promoted (rollback)", leaving_status="rolled_back")
        return self.get(current.version), now_promoted

    def _check_files(self, version: ModelVersion) -> None:
        path = Path(version.path)
        if version.version == DEFAULT_VERSION and not path.is_absolute() and not path.exists():
            return  # a hub id registered as the default
        check_model_dir(path)
        if not (path / META_FILE).exists() and version.version != DEFAULT_VERSION:
            raise RegistryError(f"{path} has no {META_FILE}", fix="re-run `slant retrain`")

    def _switch(
        self,
        version: str,
        action: str,
        *,
        reason: str | None = None,
        forced: bool = False,
        leaving_status: str = "retired",
    ) -> ModelVersion:
        with self._session(write=True) as session:
            target = session.scalar(select(ModelVersionRow).where(ModelVersionRow.version == version))
            if target is None:
                raise RegistryError(f"no model version {version!r}", fix="see `slant models list`")
            old = session.scalar(select(ModelVersionRow).where(ModelVersionRow.status == "promoted"))
            details: dict[str, Any] = {"previous": old.version if old is not None else None}
            if forced:
                details["forced"] = True
            if reason:
                details["reason"] = reason
            if old is not None and old.id != target.id:
                old.status = leaving_status
                verb = "rolled back" if leaving_status == "rolled_back" else "retired"
                old.events = [*old.events, _event(verb, replaced_by=version)]
                session.flush()  # at most one promoted row at any moment
            target.status = "promoted"
            target.promoted_at = _now()
            target.events = [*target.events, _event(action, **details)]
            session.flush()
            return ModelVersion.of(target)
