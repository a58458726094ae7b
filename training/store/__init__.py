"""The label store: labels people give or import, kept for retraining: stance toward an actor, or
a bias task of a whole text (leaning, hyperpartisan, loaded language).

SQLite by default (``~/.local/share/slant/labels.db``), PostgreSQL when ``SLANT_DATABASE_URL``
names one; schema migrations (Alembic) run on open. See ``store.py`` for the conflict policy.

>>> from training.store import LabelStore, new_label                          # doctest: +SKIP
>>> with LabelStore.open() as store:                                          # doctest: +SKIP
...     store.add([new_label(text="Go Bernie!", actor="Bernie", label="favor", annotator="al")])
...     store.add([new_label(text=article, task="leaning", label="left")])
"""

from .db import StoreUnavailableError, database_url, default_database_path
from .files import ImportResult, export_labels, import_file
from .store import (
    LabelIn,
    LabelPage,
    LabelRecord,
    LabelStore,
    Outcome,
    TextRecord,
    WriteReport,
    canonical_actor,
    new_label,
)

__all__ = [
    "ImportResult",
    "LabelIn",
    "LabelPage",
    "LabelRecord",
    "LabelStore",
    "Outcome",
    "StoreUnavailableError",
    "TextRecord",
    "WriteReport",
    "canonical_actor",
    "database_url",
    "default_database_path",
    "export_labels",
    "import_file",
    "new_label",
]
