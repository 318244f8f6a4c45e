"""What the webhook receiver does in one transaction: check that the channel named in the URL
exists with the URL's kind, then store the events in the inbox and apply them, or keep a body
that could not be read, flagged (see :mod:`stocksync.ledger.inbox`).

The check and the store share the transaction, so the channel's id is read once per webhook.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import select
from sqlmodel import Session

from stocksync.domain.errors import NotFoundError
from stocksync.domain.messages import InboundEvent
from stocksync.ledger.inbox import EventOutcome, ingest_event, store_unparsed
from stocksync.ledger.sql import conn
from stocksync.ledger.tables import ChannelRow

__all__ = ["receive_events", "receive_unreadable"]


def receive_events(
    session: Session,
    *,
    kind: str,
    channel: str,
    headers: Mapping[str, str],
    body: bytes,
    events: Sequence[InboundEvent],
    isolate: bool,
) -> list[EventOutcome]:
    """Store and apply ``events`` (parsed from ``body``); NotFoundError unless ``channel`` is a
    ``kind`` channel. ``isolate``: as in :func:`stocksync.ledger.inbox.ingest_event`."""
    found = _channel_id(session, kind, channel)
    return ingest_event(
        session, channel, headers, body, events, known_channel_id=found, isolate=isolate
    )


def receive_unreadable(
    session: Session,
    *,
    kind: str,
    channel: str,
    headers: Mapping[str, str],
    body: bytes,
    topic: str,
    error: str,
) -> EventOutcome:
    """Keep a verified ``body`` that could not be parsed or applied, flagged with ``error``;
    NotFoundError unless ``channel`` is a ``kind`` channel."""
    found = _channel_id(session, kind, channel)
    return store_unparsed(
        session, channel, headers, body, topic=topic, error=error, known_channel_id=found
    )


def _channel_id(session: Session, kind: str, channel: str) -> int:
    row = (
        conn(session)
        .execute(select(ChannelRow.id, ChannelRow.kind).where(ChannelRow.name == channel))
        .first()
    )
    if row is None or row[1] != kind:
        raise NotFoundError(f"{kind} channel", channel)
    return int(row[0])
