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
from stocksync.ledger.journal import Move, apply_moves
from stocksync.ledger.lines import Line, load_lines, outstanding, save_lines, take_back, with_counts
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
    moves.append(Move("stock", ref.id, loc, target - on_hand, 0, reason, note=note))
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
    by_order: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for order_id, line_no, held in holders:
        by_order[order_id].append((line_no, int(held)))
    for order_id, held_lines in by_order.items():
        if deficit <= 0:
            break
        channel = conn(session).execute(select(OrderRow.channel_id).where(OrderRow.id == order_id))
        channel_id = channel.scalar()
        lines = load_lines(session, order_id, lock=True)
        held = outstanding(session, order_id, [n for n, _ in held_lines])
        lock_stock(session, [pair for h in held.values() for pair in h])
        changed: dict[int, Line] = {}
        for line_no, units_held in held_lines:
            if deficit <= 0:
                break
            line = next(ln for ln in lines if ln.line_no == line_no)
            per_unit = line.recipe[sku_id]
            units = min(line.committed, -(-min(deficit, units_held) // per_unit))
            released = take_back(
                line,
                units,
                held[line_no],
                reason=MovementReason.CANCEL_RELEASE,
                channel_id=channel_id,
                prefer_location=loc,
                note=note,
            )
            moves += released
            # only what came off this location counts; a split line may give some back elsewhere
            deficit += sum(
                m.delta_committed for m in released if (m.sku_id, m.location_id) == (sku_id, loc)
            )
            changed[line_no] = with_counts(
                line, committed=line.committed - units, short=line.short + units
            )
        save_lines(
            session,
            order_id,
            changed.values(),
            all_lines=[changed.get(ln.line_no, ln) for ln in lines],
        )
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
