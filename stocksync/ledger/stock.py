"""Stock operations that are not orders: receipts, counts and adjustments.

Each runs inside the caller's transaction and is idempotent on its key.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from sqlalchemy import func, select
from sqlmodel import Session

from stocksync.domain.errors import InvalidRequestError, NotFoundError, QuantityError
from stocksync.domain.model import MAX_QUANTITY, MovementReason, OnHandReason, check_quantity
from stocksync.domain.orders import Order, release_shortfall
from stocksync.ledger.journal import Move, apply_moves
from stocksync.ledger.lines import change_moves, load_allocations, load_lines, save_change
from stocksync.ledger.listings import listing_scope, refresh_listings
from stocksync.ledger.lookups import SkuRef, location_id, sku_refs
from stocksync.ledger.results import StockResult
from stocksync.ledger.sql import claim_operation, conn, insert_ignore, lock_stock, stock_table
from stocksync.ledger.tables import MovementRow, OrderRow

__all__ = ["adjust_stock", "receive_stock", "set_stock", "stock_at"]

ON_HAND_REASONS = tuple(MovementReason(r.value) for r in OnHandReason)
"""The reasons a count or an adjustment may give (``OnHandReason``, which the CLI offers)."""


def receive_stock(
    session: Session, *, sku: str, qty: int, location: str, key: str, note: str = ""
) -> StockResult:
    """Add ``qty`` units received at ``location``."""
    check_quantity("units received", qty)
    return _change(
        session, sku, location, key, MovementReason.RECEIPT, note, lambda on_hand: on_hand + qty
    )


def set_stock(
    session: Session,
    *,
    sku: str,
    qty: int,
    location: str,
    key: str,
    reason: MovementReason = MovementReason.CYCLE_COUNT,
    note: str = "",
) -> StockResult:
    """Set on hand to ``qty`` (a count). Commitments above the new count are released and recorded short."""
    check_quantity("a count", qty, low=0)
    return _change(session, sku, location, key, _on_hand_reason(reason), note, lambda _: qty)


def adjust_stock(
    session: Session,
    *,
    sku: str,
    delta: int,
    location: str,
    key: str,
    reason: MovementReason = MovementReason.ADJUSTMENT,
    note: str = "",
) -> StockResult:
    """Change on hand by ``delta`` (damage, loss, found stock)."""
    if delta == 0:
        raise InvalidRequestError("an adjustment must change something")
    check_quantity("an adjustment", delta, low=-MAX_QUANTITY)
    return _change(
        session, sku, location, key, _on_hand_reason(reason), note, lambda on_hand: on_hand + delta
    )


def _on_hand_reason(reason: MovementReason | str) -> MovementReason:
    reason = MovementReason(reason)
    if reason not in ON_HAND_REASONS:
        allowed = ", ".join(r.value for r in ON_HAND_REASONS)
        raise InvalidRequestError(f"reason must be one of {allowed}, not {reason.value!r}")
    return reason


def _stocked(session: Session, sku: str) -> SkuRef:
    ref = sku_refs(session, [sku]).get(sku)
    if ref is None:
        raise NotFoundError("sku", sku)
    if ref.is_bundle:
        raise InvalidRequestError(f"{sku!r} is a bundle; it holds no stock of its own")
    return ref


def _change(
    session: Session,
    sku: str,
    location: str,
    key: str,
    reason: MovementReason,
    note: str,
    new_on_hand: Callable[[int], int],
) -> StockResult:
    """Lock (creating if need be) one stock row, move its on hand to ``new_on_hand(current)``."""
    ref = _stocked(session, sku)
    loc = location_id(session, location)
    op = claim_operation(session, key, reason.value)
    if op is None:
        return stock_at(session, sku=sku, location=location, key=key, duplicate=True)
    insert_ignore(
        session, stock_table, {"sku_id": ref.id, "location_id": loc}, ["sku_id", "location_id"]
    )
    locked = lock_stock(session, sku_ids=listing_scope(session, {ref.id})[1])
    on_hand, committed = locked[(ref.id, loc)]
    target = new_on_hand(on_hand)
    if target < 0:
        raise InvalidRequestError(f"{sku} at {location} has {on_hand} on hand; cannot go below 0")
    if target > MAX_QUANTITY:
        raise QuantityError(f"on hand of {sku} at {location} after this", target, 0, MAX_QUANTITY)
    moves = []
    if target < committed:
        # releases first: the database checks committed <= on_hand after every row update
        moves = _release_shortfall(
            session, ref.id, loc, committed - target, note=f"count {target} < committed {committed}"
        )
    moves.append(
        Move(
            suffix="stock",
            sku_id=ref.id,
            location_id=loc,
            delta_on_hand=target - on_hand,
            delta_committed=0,
            reason=reason,
            note=note,
        )
    )
    apply_moves(session, op, key, moves)
    refresh_listings(session, {m.sku_id for m in moves})
    return StockResult(key, False, sku, location, *_counts_by_id(session, ref.id, loc))


def _release_shortfall(
    session: Session, sku_id: int, loc: int, deficit: int, *, note: str
) -> list[Move]:
    """Free ``deficit`` committed units at (sku, location), newest orders first; those units go short."""
    m = MovementRow
    holders = (
        conn(session)
        .execute(
            select(m.order_id, m.line_no, func.sum(m.delta_committed))
            .where(m.sku_id == sku_id, m.location_id == loc, m.order_id.is_not(None))
            .group_by(m.order_id, m.line_no)
            .having(func.sum(m.delta_committed) > 0)
            .order_by(m.order_id.desc(), m.line_no.desc())
        )
        .all()
    )
    moves: list[Move] = []
    by_order: dict[int, list[int]] = defaultdict(list)
    for order_id, line_no, _ in holders:
        by_order[order_id].append(line_no)
    for order_id, line_nos in by_order.items():
        if deficit <= 0:
            break
        channel_id, external_id = (
            conn(session)
            .execute(
                select(OrderRow.channel_id, OrderRow.external_id).where(OrderRow.id == order_id)
            )
            .one()
        )
        lines = load_lines(session, order_id, lock=True)
        order = Order(
            external_id=external_id,
            lines=tuple(lines),
            allocations=tuple(load_allocations(session, order_id)),
        )
        change, deficit = release_shortfall(
            order, line_nos, sku_id=sku_id, location=loc, deficit=deficit
        )
        lock_stock(session, [(t.sku_id, t.location_id) for t in change.takes])
        moves += change_moves(
            change,
            reason=MovementReason.CANCEL_RELEASE,
            order_id=order_id,
            channel_id=channel_id,
            note=note,
        )
        save_change(session, order_id, change)
    return moves


def _counts_by_id(session: Session, sku_id: int, loc: int) -> tuple[int, int]:
    row = (
        conn(session)
        .execute(
            select(stock_table.c.on_hand, stock_table.c.committed).where(
                stock_table.c.sku_id == sku_id, stock_table.c.location_id == loc
            )
        )
        .first()
    )
    return (row[0], row[1]) if row else (0, 0)


def _counts(session: Session, sku: str, location: str) -> tuple[int, int]:
    ref = sku_refs(session, [sku]).get(sku)
    if ref is None:
        return (0, 0)
    return _counts_by_id(session, ref.id, location_id(session, location))


def stock_at(
    session: Session, *, sku: str, location: str, key: str = "", duplicate: bool = False
) -> StockResult:
    """Current counters of one SKU at one location."""
    return StockResult(key, duplicate, sku, location, *_counts(session, sku, location))
