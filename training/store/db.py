"""Where the label store lives and how it is reached: database URLs, engines and migrations.

SQLite (a file, no set-up) is the default; PostgreSQL is used when ``SLANT_DATABASE_URL`` names one
(``postgresql://user:pass@host/db``, driven by psycopg 3). Every open runs the Alembic migrations
up to head, so a new or older store is brought to the current schema first.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from model.errors import ConfigError, SlantError

ENV_VAR = "SLANT_DATABASE_URL"
MIGRATIONS = Path(__file__).resolve().with_name("migrations")

# Every writer takes this PostgreSQL advisory lock (SQLite: BEGIN IMMEDIATE), so the check for an
# existing label and the insert that follows cannot interleave with another writer's.
_PG_WRITE_LOCK = 0x736C616E74  # "slant"
_WRITE = "slant_write"


class StoreUnavailableError(SlantError):
    """The label store cannot be opened or reached right now (the service answers 503)."""

    code = "store_unavailable"
    retry_after = 5


def default_database_path() -> Path:
    """``$XDG_DATA_HOME/slant/labels.db``, by default ``~/.local/share/slant/labels.db``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "slant" / "labels.db"


def database_url(value: str | None = None) -> URL:
    """The store's URL: ``value``, else ``$SLANT_DATABASE_URL``, else the default SQLite file.

    A bare path means an SQLite file; ``postgresql://`` and ``postgres://`` are driven by psycopg 3.

    >>> database_url("postgresql://u@db/labels").drivername
    'postgresql+psycopg'
    >>> database_url("/tmp/labels.db").render_as_string()
    'sqlite:////tmp/labels.db'
    """
    raw = (value if value is not None and value.strip() else os.environ.get(ENV_VAR) or "").strip()
    if not raw:
        return URL.create("sqlite", database=str(default_database_path()))
    if "://" not in raw:
        return URL.create("sqlite", database=str(Path(raw).expanduser().resolve()))
    try:
        url = make_url(raw)
    except ArgumentError:
        raise ConfigError(
            f"{ENV_VAR} is not a database URL: {_hide(raw)!r}",
            fix="use sqlite:////path/to/labels.db or postgresql://user:password@host:5432/dbname",
        ) from None
    backend = url.get_backend_name()
    if backend == "sqlite":
        if url.drivername not in ("sqlite", "sqlite+pysqlite"):
            raise ConfigError(
                f"SQLite driver {url.drivername!r} is not supported", fix="use sqlite:///path/to/labels.db"
            )
        if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
            raise ConfigError(
                "an in-memory SQLite label store would lose every label when the process ends",
                fix="give a file: sqlite:////path/to/labels.db (or leave SLANT_DATABASE_URL unset)",
            )
        return url.set(drivername="sqlite", database=str(Path(url.database).expanduser()))
    if backend in ("postgresql", "postgres"):
        if url.drivername not in ("postgresql", "postgres", "postgresql+psycopg"):
            raise ConfigError(
                f"PostgreSQL driver {url.drivername.partition('+')[2]!r} is not supported",
                fix="use postgresql+psycopg://... (or plain postgresql://, which means the same)",
            )
        return url.set(drivername="postgresql+psycopg")
    raise ConfigError(
        f"database {backend!r} is not supported for the label store",
        fix="use SQLite (sqlite:////path/to/labels.db) or PostgreSQL (postgresql://user@host/dbname)",
    )


def describe(url: URL) -> str:
    """The URL with any password hidden, for messages and logs."""
    return url.render_as_string(hide_password=True)


def _hide(raw: str) -> str:
    try:
        return describe(make_url(raw))
    except ArgumentError:
        return raw.split("@")[-1] if "@" in raw else raw


def create_store_engine(url: URL) -> Engine:
    """An engine for ``url`` with the store's connection rules (SQLite: WAL, foreign keys, own BEGIN)."""
    if url.get_backend_name() != "sqlite":
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise ConfigError(
                "a PostgreSQL label store needs the psycopg package", fix="pip install 'slant[postgres]'"
            ) from None
        return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 5})
    path = Path(str(url.database))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreUnavailableError(
            f"cannot create the folder {path.parent} for the label store: {exc.strerror or exc}",
            fix=f"make it writable, or point {ENV_VAR} at another file or a PostgreSQL database",
        ) from None
    # timeout: how long a writer waits for another writer's lock before "database is locked".
    engine = create_engine(url, connect_args={"timeout": 15})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, record: Any) -> None:
        # sqlite3's legacy mode issues its own BEGINs (not before SELECT or DDL); turn it off and
        # begin explicitly below, so every transaction really is one.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the write lock up front: a deferred transaction that reads and then writes
        # can fail with SQLITE_BUSY instead of waiting its turn.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "BEGIN")

    return engine


def writer(engine: Engine) -> Engine:
    """The same engine, marked so that its transactions begin as writers."""
    return engine.execution_options(**{_WRITE: True})


def lock_for_writing(conn: Connection) -> None:
    """Serialise writers on PostgreSQL (SQLite's BEGIN IMMEDIATE already has)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_WRITE_LOCK})


def alembic_config(connection: Connection | None = None) -> Any:
    """Alembic's configuration for the store's migrations, without an alembic.ini."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("file_template", "r%%(rev)s_%%(slug)s")
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the store's schema to ``revision`` (from empty, or from any older revision)."""
    from alembic import command
    from alembic.util.exc import CommandError

    with writer(engine).begin() as conn:
        lock_for_writing(conn)
        try:
            command.upgrade(alembic_config(conn), revision)
        except CommandError as exc:
            raise ConfigError(
                f"cannot migrate the label store at {describe(engine.url)}: {exc}",
                fix="a newer slant may have written it: upgrade slant, or use another database",
            ) from None


def open_migrated(url: URL) -> Engine:
    """An engine for ``url`` whose schema is brought to head; disposed again if that fails."""
    engine = create_store_engine(url)
    try:
        with translate_errors(url):
            upgrade(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine


def new_revision(message: str) -> None:
    """Write a migration for the changes in ``schema.py`` (a developer tool; review what it writes)."""
    from alembic import command

    with tempfile.TemporaryDirectory() as tmp:
        engine = create_store_engine(URL.create("sqlite", database=f"{tmp}/revision.db"))
        upgrade(engine)
        with engine.begin() as conn:
            command.revision(alembic_config(conn), message=message, autogenerate=True)
        engine.dispose()


@contextmanager
def session_scope(
    url: URL, factory: Callable[[], Session], *, write: bool = False, commit: bool = True
) -> Iterator[Session]:
    """A session of the label store or the registry; for writers one transaction holding the write
    lock, committed unless ``commit`` is false or the block raised, rolled back otherwise."""
    with translate_errors(url), factory() as session:
        if not write:
            yield session
            return
        try:
            lock_for_writing(session.connection())
            yield session
            if commit:
                session.commit()
            else:
                session.rollback()
        except BaseException:
            session.rollback()
            raise


@contextmanager
def translate_errors(url: URL) -> Iterator[None]:
    """Turn a lost or refused database connection into StoreUnavailableError (a 503, not a 500)."""
    try:
        yield
    except (OperationalError, InterfaceError) as exc:
        reason = str(exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc)
        reason = reason.strip().splitlines()[0] if reason.strip() else type(exc).__name__
        raise StoreUnavailableError(
            f"the label store at {describe(url)} cannot be used: {reason}",
            fix=f"check that the database is running and reachable and that {ENV_VAR} is right; then retry",
        ) from None
