"""Time as the ledger keeps it: aware datetimes in UTC."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["as_utc", "utcnow"]


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(at: datetime) -> datetime:
    """A timestamp read back from the ledger, with its zone: SQLite returns them without one, and
    the ledger writes them in UTC."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
