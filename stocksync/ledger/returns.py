"""Put returned units back on hand."""

from __future__ import annotations

from sqlmodel import Session

from stocksync.domain.errors import InvalidRequestError
from stocksync.domain.model import MovementReason
from stocksync.domain.orders import Change, Order, restock_lines, returnable_units
from stocksync.ledger.lookups import location_id
from stocksync.ledger.orders import change_order
from stocksync.ledger.results import OrderResult

__all__ = ["restock_return"]


def restock_return(
    session: Session,
    *,
    channel: str,
    external_id: str,
    sku: str,
    qty: int,
    key: str,
    location: str | None = None,
    line_no: int | None = None,
    by_channel: bool = False,
) -> OrderResult:
    """Put ``qty`` returned units of the order's shipped ``sku`` back on hand.

    They go to ``location``, or by default to where each unit shipped from. ``line_no`` takes them
    from that line only (a channel names the line it refunded; two lines may share a SKU). Either
    way the units count as returned against the allocations they shipped from
    (:func:`stocksync.domain.orders.restock_lines`); the journal says where they went.
    ``by_channel``: the selling channel restocked the refund on its own count too (see
    :func:`stocksync.ledger.orders.change_order`).
    """
    if qty <= 0:
        raise InvalidRequestError("a restock must add at least one unit")

    def decide(order: Order) -> Change:
        units = returnable_units(order, sku=sku, qty=qty, line_no=line_no)
        to_loc = location_id(session, location) if location else None
        return restock_lines(order, units, location=to_loc)

    return change_order(
        session,
        channel=channel,
        external_id=external_id,
        key=key,
        reason=MovementReason.RETURN_RESTOCK,
        decide=decide,
        by_channel=by_channel,
    )
