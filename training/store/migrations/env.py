"""Alembic environment of the label store: the store passes its open connection in
``config.attributes["connection"]``; the target metadata is the store's ORM schema.

To write a new revision after changing ``training/store/schema.py``::

    python -c "from training.store.db import new_revision; new_revision('add x to labels')"
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection

from training.store.schema import Base

VERSION_TABLE = "slant_alembic_version"  # not alembic's default name: the database may be shared


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        version_table=VERSION_TABLE,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no connection and no sqlalchemy.url: open the store with LabelStore.open")
    with create_engine(url).begin() as conn:
        _run(conn)


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported; run them against a database")
run()
