"""Alembic migrations of the label store (run by ``LabelStore.open``; no alembic.ini needed)."""
