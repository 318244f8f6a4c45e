"""Order-polling cursors per channel, read and moved forward in the ledger's own transactions."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from stocksync.domain.clock import as_utc, utcnow
from stocksync.ledger.lookups import channel_ref
from stocksync.ledger.tables import ChannelCursorRow

__all__ = ["cursor_age_s", "read_cursor", "save_cursor"]

_table = ChannelCursorRow.__table__  # type: ignore[attr-defined]


def read_cursor(session: Session, channel: str) -> str | None:
    """The cursor the next poll of ``channel`` starts from; None before its first poll."""
    channel_id = channel_ref(session, channel).id
    return (
        session.connection()
        .execute(select(_table.c.cursor).where(_table.c.channel_id == channel_id))
        .scalar_one_or_none()
    )


def save_cursor(session: Session, channel: str, cursor: str | None) -> None:
    """Store where the next poll starts; call it in the transaction after the orders it covers."""
    channel_id = channel_ref(session, channel).id
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    values = {"channel_id": channel_id, "cursor": cursor, "polled_at": utcnow()}
    stmt = dialect.insert(_table).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["channel_id"], set_={"cursor": cursor, "polled_at": values["polled_at"]}
    )
    session.connection().execute(stmt)


def cursor_age_s(session: Session, channel: str) -> float | None:
    """Seconds since ``channel``'s cursor was last saved; None before its first poll."""
    channel_id = channel_ref(session, channel).id
    polled = (
        session.connection()
        .execute(select(_table.c.polled_at).where(_table.c.channel_id == channel_id))
        .scalar_one_or_none()
    )
    if polled is None:
        return None
    return (utcnow() - as_utc(polled)).total_seconds()
