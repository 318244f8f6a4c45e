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
from stocksync.domain.model import MovementReason, OrderStatus, check_quantity
from stocksync.ledger.journal import Move, apply_moves
from stocksync.ledger.lines import (
    Line,
    line_status,
    load_lines,
    outstanding,
    save_lines,
    take_back,
    with_counts,
)
from stocksync.ledger.listings import listing_scope, refresh_listings
from stocksync.ledger.lookups import ChannelRef, channel_ref
from stocksync.ledger.recording import order_key, record_new_order
from stocksync.ledger.results import LineIn, LineResult, OrderResult
from stocksync.ledger.sql import claim_operation, conn, lock_stock
from stocksync.ledger.tables import OrderLineRow, OrderRow

__all__ = [
    "cancel_order",
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
) -> OrderResult:
    """Cancel the whole order, or ``quantities`` (SKU → units) of it, releasing what it holds.

    ``line_units`` (line number → units) names the lines exactly instead, for a channel that
    reports cancellations per line (two lines may share a SKU). Units recorded short are cancelled
    before committed ones. The default key makes a whole-order cancel idempotent; a partial cancel
    needs the caller's key (each is a separate event).
    """
    if (quantities is not None or line_units is not None) and key is None:
        raise InvalidRequestError("a partial cancel needs an idempotency key")
    ch, order_id, lines = open_order(session, channel, external_id)
    key = key or f"cancel:{ch.id}:{external_id}"
    op = claim_operation(session, key, "cancel")
    if op is None:
        return existing_order(session, ch, external_id, duplicate=True)
    if line_units is not None:
        todo = _units_of_lines(lines, line_units, _releasable)
    else:
        todo = _units_by_line(lines, quantities, _releasable)
    held = outstanding(session, order_id, todo)
    lock_stock(session, sku_ids=listing_scope(session, {k[0] for h in held.values() for k in h})[1])
    moves: list[Move] = []
    changed = {}
    for line in lines:
        units = todo.get(line.line_no, 0)
        if not units:
            continue
        from_short = min(units, line.short)
        from_committed = units - from_short
        moves += take_back(
            line,
            from_committed,
            held.get(line.line_no, {}),
            reason=MovementReason.CANCEL_RELEASE,
            channel_id=ch.id,
        )
        changed[line.line_no] = with_counts(
            line,
            short=line.short - from_short,
            committed=line.committed - from_committed,
            cancelled=line.cancelled + units,
        )
    return _finish(session, op, key, ch, external_id, order_id, lines, changed, moves)


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
    ch, order_id, lines = open_order(session, channel, external_id)
    key = key or f"ship:{ch.id}:{external_id}"
    op = claim_operation(session, key, "ship")
    if op is None:
        return existing_order(session, ch, external_id, duplicate=True)
    todo = _units_by_line(lines, quantities, lambda ln: ln.committed)
    held = outstanding(session, order_id, todo)
    lock_stock(session, sku_ids=listing_scope(session, {k[0] for h in held.values() for k in h})[1])
    moves: list[Move] = []
    changed = {}
    for line in lines:
        units = todo.get(line.line_no, 0)
        if units:
            moves += take_back(
                line,
                units,
                held.get(line.line_no, {}),
                reason=MovementReason.SHIPMENT,
                channel_id=ch.id,
            )
            changed[line.line_no] = with_counts(
                line, committed=line.committed - units, shipped=line.shipped + units
            )
    return _finish(session, op, key, ch, external_id, order_id, lines, changed, moves)


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


def _units_by_line(
    lines: list[Line], quantities: Mapping[str, int] | None, room: Callable[[Line], int]
) -> dict[int, int]:
    """line_no → units to act on: everything there is room for, or ``quantities`` by SKU."""
    if quantities is None:
        return {ln.line_no: room(ln) for ln in lines if room(ln) > 0}
    todo: dict[int, int] = {}
    for sku, qty in quantities.items():
        check_quantity(f"the units of {sku!r}", qty)
        for line in (ln for ln in lines if ln.sku == sku):
            units = min(qty, room(line))
            if units:
                todo[line.line_no] = units
                qty -= units
        if qty:
            raise InvalidRequestError(f"the order has {qty} fewer units of {sku!r} to act on")
    return todo


def _releasable(line: Line) -> int:
    return line.committed + line.short


def _units_of_lines(
    lines: list[Line], line_units: Mapping[int, int], room: Callable[[Line], int]
) -> dict[int, int]:
    """``line_units`` checked against the order: each named line exists and has that many units."""
    by_no = {ln.line_no: ln for ln in lines}
    for line_no, units in line_units.items():
        check_quantity(f"the units of line {line_no}", units)
        if line_no not in by_no or room(by_no[line_no]) < units:
            raise InvalidRequestError(f"line {line_no} of the order has fewer than {units} units")
    return dict(line_units)


def _finish(
    session: Session,
    op: int,
    key: str,
    ch: ChannelRef,
    external_id: str,
    order_id: int,
    lines: list[Line],
    changed: dict[int, Line],
    moves: list[Move],
) -> OrderResult:
    apply_moves(session, op, key, moves)
    after = [changed.get(ln.line_no, ln) for ln in lines]
    status = save_lines(session, order_id, changed.values(), all_lines=after)
    refresh_listings(session, {m.sku_id for m in moves})
    return order_outcome(ch.name, external_id, status, after)


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
        channel,
        external_id,
        status,
        duplicate,
        tuple(
            LineResult(
                ln.line_no,
                ln.sku,
                ln.quantity,
                ln.committed,
                ln.short,
                ln.cancelled,
                ln.shipped,
                ln.returned,
                line_status(ln),
                ln.external_line_id,
            )
            for ln in lines
        ),
    )
