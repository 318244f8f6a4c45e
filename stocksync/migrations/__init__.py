"""Alembic migrations of the ledger schema (``stocksync db upgrade``)."""
