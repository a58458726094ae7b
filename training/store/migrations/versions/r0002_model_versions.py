"""model versions (the registry index)

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-15
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "model_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=2048), nullable=False),
        sa.Column("parent", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("promoted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("metrics", _JSON, nullable=True),
        sa.Column("gate", _JSON, nullable=True),
        sa.Column("events", _JSON, nullable=False),
        sa.CheckConstraint(
            "status IN ('candidate', 'promoted', 'rejected', 'retired', 'rolled_back')",
            name=op.f("ck_model_versions_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_versions")),
        sa.UniqueConstraint("version", name=op.f("uq_model_versions_version")),
    )
    op.create_index(op.f("ix_model_versions_status"), "model_versions", ["status"])


def downgrade() -> None:
    op.drop_index(op.f("ix_model_versions_status"), table_name="model_versions")
    op.drop_table("model_versions")
