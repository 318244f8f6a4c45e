"""Record, cancel and ship channel orders. Each function runs inside the caller's transaction.

Lock order, the same in every operation: the order row, then stock rows by (sku, location),
then listing rows by id. Nothing here talks to the network.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from sqlalchemy import Table, insert, select
from sqlmodel import Session

from stocksync.domain.commit import fill_line
from stocksync.domain.errors import InvalidRequestError, NotFoundError, UnmappableLineError
from stocksync.domain.model import MovementReason, OrderStatus
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
from stocksync.ledger.listings import refresh_listings
from stocksync.ledger.lookups import ChannelRef, SkuRef, channel_ref, sku_refs, skus_by_listing
from stocksync.ledger.results import LineIn, LineResult, OrderResult
from stocksync.ledger.sql import claim_operation, lock_stock
from stocksync.ledger.tables import OrderLineRow, OrderRow, utcnow

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


def order_key(channel: str, external_id: str) -> str:
    return f"order:{channel}:{external_id}"


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
    ch = channel_ref(session, channel)
    refs = _map_lines(session, ch, external_id, lines)
    key = order_key(channel, external_id)
    op = claim_operation(session, key, "order")
    if op is None:
        return existing_order(session, ch, external_id, duplicate=True)
    now = utcnow()
    order_id = session.execute(
        insert(order_table)
        .values(
            channel_id=ch.id,
            external_id=external_id,
            status="new",
            placed_at=placed_at,
            created_at=now,
            updated_at=now,
        )
        .returning(order_table.c.id)
    ).scalar_one()

    stocked = {sku for ref in refs for sku in ref.recipe}
    if ch.locations:
        held = lock_stock(session, [(s, loc) for s in stocked for loc in ch.locations])
    else:
        held = lock_stock(session, sku_ids=stocked)
    available: dict[int, dict[int, int]] = defaultdict(dict)
    for (sku, loc), (on_hand, committed) in held.items():
        available[sku][loc] = on_hand - committed

    moves: list[Move] = []
    made: list[Line] = []
    sold: dict[tuple[int, int], int] = defaultdict(int)
    for line_no, (line_in, ref) in enumerate(zip(lines, refs, strict=True), start=1):
        units, takes = fill_line(line_in.quantity, ref.recipe, available)
        moves += [
            Move(
                f"L{line_no}/{t.sku_id}@{t.location_id}",
                t.sku_id,
                t.location_id,
                0,
                t.qty,
                MovementReason.ORDER_COMMIT,
                ch.id,
                order_id,
                line_no,
            )
            for t in takes
        ]
        made.append(
            Line(
                order_id,
                line_no,
                ref.id,
                ref.sku,
                line_in.quantity,
                units,
                line_in.quantity - units,
                0,
                0,
                0,
                line_in.external_line_id,
                ref.recipe,
            )
        )
        sold[(ch.id, ref.id)] += line_in.quantity
    if made:
        session.execute(
            insert(line_table),
            [
                {
                    "order_id": ln.order_id,
                    "line_no": ln.line_no,
                    "sku_id": ln.sku_id,
                    "external_line_id": ln.external_line_id,
                    "quantity": ln.quantity,
                    "committed": ln.committed,
                    "short": ln.short,
                    "cancelled": 0,
                    "shipped": 0,
                    "returned": 0,
                    "status": ln.status.value,
                }
                for ln in made
            ],
        )
    apply_moves(session, op, key, moves)
    status = save_lines(session, order_id, [], all_lines=made)
    refresh_listings(session, stocked, sold)
    return order_outcome(ch.name, external_id, status, made)


def _map_lines(
    session: Session, ch: ChannelRef, external_id: str, lines: Sequence[LineIn]
) -> list[SkuRef]:
    for line in lines:
        if line.quantity < 0:
            raise InvalidRequestError(f"order {external_id!r}: a line quantity cannot be negative")
    refs = sku_refs(session, [ln.sku for ln in lines if ln.sku])
    by_listing = skus_by_listing(
        session, ch.id, [ln.listing_id for ln in lines if ln.listing_id and ln.sku not in refs]
    )
    missing = {
        by_listing[ln.listing_id]
        for ln in lines
        if ln.sku not in refs and ln.listing_id in by_listing
    }
    refs |= sku_refs(session, missing)
    mapped = []
    for n, line in enumerate(lines, start=1):
        name = line.sku if line.sku in refs else by_listing.get(line.listing_id or "")
        if name is None or name not in refs:
            raise UnmappableLineError(ch.name, external_id, line.external_line_id or str(n))
        mapped.append(refs[name])
    return mapped


def cancel_order(
    session: Session,
    *,
    channel: str,
    external_id: str,
    key: str | None = None,
    quantities: Mapping[str, int] | None = None,
) -> OrderResult:
    """Cancel the whole order, or ``quantities`` (SKU → units) of it, releasing what it holds.

    Units recorded short are cancelled before committed ones. The default key makes a whole-order
    cancel idempotent; a partial cancel needs the caller's key (each is a separate event).
    """
    if quantities is not None and key is None:
        raise InvalidRequestError("a partial cancel needs an idempotency key")
    ch, order_id, lines = open_order(session, channel, external_id)
    key = key or f"cancel:{channel}:{external_id}"
    op = claim_operation(session, key, "cancel")
    if op is None:
        return existing_order(session, ch, external_id, duplicate=True)
    todo = _units_by_line(lines, quantities, lambda ln: ln.committed + ln.short)
    held = outstanding(session, order_id, todo)
    lock_stock(session, [pair for h in held.values() for pair in h])
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
    key = key or f"ship:{channel}:{external_id}"
    op = claim_operation(session, key, "ship")
    if op is None:
        return existing_order(session, ch, external_id, duplicate=True)
    todo = _units_by_line(lines, quantities, lambda ln: ln.committed)
    held = outstanding(session, order_id, todo)
    lock_stock(session, [pair for h in held.values() for pair in h])
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
    order_id = session.execute(
        select(order_table.c.id).where(
            order_table.c.channel_id == ch.id, order_table.c.external_id == external_id
        )
    ).scalar()
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
        if qty <= 0:
            raise InvalidRequestError(f"quantity for {sku!r} must be positive")
        for line in (ln for ln in lines if ln.sku == sku):
            units = min(qty, room(line))
            if units:
                todo[line.line_no] = units
                qty -= units
        if qty:
            raise InvalidRequestError(f"the order has {qty} fewer units of {sku!r} to act on")
    return todo


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
    row = session.execute(
        select(order_table.c.id, order_table.c.status).where(
            order_table.c.channel_id == ch.id, order_table.c.external_id == external_id
        )
    ).first()
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
