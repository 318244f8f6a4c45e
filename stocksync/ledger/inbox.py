"""Keep every verified channel event in ``inbox_events`` and apply it, in one transaction.

The inbox row is claimed first, on the channel's own event id: a second delivery of the event
finds the row and is acknowledged without touching the ledger (on PostgreSQL a concurrent copy
waits for the first transaction and then sees its row). The event is applied in the same
transaction, so an event is either stored *and* applied or neither; a channel that gets no answer
delivers it again. Events that cannot be applied as they stand are stored, flagged with the
reason, and never raise: the channel would only retry them.

Statuses: ``applied`` (changed the ledger or marked a listing for a push), ``unchanged`` (valid,
but the ledger already held it: a replay under a new id, a stale update), ``stored`` (kept,
nothing to apply: a ping, a count we expected; ``error`` says why when it is not obvious),
``flagged`` (cannot be applied; ``error`` says why, for a person). ``duplicate`` is only ever
reported: the first copy's row stays as it was.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Table, update
from sqlmodel import Session

from stocksync.domain.clock import utcnow
from stocksync.domain.errors import StockSyncError
from stocksync.domain.messages import ChannelQuantity, EventKind, InboundEvent
from stocksync.ledger.ingest import channel_id, ingest_channel_order
from stocksync.ledger.listing_match import find_listing
from stocksync.ledger.results import OrderResult
from stocksync.ledger.sql import conn, insert_ignore
from stocksync.ledger.tables import InboxEventRow, ListingRow

__all__ = [
    "EventOutcome",
    "InboxStatus",
    "IsolationNeededError",
    "ingest_event",
    "stored_headers",
    "store_unparsed",
]

inbox_table: Table = InboxEventRow.__table__  # type: ignore[attr-defined]
listing_table: Table = ListingRow.__table__  # type: ignore[attr-defined]

MAX_EVENT_ID = 200
MAX_TOPIC = 100
_ORDER_KINDS = frozenset(
    {EventKind.ORDER_CREATED, EventKind.ORDER_UPDATED, EventKind.ORDER_CANCELLED, EventKind.REFUND}
)
_SECRET_WORDS = ("secret", "token", "password", "authorization", "cookie", "api-key", "apikey")


@dataclass(frozen=True, slots=True)
class _Channel:
    id: int
    name: str


class IsolationNeededError(Exception):
    """An order refused while applied without a savepoint: roll back, rerun with ``isolate``."""


class InboxStatus(StrEnum):
    APPLIED = "applied"
    UNCHANGED = "unchanged"
    STORED = "stored"
    FLAGGED = "flagged"
    DUPLICATE = "duplicate"


@dataclass(frozen=True, slots=True)
class EventOutcome:
    """What became of one event; the receiver returns these in its answer."""

    event_id: str
    topic: str
    kind: str
    status: InboxStatus
    error: str | None = None
    order: OrderResult | None = None

    def to_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "event_id": self.event_id,
            "topic": self.topic,
            "kind": self.kind,
            "status": self.status.value,
        }
        if self.error:
            found["error"] = self.error
        if self.order is not None:
            found["order"] = self.order.to_dict()
        return found


def ingest_event(
    session: Session,
    channel_name: str,
    headers: Mapping[str, str],
    body: bytes,
    events: Sequence[InboundEvent],
    *,
    known_channel_id: int | None = None,
    isolate: bool = True,
) -> list[EventOutcome]:
    """Store each of ``events`` (parsed from one verified ``body``) and apply it.

    Raises NotFoundError for an unknown channel; every other problem is a flagged outcome.
    ``known_channel_id``: the channel's id, when the caller read it in this transaction already.
    ``isolate=False`` applies orders without a savepoint (two round trips fewer) and raises
    IsolationNeededError instead of flagging a refused order; the caller then rolls back and
    runs the transaction again with ``isolate=True``.
    """
    ch = _Channel(known_channel_id or channel_id(session, channel_name), channel_name)
    kept = stored_headers(headers)
    return [_ingest_one(session, ch, kept, body, event, isolate) for event in events]


def store_unparsed(
    session: Session,
    channel_name: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    topic: str,
    error: str,
    known_channel_id: int | None = None,
) -> EventOutcome:
    """Keep a verified body that could not be parsed, flagged; the same body twice is a duplicate."""
    ch = _Channel(known_channel_id or channel_id(session, channel_name), channel_name)
    event_id = _body_id(body)
    row = _claim(session, ch, event_id, topic, stored_headers(headers), body)
    if row is None:
        return EventOutcome(event_id, topic, EventKind.UNKNOWN.value, InboxStatus.DUPLICATE)
    outcome = EventOutcome(
        event_id, topic, EventKind.UNKNOWN.value, InboxStatus.FLAGGED, f"unreadable: {error}"
    )
    _finish(session, row, outcome)
    return outcome


def stored_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers worth keeping with the event; credentials (a relay's shared secret) are not."""
    return {
        k.lower(): v
        for k, v in headers.items()
        if not any(word in k.lower() for word in _SECRET_WORDS)
    }


