"""Order lines and their allocations as the ledger stores them: load, write, and turn a domain
:class:`~stocksync.domain.orders.Change` into journal entries.

Shared by recording, cancelling, shipping, returns and stock counts; the rules themselves are in
:mod:`stocksync.domain.orders`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import Table, bindparam, select, update
from sqlmodel import Session

from stocksync.domain.clock import utcnow
from stocksync.domain.model import MovementReason, OrderStatus
from stocksync.domain.orders import Allocation, Change, Line, order_status
from stocksync.ledger.journal import Move
from stocksync.ledger.sql import conn
from stocksync.ledger.tables import (
    BundleComponentRow,
    LineAllocationRow,
    OrderLineRow,
    OrderRow,
    SkuRow,
)

__all__ = [
    "allocation_table",
    "change_moves",
    "load_allocations",
    "load_lines",
    "save_change",
    "save_lines",
]

line_table: Table = OrderLineRow.__table__  # type: ignore[attr-defined]
order_table: Table = OrderRow.__table__  # type: ignore[attr-defined]
allocation_table: Table = LineAllocationRow.__table__  # type: ignore[attr-defined]

_DELTAS = {
    MovementReason.CANCEL_RELEASE: (0, -1),
    MovementReason.SHIPMENT: (-1, -1),
    MovementReason.RETURN_RESTOCK: (1, 0),
}
"""(on hand, committed) per unit a change's takes move, by the reason they move for."""


def load_lines(session: Session, order_id: int, *, lock: bool = False) -> list[Line]:
    """The order's lines (and with ``lock``, the order row locked first)."""
    if lock:
        conn(session).execute(
            select(order_table.c.id).where(order_table.c.id == order_id).with_for_update()
        )
    rows = (
        conn(session)
        .execute(
            select(line_table, SkuRow.sku)
            .join(SkuRow, SkuRow.id == line_table.c.sku_id)
            .where(line_table.c.order_id == order_id)
            .order_by(line_table.c.line_no)
        )
        .all()
    )
    recipes: dict[int, dict[int, int]] = defaultdict(dict)
    sku_ids = {r.sku_id for r in rows}
    for b, c, q in conn(session).execute(
        select(
            BundleComponentRow.bundle_id, BundleComponentRow.component_id, BundleComponentRow.qty
        ).where(BundleComponentRow.bundle_id.in_(sku_ids))
    ):
        recipes[b][c] = q
    return [
        Line(
            order_id=r.order_id,
            line_no=r.line_no,
            sku_id=r.sku_id,
            sku=r.sku,
            quantity=r.quantity,
            committed=r.committed,
            short=r.short,
            cancelled=r.cancelled,
            shipped=r.shipped,
            returned=r.returned,
            external_line_id=r.external_line_id,
            recipe=recipes.get(r.sku_id) or {r.sku_id: 1},
        )
        for r in rows
    ]


def load_allocations(session: Session, order_id: int) -> list[Allocation]:
    """Where the order's line units are, by line, SKU and location (read under the order's lock)."""
    a = allocation_table.c
    rows = conn(session).execute(
        select(a.line_no, a.sku_id, a.location_id, a.committed, a.shipped, a.returned)
        .where(a.order_id == order_id)
        .order_by(a.line_no, a.sku_id, a.location_id)
    )
    return [
        Allocation(
            line_no=r.line_no,
            sku_id=r.sku_id,
            location_id=r.location_id,
            committed=r.committed,
            shipped=r.shipped,
            returned=r.returned,
        )
        for r in rows
    ]


def save_change(session: Session, order_id: int, change: Change) -> OrderStatus:
    """Write a change's lines, allocations and the order's status; return the status."""
    if change.allocations:
        a = allocation_table.c
        conn(session).execute(
            update(allocation_table)
            .where(
                a.order_id == bindparam("b_order"),
                a.line_no == bindparam("b_line"),
                a.sku_id == bindparam("b_sku"),
                a.location_id == bindparam("b_loc"),
            )
            .values(
                committed=bindparam("b_committed"),
                shipped=bindparam("b_shipped"),
                returned=bindparam("b_returned"),
            ),
            [
                {
                    "b_order": order_id,
                    "b_line": al.line_no,
                    "b_sku": al.sku_id,
                    "b_loc": al.location_id,
                    "b_committed": al.committed,
                    "b_shipped": al.shipped,
                    "b_returned": al.returned,
                }
                for al in change.allocations
            ],
        )
    return save_lines(session, order_id, change.lines, all_lines=change.after)


def save_lines(
    session: Session, order_id: int, lines: Iterable[Line], *, all_lines: Iterable[Line]
) -> OrderStatus:
    """Write changed line counters and the order status derived from ``all_lines``."""
    changed = list(lines)
    if changed:
        conn(session).execute(
            update(line_table)
            .where(
                line_table.c.order_id == bindparam("b_order"),
                line_table.c.line_no == bindparam("b_line"),
            )
            .values(
                committed=bindparam("b_committed"),
                short=bindparam("b_short"),
                cancelled=bindparam("b_cancelled"),
                shipped=bindparam("b_shipped"),
                returned=bindparam("b_returned"),
                status=bindparam("b_status"),
            ),
            [
                {
                    "b_order": order_id,
                    "b_line": ln.line_no,
                    "b_committed": ln.committed,
                    "b_short": ln.short,
                    "b_cancelled": ln.cancelled,
                    "b_shipped": ln.shipped,
                    "b_returned": ln.returned,
                    "b_status": ln.status.value,
                }
                for ln in changed
            ],
        )
    status = order_status(all_lines)
    conn(session).execute(
        update(order_table)
        .where(order_table.c.id == order_id)
        .values(status=status.value, updated_at=utcnow())
    )
    return status


def change_moves(
    change: Change,
    *,
    reason: MovementReason,
    order_id: int,
    channel_id: int | None,
    note: str = "",
) -> list[Move]:
    """The journal entries of a change's takes: a release lowers committed, a shipment on hand
    and committed, a restock raises on hand."""
    on_hand, committed = _DELTAS[reason]
    # a restock's keys have always been shorter; the others name the order (a count releases
    # lines of several orders under one key)
    prefix = "" if reason is MovementReason.RETURN_RESTOCK else f"{reason.value}/O{order_id}/"
    return [
        Move(
            suffix=f"{prefix}L{t.line_no}/{t.sku_id}@{t.location_id}",
            sku_id=t.sku_id,
            location_id=t.location_id,
            delta_on_hand=on_hand * t.qty,
            delta_committed=committed * t.qty,
            reason=reason,
            channel_id=channel_id,
            order_id=order_id,
            line_no=t.line_no,
            note=note,
        )
        for t in change.takes
    ]
