"""Record, cancel and ship channel orders. Each function runs inside the caller's transaction.

Lock order, the same in every operation: the order row, then stock rows by (sku, location),
then listing rows by id. Nothing here talks to the network.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from sqlalchemy import Table, select
from sqlmodel import Session

from stocksync.domain.errors import InvalidRequestError, NotFoundError
from stocksync.domain.model import MovementReason, OrderStatus
from stocksync.domain.orders import (
    Change,
    Line,
    Order,
    cancel_lines,
    line_status,
    put_back_units,
    releasable,
    ship_lines,
    shippable,
    units_by_sku,
    units_of_lines,
)
from stocksync.ledger.journal import apply_moves
from stocksync.ledger.lines import change_moves, load_allocations, load_lines, save_change
from stocksync.ledger.listings import listing_scope, refresh_listings
from stocksync.ledger.lookups import ChannelRef, channel_ref
from stocksync.ledger.recording import order_key, record_new_order
from stocksync.ledger.results import LineIn, LineResult, OrderResult
from stocksync.ledger.sql import claim_operation, conn, insert_ignore, lock_stock, stock_table
from stocksync.ledger.tables import OrderLineRow, OrderRow

__all__ = [
    "cancel_order",
    "change_order",
    "existing_order",
    "open_order",
    "order_key",
    "order_outcome",
    "order_result",
    "record_order",
    "ship_order",
]

line_table: Table = OrderLineRow.__table__  # type: ignore[attr-defined]
order_table: Table = OrderRow.__table__  # type: ignore[attr-defined]


def record_order(
    session: Session,
    *,
    channel: str,
    external_id: str,
    lines: Sequence[LineIn],
    placed_at: datetime | None = None,
) -> OrderResult:
    """Commit what the stock allows for each line; record the rest short. Idempotent per order.

    A second call for the same (channel, order id) changes nothing and returns the order as
    first recorded, with ``duplicate=True``.
    """
    plan = record_new_order(
        session, channel=channel, external_id=external_id, lines=lines, placed_at=placed_at
    )
    if plan is None:
        return existing_order(session, channel_ref(session, channel), external_id, duplicate=True)
    return order_outcome(channel, external_id, plan.status, plan.lines)


def cancel_order(
    session: Session,
    *,
    channel: str,
    external_id: str,
    key: str | None = None,
    quantities: Mapping[str, int] | None = None,
    line_units: Mapping[int, int] | None = None,
    by_channel: bool = False,
) -> OrderResult:
    """Cancel the whole order, or ``quantities`` (SKU → units) of it, releasing what it holds.

    ``line_units`` (line number → units) names the lines exactly instead, for a channel that
    reports cancellations per line (two lines may share a SKU). Units recorded short are cancelled
    before committed ones. The default key makes a whole-order cancel idempotent; a partial cancel
    needs the caller's key (each is a separate event). ``by_channel``: the selling channel
    reported the cancellation and has put the units back on its own count (see
    :func:`change_order`).
    """
    if (quantities is not None or line_units is not None) and key is None:
        raise InvalidRequestError("a partial cancel needs an idempotency key")

    def decide(order: Order) -> Change:
        if line_units is not None:
            units = units_of_lines(order.lines, line_units, releasable)
        else:
            units = units_by_sku(order.lines, quantities, releasable)
        return cancel_lines(order, units)

    return change_order(
        session,
        channel=channel,
        external_id=external_id,
        key=key,
        reason=MovementReason.CANCEL_RELEASE,
        decide=decide,
        by_channel=by_channel,
    )


def ship_order(
    session: Session,
    *,
    channel: str,
    external_id: str,
    key: str | None = None,
    quantities: Mapping[str, int] | None = None,
) -> OrderResult:
    """Ship what the order holds (or ``quantities`` of it): on hand and committed both go down."""
    if quantities is not None and key is None:
        raise InvalidRequestError("a partial shipment needs an idempotency key")
    return change_order(
        session,
        channel=channel,
        external_id=external_id,
        key=key,
        reason=MovementReason.SHIPMENT,
        decide=lambda order: ship_lines(order, units_by_sku(order.lines, quantities, shippable)),
    )


_KINDS = {
    MovementReason.CANCEL_RELEASE: "cancel",
    MovementReason.SHIPMENT: "ship",
    MovementReason.RETURN_RESTOCK: "return_restock",
}
"""The operation kind each action claims its key as (and names its default key after)."""


def change_order(
    session: Session,
    *,
    channel: str,
    external_id: str,
    key: str | None,
    reason: MovementReason,
    decide: Callable[[Order], Change],
    by_channel: bool = False,
) -> OrderResult:
    """Cancel, ship or restock: the one body those share. Lock and load the order, claim ``key``
    (by default ``<kind>:<channel id>:<order id>``, which makes the whole-order action
    idempotent), ask ``decide`` for the change, then write its journal entries, lines,
    allocations and the listings of the SKUs it moved. A replayed key changes nothing and
    returns the order with ``duplicate=True``.

    ``by_channel``: the change is the selling channel's own report of a cancellation or a
    restocked refund. The channel has put those units back on its own count
    (``put_back_units``), so its listing is pushed again; else a listing the guard had hidden
    would go on showing them unseen, and the channel would sell units the ledger gave another
    channel."""
    kind = _KINDS[reason]
    ch, order_id, lines = open_order(session, channel, external_id)
    key = key or f"{kind}:{ch.id}:{external_id}"
    op = claim_operation(session, key, kind)
    if op is None:
        return existing_order(session, ch, external_id, duplicate=True)
    order = Order(
        external_id=external_id,
        lines=tuple(lines),
        allocations=tuple(load_allocations(session, order_id)),
    )
    change = decide(order)
    skus = {t.sku_id for t in change.takes}
    if reason is MovementReason.RETURN_RESTOCK:  # a restock may go where the SKU never was
        for sku_id, location_id in sorted({(t.sku_id, t.location_id) for t in change.takes}):
            insert_ignore(
                session,
                stock_table,
                {"sku_id": sku_id, "location_id": location_id},
                ["sku_id", "location_id"],
            )
    lock_stock(session, sku_ids=listing_scope(session, skus)[1])
    moves = change_moves(change, reason=reason, order_id=order_id, channel_id=ch.id)
    apply_moves(session, op, key, moves)
    status = save_change(session, order_id, change)
    back = put_back_units(order.lines, change) if by_channel else {}
    refresh_listings(session, skus, {(ch.id, sku): -units for sku, units in back.items()})
    return order_outcome(ch.name, external_id, status, list(change.after))


def open_order(
    session: Session, channel: str, external_id: str
) -> tuple[ChannelRef, int, list[Line]]:
    ch = channel_ref(session, channel)
    order_id = (
        conn(session)
        .execute(
            select(order_table.c.id).where(
                order_table.c.channel_id == ch.id, order_table.c.external_id == external_id
            )
        )
        .scalar()
    )
    if order_id is None:
        raise NotFoundError("order", f"{channel}/{external_id}")
    return ch, order_id, load_lines(session, order_id, lock=True)


def order_result(session: Session, *, channel: str, external_id: str) -> OrderResult:
    """The order as the ledger holds it now."""
    return existing_order(session, channel_ref(session, channel), external_id, duplicate=False)


def existing_order(
    session: Session, ch: ChannelRef, external_id: str, *, duplicate: bool
) -> OrderResult:
    row = (
        conn(session)
        .execute(
            select(order_table.c.id, order_table.c.status).where(
                order_table.c.channel_id == ch.id, order_table.c.external_id == external_id
            )
        )
        .first()
    )
    if row is None:
        raise NotFoundError("order", f"{ch.name}/{external_id}")
    return order_outcome(
        ch.name, external_id, OrderStatus(row.status), load_lines(session, row.id), duplicate
    )


def order_outcome(
    channel: str, external_id: str, status: OrderStatus, lines: list[Line], duplicate: bool = False
) -> OrderResult:
    return OrderResult(
        channel=channel,
        external_id=external_id,
        status=status,
        duplicate=duplicate,
        lines=tuple(
            LineResult(
                line_no=ln.line_no,
                sku=ln.sku,
                quantity=ln.quantity,
                committed=ln.committed,
                short=ln.short,
                cancelled=ln.cancelled,
                shipped=ln.shipped,
                returned=ln.returned,
                status=line_status(ln),
                external_line_id=ln.external_line_id,
            )
            for ln in lines
        ),
    )
