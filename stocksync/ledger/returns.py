"""Put returned units back on hand."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

from stocksync.domain.errors import InvalidRequestError
from stocksync.domain.model import MovementReason
from stocksync.ledger.journal import Move, apply_moves
from stocksync.ledger.lines import Line, save_lines, with_counts
from stocksync.ledger.listings import listing_scope, refresh_listings
from stocksync.ledger.lookups import location_id
from stocksync.ledger.orders import existing_order, open_order, order_outcome
from stocksync.ledger.results import OrderResult
from stocksync.ledger.sql import claim_operation, conn, insert_ignore, lock_stock, stock_table
from stocksync.ledger.tables import MovementRow

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
) -> OrderResult:
    """Put ``qty`` returned units of the order's shipped ``sku`` back on hand.

    They go to ``location``, or by default to where each unit shipped from. ``line_no`` takes them
    from that line only (a channel names the line it refunded; two lines may share a SKU).
    """
    if qty <= 0:
        raise InvalidRequestError("a restock must add at least one unit")
    ch, order_id, lines = open_order(session, channel, external_id)
    op = claim_operation(session, key, "return_restock")
    if op is None:
        return existing_order(session, ch, external_id, duplicate=True)
    candidates = [
        ln
        for ln in lines
        if ln.sku == sku and ln.shipped > ln.returned and line_no in (None, ln.line_no)
    ]
    if sum(ln.shipped - ln.returned for ln in candidates) < qty:
        raise InvalidRequestError(
            f"order {external_id!r} has fewer than {qty} shipped, unreturned units of {sku!r}"
        )
    to_loc = location_id(session, location) if location else None
    moves: list[Move] = []
    changed: dict[int, Line] = {}
    for line in candidates:
        units = min(qty, line.shipped - line.returned)
        qty -= units
        changed[line.line_no] = with_counts(line, returned=line.returned + units)
        for comp, per_unit in sorted(line.recipe.items()):
            if to_loc is not None:
                places = [(to_loc, units * per_unit)]
            else:
                places = _shipped_from(session, line, comp, per_unit, units)
            moves += [
                Move(f"L{line.line_no}/{comp}@{loc}", comp, loc, qty, 0,
                     MovementReason.RETURN_RESTOCK, ch.id, order_id, line.line_no)
                for loc, qty in places
            ]  # fmt: skip
        if qty == 0:
            break
    for move in moves:
        insert_ignore(
            session,
            stock_table,
            {"sku_id": move.sku_id, "location_id": move.location_id},
            ["sku_id", "location_id"],
        )
    lock_stock(session, sku_ids=listing_scope(session, {m.sku_id for m in moves})[1])
    apply_moves(session, op, key, moves)
    after = [changed.get(ln.line_no, ln) for ln in lines]
    status = save_lines(session, order_id, changed.values(), all_lines=after)
    refresh_listings(session, {m.sku_id for m in moves})
    return order_outcome(ch.name, external_id, status, after)


def _shipped_from(
    session: Session, line: Line, sku_id: int, per_unit: int, units: int
) -> list[tuple[int, int]]:
    """(location, qty) for ``units`` returned units: where they shipped from, in shipment order,
    after the units returned earlier."""
    m = MovementRow
    shipped = conn(session).execute(
        select(m.location_id, -m.delta_on_hand)
        .where(m.order_id == line.order_id, m.line_no == line.line_no, m.sku_id == sku_id,
               m.reason == MovementReason.SHIPMENT.value)
        .order_by(m.id)
    ).all()  # fmt: skip
    skip, need = line.returned * per_unit, units * per_unit
    places: dict[int, int] = {}
    for loc, qty in shipped:
        take = min(need, max(0, qty - skip))
        skip = max(0, skip - qty)
        if take:
            places[loc] = places.get(loc, 0) + take
            need -= take
    if need:
        raise InvalidRequestError(f"line {line.line_no} shipped too few units to return {units}")
    return list(places.items())
