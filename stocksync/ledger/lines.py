"""Order-line bookkeeping shared by recording, cancelling, shipping and stock counts."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace

from sqlalchemy import Table, bindparam, func, select, update
from sqlmodel import Session

from stocksync.domain.clock import utcnow
from stocksync.domain.model import LineStatus, MovementReason, OrderStatus
from stocksync.ledger.journal import Move
from stocksync.ledger.sql import conn
from stocksync.ledger.tables import BundleComponentRow, MovementRow, OrderLineRow, OrderRow, SkuRow

__all__ = [
    "Line",
    "line_status",
    "load_lines",
    "order_status",
    "outstanding",
    "save_lines",
    "take_back",
]

line_table: Table = OrderLineRow.__table__  # type: ignore[attr-defined]
order_table: Table = OrderRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Line:
    order_id: int
    line_no: int
    sku_id: int
    sku: str
    quantity: int
    committed: int
    short: int
    cancelled: int
    shipped: int
    returned: int
    external_line_id: str | None
    recipe: dict[int, int]

    @property
    def status(self) -> LineStatus:
        return line_status(self)


def line_status(line: Line) -> LineStatus:
    # a line of no units (the ledger no longer records one) holds nothing: cancelled, like its order
    if line.cancelled == line.quantity:
        return LineStatus.CANCELLED
    if line.short:
        return LineStatus.OVERSOLD
    if line.shipped and line.committed == 0:
        return LineStatus.SHIPPED
    return LineStatus.COMMITTED


def order_status(lines: Iterable[Line]) -> OrderStatus:
    active = [ln for ln in lines if ln.quantity > ln.cancelled]
    if not active:
        return OrderStatus.CANCELLED
    if any(ln.short for ln in active):
        filled = sum(ln.committed + ln.shipped for ln in active)
        return OrderStatus.OVERSOLD if filled == 0 else OrderStatus.PARTIALLY_OVERSOLD
    if all(ln.committed == 0 for ln in active):
        return OrderStatus.SHIPPED
    return OrderStatus.COMMITTED


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
            r.order_id,
            r.line_no,
            r.sku_id,
            r.sku,
            r.quantity,
            r.committed,
            r.short,
            r.cancelled,
            r.shipped,
            r.returned,
            r.external_line_id,
            recipes.get(r.sku_id) or {r.sku_id: 1},
        )
        for r in rows
    ]


def save_lines(
    session: Session, order_id: int, lines: Iterable[Line], *, all_lines: list[Line]
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
                    "b_order": ln.order_id,
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


def outstanding(
    session: Session, order_id: int, line_nos: Iterable[int] | None = None
) -> dict[int, dict[tuple[int, int], int]]:
    """line_no → (sku, location) → units still committed there, summed from the journal."""
    m = MovementRow
    stmt = (
        select(m.line_no, m.sku_id, m.location_id, func.sum(m.delta_committed))
        .where(m.order_id == order_id)
        .group_by(m.line_no, m.sku_id, m.location_id)
    )
    if line_nos is not None:
        stmt = stmt.where(m.line_no.in_(list(line_nos)))
    held: dict[int, dict[tuple[int, int], int]] = defaultdict(dict)
    for line_no, sku, loc, total in conn(session).execute(stmt):
        if total:
            held[line_no][(sku, loc)] = int(total)
    return held


def take_back(
    line: Line,
    units: int,
    held: dict[tuple[int, int], int],
    *,
    reason: MovementReason,
    channel_id: int | None,
    prefer_location: int | None = None,
    note: str = "",
) -> list[Move]:
    """Moves that release (or, for a shipment, consume) ``units`` committed units of ``line``.

    ``held`` is the line's outstanding commitment per (sku, location) and is decremented in
    place. A shipment lowers on hand with committed; a release lowers committed only.
    """
    ship = reason is MovementReason.SHIPMENT
    moves: list[Move] = []
    for sku, per_unit in sorted(line.recipe.items()):
        need = units * per_unit
        places = sorted(
            (key for key in held if key[0] == sku),
            key=lambda key: (key[1] != prefer_location, key[1]),
        )
        for key in places:
            qty = min(need, held[key])
            if qty <= 0:
                continue
            held[key] -= qty
            need -= qty
            moves.append(
                Move(
                    f"{reason.value}/O{line.order_id}/L{line.line_no}/{sku}@{key[1]}",
                    sku,
                    key[1],
                    -qty if ship else 0,
                    -qty,
                    reason,
                    channel_id,
                    line.order_id,
                    line.line_no,
                    note,
                )
            )
            if need == 0:
                break
        if need:
            raise AssertionError(
                f"journal holds too little for line {line.line_no} of order {line.order_id}"
            )
    return moves


def with_counts(line: Line, **counts: int) -> Line:
    return replace(line, **counts)
