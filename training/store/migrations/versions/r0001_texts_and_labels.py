"""texts and labels

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "texts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("source_ref", sa.String(length=2048), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_texts")),
        sa.UniqueConstraint("sha256", name=op.f("uq_texts_sha256")),
    )
    op.create_index(op.f("ix_texts_created_at"), "texts", ["created_at"])
    op.create_table(
        "labels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("text_id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("label", sa.String(length=16), nullable=False),
        sa.Column("annotator", sa.String(length=200), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("corrected_prediction", _JSON, nullable=True),
        sa.Column("model_version", sa.String(length=200), nullable=True),
        sa.Column("batch_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("label IN ('against', 'neutral', 'favor')", name=op.f("ck_labels_label")),
        sa.CheckConstraint("source IN ('correction', 'import')", name=op.f("ck_labels_source")),
        sa.ForeignKeyConstraint(
            ["text_id"], ["texts.id"], name=op.f("fk_labels_text_id_texts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_labels")),
    )
    op.create_index(op.f("ix_labels_text_actor"), "labels", ["text_id", "actor", "id"])
    op.create_index(op.f("ix_labels_actor"), "labels", ["actor"])
    op.create_index(op.f("ix_labels_source"), "labels", ["source"])
    op.create_index(op.f("ix_labels_batch_id"), "labels", ["batch_id"])
    op.create_index(op.f("ix_labels_created_at"), "labels", ["created_at"])


def downgrade() -> None:
    op.drop_table("labels")
    op.drop_table("texts")