def _ingest_one(
    session: Session,
    ch: _Channel,
    headers: dict[str, str],
    body: bytes,
    event: InboundEvent,
    isolate: bool = True,
) -> EventOutcome:
    event_id = event.event_id if 0 < len(event.event_id) <= MAX_EVENT_ID else _body_id(body)
    row = _claim(session, ch, event_id, event.topic, headers, body)
    if row is None:
        return EventOutcome(event_id, event.topic, event.kind.value, InboxStatus.DUPLICATE)
    outcome = _apply(session, ch, event_id, event, isolate)
    _finish(session, row, outcome)
    return outcome


def _apply(
    session: Session, ch: _Channel, event_id: str, event: InboundEvent, isolate: bool
) -> EventOutcome:
    def outcome(status: InboxStatus, error: str | None = None, **kw: Any) -> EventOutcome:
        return EventOutcome(event_id, event.topic, event.kind.value, status, error, **kw)

    if event.kind is EventKind.PING:
        return outcome(InboxStatus.STORED)
    if event.kind in _ORDER_KINDS:
        if event.order is None:
            return outcome(InboxStatus.STORED, "the event carries no order details")
        try:
            # A savepoint: an order refused half-way leaves nothing behind but its flagged row.
            with session.begin_nested() if isolate else nullcontext():
                done = ingest_channel_order(
                    session,
                    ch.id,
                    ch.name,
                    event.order,
                    complete=event.kind is not EventKind.REFUND,
                )
        except StockSyncError as exc:
            if not isolate:
                raise IsolationNeededError(str(exc)) from exc
            return outcome(InboxStatus.FLAGGED, str(exc))
        status = InboxStatus.APPLIED if done.changed else InboxStatus.UNCHANGED
        return outcome(status, order=done.order)
    if event.kind is EventKind.INVENTORY:
        if event.quantity is None:
            return outcome(InboxStatus.STORED, "no count for a listing of this channel")
        status, note = _channel_count(session, ch, event.quantity, event.payload)
        return outcome(status, note)
    return outcome(InboxStatus.FLAGGED, f"no handler for topic {event.topic!r}")


def _channel_count(
    session: Session, ch: _Channel, count: ChannelQuantity, payload: Any
) -> tuple[InboxStatus, str | None]:
    """Mark the listing for a push when the channel shows what we neither expect nor pushed.

    A count equal to our last push is the echo of that push arriving after the channel's own
    orders lowered what we expect; the orders are in the ledger, so it changes nothing. A count
    at another of the channel's locations than the listing's (Shopify) is not the listing's.

    The listing is read without a lock: a flash sale sends one of these per sale and per push,
    and locking the hot listing rows queued them behind every order of the SKU. The mark itself
    is an update of a listing not already dirty, so it waits for a push being recorded (which
    may leave the listing clean) and then marks it; a value read meanwhile at worst marks for a
    push a listing that did not need one.
    """
    item = find_listing(session, ch.id, count.listing_id, count.sku)
    if item is None:
        return InboxStatus.STORED, f"no listing for {count.listing_id!r} on {ch.name!r}"
    if not _same_location(item.refs, payload):
        return InboxStatus.STORED, "a count at a location this listing does not sell from"
    if count.quantity == item.shown_qty:
        return InboxStatus.STORED, None
    if count.quantity == item.pushed_qty:
        return InboxStatus.STORED, f"echo of our push of {item.pushed_qty}"
    marked = conn(session).execute(
        update(listing_table)
        .where(listing_table.c.id == item.id, listing_table.c.dirty.is_(False))
        .values(dirty=True, updated_at=utcnow())
    )
    if marked.rowcount == 0:
        return InboxStatus.STORED, f"the channel shows {count.quantity}; a push is already due"
    return InboxStatus.APPLIED, None


def _same_location(refs: Mapping[str, Any], payload: Any) -> bool:
    """False only when both the listing and the event name a location, and they differ."""
    ours, theirs = (
        refs.get("location_id"),
        payload.get("location_id") if isinstance(payload, dict) else None,
    )
    if ours is None or theirs is None:
        return True
    return _tail(ours) == _tail(theirs)


def _tail(value: Any) -> str:
    """``gid://shopify/Location/905684977`` and ``905684977`` name the same location."""
    return str(value).rsplit("/", 1)[-1]


def _claim(
    session: Session,
    ch: _Channel,
    event_id: str,
    topic: str,
    headers: dict[str, str],
    body: bytes,
) -> int | None:
    values = {
        "channel_id": ch.id,
        "event_id": event_id,
        "topic": topic[:MAX_TOPIC],
        "headers": headers,
        "body": body,
        "status": "received",
        "received_at": utcnow(),
    }
    return insert_ignore(session, inbox_table, values, ["channel_id", "event_id"])


def _finish(session: Session, row_id: int, outcome: EventOutcome) -> None:
    conn(session).execute(
        update(inbox_table)
        .where(inbox_table.c.id == row_id)
        .values(status=outcome.status.value, error=outcome.error, processed_at=utcnow())
    )


def _body_id(body: bytes) -> str:
    """An event id for a body the channel gave none: the same bytes twice are one event."""
    return "sha256:" + hashlib.sha256(body).hexdigest()
