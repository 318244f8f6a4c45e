"""Write movements and move the stock counters with them, in one place."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Table, bindparam, insert, update
from sqlmodel import Session

from stocksync.domain.clock import utcnow
from stocksync.domain.model import MovementReason
from stocksync.ledger.sql import conn, stock_table
from stocksync.ledger.tables import MovementRow

__all__ = ["Move", "apply_moves"]

movement_table: Table = MovementRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Move:
    """One journal entry; ``suffix`` makes its key unique within the operation."""

    suffix: str
    sku_id: int
    location_id: int
    delta_on_hand: int
    delta_committed: int
    reason: MovementReason
    channel_id: int | None = None
    order_id: int | None = None
    line_no: int | None = None
    note: str = ""


def apply_moves(session: Session, op_id: int, op_key: str, moves: Sequence[Move]) -> None:
    """Append ``moves`` to the journal and apply their deltas to the (already locked) stock rows."""
    moves = [m for m in moves if m.delta_on_hand or m.delta_committed]
    if not moves:
        return
    now = utcnow()
    conn(session).execute(
        insert(movement_table),
        [
            {
                "key": f"{op_key}#{m.suffix}",
                "operation_id": op_id,
                "sku_id": m.sku_id,
                "location_id": m.location_id,
                "delta_on_hand": m.delta_on_hand,
                "delta_committed": m.delta_committed,
                "reason": m.reason.value,
                "channel_id": m.channel_id,
                "order_id": m.order_id,
                "line_no": m.line_no,
                "note": m.note[:500],
                "created_at": now,
            }
            for m in moves
        ],
    )
    conn(session).execute(
        update(stock_table)
        .where(
            stock_table.c.sku_id == bindparam("b_sku"),
            stock_table.c.location_id == bindparam("b_loc"),
        )
        .values(
            on_hand=stock_table.c.on_hand + bindparam("b_on_hand"),
            committed=stock_table.c.committed + bindparam("b_committed"),
            updated_at=bindparam("b_now"),
        ),
        [
            {
                "b_sku": m.sku_id,
                "b_loc": m.location_id,
                "b_on_hand": m.delta_on_hand,
                "b_committed": m.delta_committed,
                "b_now": now,
            }
            for m in moves
        ],
    )
