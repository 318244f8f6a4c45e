"""Apply a channel's view of an order to the ledger: the same call for webhooks and order polls.

A channel reports an order's *state* (how many units of each line are cancelled, refunded,
restocked), not what changed, and it may report it twice, late or out of order. So every call
compares the channel's numbers with what the ledger already holds for the order and applies only
the difference, and only upwards: a stale update asks for less than is already done and changes
nothing. Each change claims an idempotency key made of the order, the line and the state it brings
the line to, so two deliveries racing each other apply it once.

What the channel's numbers mean for the warehouse, per line (``Q`` units ordered):

- units *dropped* from the order = cancelled + refunded (at most ``Q``). Dropped units that have
  not shipped will not ship: the ledger cancels them, releasing their stock. Shopify's refund of an
  unfulfilled unit ("cancel" restock) and WooCommerce's refund of an unshipped one land here.
- dropped units that had shipped come back on hand only as far as the channel restocked them;
  a restock counts against the unshipped units first (the channel does not say which units it
  restocked), so a unit is never put back on hand that may still be with the customer.

A ``refunds/create`` body carries one refund's units, not the order's totals; read as "at least
this much" it never double-counts, and the order's own update (which follows every refund) and
the order poll bring the totals.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlmodel import Session

from stocksync.domain.errors import (
    InvalidRequestError,
    LedgerError,
    NotFoundError,
    UnmappableLineError,
)
from stocksync.domain.messages import ChannelOrder, ChannelOrderLine
from stocksync.domain.orders import Line
from stocksync.ledger.listing_match import skus_for_lines
from stocksync.ledger.listings import listing_scope
from stocksync.ledger.orders import (
    cancel_order,
    open_order,
    order_result,
    record_order,
)
from stocksync.ledger.results import LineIn, OrderResult
from stocksync.ledger.returns import restock_return
from stocksync.ledger.sql import conn, lock_stock
from stocksync.ledger.tables import ChannelRow, OrderRow

__all__ = [
    "LineChange",
    "OrderIngest",
    "OrderNotRecordedError",
    "channel_id",
    "ingest_channel_order",
    "ingest_order",
    "line_change",
    "recorded_lines",
]


class OrderNotRecordedError(LedgerError):
    """A partial view of an order (one refund) arrived before the order itself."""

    def __init__(self, channel: str, order_id: str) -> None:
        super().__init__(
            f"order {order_id!r} on {channel!r} is not in the ledger yet; its own events or the "
            "order poll will bring it with the refund"
        )


@dataclass(frozen=True, slots=True)
class LineChange:
    """What one line needs so the ledger matches the channel: units to cancel and to put back."""

    line_no: int
    cancel: int
    cancelled_after: int
    put_back: int
    returned_after: int


@dataclass(frozen=True, slots=True)
class OrderIngest:
    """The order after ingesting, and what this call did to it."""

    order: OrderResult
    recorded: bool
    """This call recorded the order (False when it was already in the ledger)."""
    cancelled: int = 0
    """Units this call cancelled, releasing their stock."""
    returned: int = 0
    """Units this call put back on hand."""

    @property
    def changed(self) -> bool:
        return self.recorded or self.cancelled > 0 or self.returned > 0


def line_change(line: Line, reported: ChannelOrderLine) -> LineChange:
    """The channel's cumulative numbers for a line against the ledger's; never undoes anything."""
    dropped = min(line.quantity, reported.cancelled + max(reported.refunded, reported.restocked))
    cancelled = max(line.cancelled, min(dropped, line.quantity - line.shipped))
    shipped_dropped = max(0, dropped - cancelled)
    restocked_shipped = max(0, min(reported.restocked, dropped) - cancelled)
    returned = max(line.returned, min(restocked_shipped, shipped_dropped, line.shipped))
    return LineChange(
        line.line_no, cancelled - line.cancelled, cancelled, returned - line.returned, returned
    )


def ingest_order(
    session: Session, channel_name: str, order: ChannelOrder, *, complete: bool = True
) -> OrderIngest:
    """Bring the ledger's copy of ``order`` up to what the channel reports, in the caller's
    transaction. ``complete`` is False when ``order`` holds only some lines (a refund event).

    Raises UnmappableLineError (naming the line) before anything is written when a line maps to
    no SKU, and OrderNotRecordedError for a partial view of an order the ledger does not hold.
    """
    return ingest_channel_order(
        session, channel_id(session, channel_name), channel_name, order, complete=complete
    )


def ingest_channel_order(
    session: Session, ch_id: int, channel_name: str, order: ChannelOrder, *, complete: bool = True
) -> OrderIngest:
    """:func:`ingest_order` for a caller that has looked the channel up already (the inbox)."""
    kept = recorded_lines(order)
    skus = skus_for_lines(session, ch_id, kept)
    for n, (line, sku) in enumerate(zip(kept, skus, strict=True), start=1):
        if sku is None:
            what = f"{line.external_line_id or n} (sku {line.sku!r}, listing {line.listing_id!r})"
            raise UnmappableLineError(channel_name, order.external_id, what)
    recorded = False
    if not _order_exists(session, ch_id, order.external_id):
        if not complete:
            raise OrderNotRecordedError(channel_name, order.external_id)
        lines = [
            LineIn(sku, ln.quantity, ln.external_line_id, ln.listing_id)
            for ln, sku in zip(kept, skus, strict=True)
        ]
        result = record_order(
            session,
            channel=channel_name,
            external_id=order.external_id,
            lines=lines,
            placed_at=order.created_at,
        )
        recorded = not result.duplicate
        if recorded and not any(ln.cancelled or ln.refunded or ln.restocked for ln in kept):
            return OrderIngest(result, recorded=True)
    return _apply_changes(session, ch_id, channel_name, order, recorded, complete)


def recorded_lines(order: ChannelOrder) -> list[ChannelOrderLine]:
    """The lines the ledger records: all but those of no units, which a channel may keep (Shopify
    keeps a line an order edit removed, with quantity 0). Such a line holds nothing, and the
    ledger refuses to store one: it would read as committed in an order with nothing to commit.
    An order of no units at all is recorded with no lines, cancelled. A negative quantity is
    kept, for the ledger to refuse."""
    return [ln for ln in order.lines if ln.quantity != 0]


def _apply_changes(
    session: Session,
    channel_id: int,
    channel_name: str,
    order: ChannelOrder,
    recorded: bool,
    complete: bool,
) -> OrderIngest:
    """Cancel, then put back, what the channel reports beyond the ledger's copy of the order.

    The order row is locked first, so the numbers compared are current; then every stock row the
    changes touch, in order, so the per-line operations after it take no lock out of order.
    """
    _, _, lines = open_order(session, channel_name, order.external_id)
    pairs = _pairs(order, lines, complete)
    changes = [line_change(line, reported) for line, reported in pairs]
    touched = {
        sku
        for (line, _), c in zip(pairs, changes, strict=True)
        if c.cancel or c.put_back
        for sku in line.recipe
    }
    if touched:
        lock_stock(session, sku_ids=listing_scope(session, touched)[1])
    prefix = f"ingest:{channel_id}:{order.external_id}"
    for change in changes:
        if change.cancel:
            cancel_order(
                session,
                channel=channel_name,
                external_id=order.external_id,
                key=f"{prefix}:L{change.line_no}:cancelled={change.cancelled_after}",
                line_units={change.line_no: change.cancel},
                by_channel=True,
            )
    by_no = {line.line_no: line for line in lines}
    for change in changes:
        if change.put_back:
            restock_return(
                session,
                channel=channel_name,
                external_id=order.external_id,
                sku=by_no[change.line_no].sku,
                qty=change.put_back,
                key=f"{prefix}:L{change.line_no}:returned={change.returned_after}",
                line_no=change.line_no,
                by_channel=True,
            )
    return OrderIngest(
        order_result(session, channel=channel_name, external_id=order.external_id),
        recorded,
        sum(c.cancel for c in changes),
        sum(c.put_back for c in changes),
    )


def _pairs(
    order: ChannelOrder, lines: list[Line], complete: bool
) -> list[tuple[Line, ChannelOrderLine]]:
    """Each reported line with the ledger's line: by the channel's line id, else (for a whole
    order recorded without line ids) by position among the lines it records."""
    by_external = {ln.external_line_id: ln for ln in lines if ln.external_line_id}
    pairs = []
    n = 0
    for reported in order.lines:
        line = by_external.get(reported.external_line_id)
        if line is None and reported.quantity == 0:
            continue  # never recorded (see recorded_lines), and nothing to apply
        n += 1
        if line is None and complete and not by_external and n <= len(lines):
            line = lines[n - 1]
        if line is None:
            raise InvalidRequestError(
                f"order {order.external_id!r}: line {reported.external_line_id} is not in the "
                "order the ledger recorded"
            )
        pairs.append((line, reported))
    return pairs


def channel_id(session: Session, name: str) -> int:
    """The channel's id (one indexed read; the inbox and the order path need nothing else)."""
    found = conn(session).execute(select(ChannelRow.id).where(ChannelRow.name == name)).scalar()
    if found is None:
        raise NotFoundError("channel", name)
    return int(found)


def _order_exists(session: Session, channel_id: int, external_id: str) -> bool:
    found = conn(session).execute(
        select(OrderRow.id).where(
            OrderRow.channel_id == channel_id, OrderRow.external_id == external_id
        )
    )
    return found.first() is not None
