"""label tasks: stance, leaning, hyperpartisan, loaded_language

Revision ID: 0003
Revises: 0002
Create Date: 2025-02-01

Every existing label becomes a ``stance`` label; ``label`` widens to 32 characters
(``not_hyperpartisan`` has 17). Bias-task labels have no actor (the column holds ``''``); one
CHECK ties each task to its labels and says which tasks take an actor. Duplicates and conflicts
are judged per (text, task, actor), so the lookup index gains the task.

The downgrade deletes the bias-task labels: revision 0002 cannot hold them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

# Frozen copies of the rules at this revision (schema.py may move on; a migration must not).
_OLD_RULE = "label IN ('against', 'neutral', 'favor')"
_RULE = (
    "(task = 'stance' AND label IN ('against', 'neutral', 'favor') AND actor <> '') OR "
    "(task = 'leaning' AND label IN ('left', 'center', 'right') AND actor = '') OR "
    "(task = 'hyperpartisan' AND label IN ('not_hyperpartisan', 'hyperpartisan') AND actor = '') OR "
    "(task = 'loaded_language' AND label IN ('non-biased', 'biased') AND actor = '')"
)


def upgrade() -> None:
    # On SQLite, batch mode rebuilds the table (it cannot drop a CHECK in place); elsewhere it ALTERs.
    with op.batch_alter_table("labels") as batch:
        batch.add_column(sa.Column("task", sa.String(length=16), nullable=False, server_default="stance"))
        batch.alter_column(
            "label", type_=sa.String(length=32), existing_type=sa.String(length=16), existing_nullable=False
        )
        batch.drop_constraint(op.f("ck_labels_label"), type_="check")
        batch.create_check_constraint(op.f("ck_labels_task_label"), _RULE)
        batch.drop_index(op.f("ix_labels_text_actor"))
        batch.create_index(op.f("ix_labels_text_task_actor"), ["text_id", "task", "actor", "id"])
        batch.create_index(op.f("ix_labels_task"), ["task"])


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM labels WHERE task <> 'stance'"))
    with op.batch_alter_table("labels") as batch:
        batch.drop_index(op.f("ix_labels_task"))
        batch.drop_index(op.f("ix_labels_text_task_actor"))
        batch.drop_constraint(op.f("ck_labels_task_label"), type_="check")
        batch.drop_column("task")
        batch.alter_column(
            "label", type_=sa.String(length=16), existing_type=sa.String(length=32), existing_nullable=False
        )
        batch.create_check_constraint(op.f("ck_labels_label"), _OLD_RULE)
        batch.create_index(op.f("ix_labels_text_actor"), ["text_id", "actor", "id"])
