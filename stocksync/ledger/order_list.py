"""Orders as a seller looks for them: by channel, status and date, or the oversold ones."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, exists, func, select
from sqlmodel import Session

from stocksync.domain.clock import as_utc
from stocksync.domain.errors import InvalidRequestError
from stocksync.domain.model import LineStatus, OrderStatus
from stocksync.ledger.lookups import channel_ref
from stocksync.ledger.results import LineResult
from stocksync.ledger.sql import conn
from stocksync.ledger.tables import ChannelRow, OrderLineRow, OrderRow, SkuRow

__all__ = ["ListedOrder", "STORED_STATUSES", "list_orders", "order_status_named"]

order_table: Table = OrderRow.__table__  # type: ignore[attr-defined]
line_table: Table = OrderLineRow.__table__  # type: ignore[attr-defined]

STORED_STATUSES = tuple(s for s in OrderStatus if s is not OrderStatus.DUPLICATE)
"""The statuses an order can have in the ledger (``duplicate`` only describes a replayed call)."""


@dataclass(frozen=True, slots=True)
class ListedOrder:
    channel: str
    external_id: str
    status: str
    placed_at: datetime | None
    """When the channel says the order was placed, if it said."""
    created_at: datetime
    """When the ledger recorded the order."""
    lines: tuple[LineResult, ...]

    @property
    def at(self) -> datetime:
        """The time orders are listed and filtered by: placed, else recorded."""
        return self.placed_at or self.created_at

    def totals(self) -> dict[str, int]:
        """Units over the lines: ordered, committed, short, cancelled and shipped, in that order."""

        def total(field: str) -> int:
            return sum(getattr(line, field) for line in self.lines)

        return {
            "ordered": total("quantity"),
            **{f: total(f) for f in ("committed", "short", "cancelled", "shipped")},
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "order_id": self.external_id,
            "status": self.status,
            "placed_at": self.placed_at.isoformat() if self.placed_at else None,
            "created_at": self.created_at.isoformat(),
            "line_count": len(self.lines),
            **self.totals(),
            "lines": [asdict(line) for line in self.lines],
        }


def order_status_named(name: str) -> OrderStatus:
    """The order status an order in the ledger can have called ``name``; refuses any other."""
    for status in STORED_STATUSES:
        if status.value == name:
            return status
    raise InvalidRequestError(f"unknown order status: {name!r}")


def list_orders(
    session: Session,
    *,
    channel: str | None = None,
    status: OrderStatus | None = None,
    since: datetime | None = None,
    oversold: bool = False,
    limit: int = 50,
) -> list[ListedOrder]:
    """Up to ``limit`` orders, newest first (placed, else recorded), with their lines.

    ``since`` keeps orders placed (else recorded) at or after it; ``oversold`` keeps orders with
    a line recorded short.
    """
    if limit < 1:
        raise InvalidRequestError("limit must be at least 1")
    o = order_table.c
    at = func.coalesce(o.placed_at, o.created_at)
    stmt = (
        select(o.id, ChannelRow.name, o.external_id, o.status, o.placed_at, o.created_at)
        .join(ChannelRow, ChannelRow.id == o.channel_id)
        .order_by(at.desc(), o.id.desc())
        .limit(limit)
    )
    if channel is not None:
        stmt = stmt.where(o.channel_id == channel_ref(session, channel).id)
    if status is not None:
        stmt = stmt.where(o.status == status.value)
    if since is not None:
        stmt = stmt.where(at >= since.astimezone(UTC))
    if oversold:
        ln = line_table.c
        stmt = stmt.where(exists().where(ln.order_id == o.id, ln.short > 0))
    rows = conn(session).execute(stmt).all()
    lines = _lines(session, [r.id for r in rows])
    return [
        ListedOrder(
            r.name,
            r.external_id,
            r.status,
            as_utc(r.placed_at) if r.placed_at else None,
            as_utc(r.created_at),
            tuple(lines.get(r.id, ())),
        )
        for r in rows
    ]


def _lines(session: Session, order_ids: list[int]) -> dict[int, list[LineResult]]:
    if not order_ids:
        return {}
    ln = line_table.c
    rows = conn(session).execute(
        select(
            ln.order_id,
            ln.line_no,
            SkuRow.sku,
            ln.quantity,
            ln.committed,
            ln.short,
            ln.cancelled,
            ln.shipped,
            ln.returned,
            ln.status,
            ln.external_line_id,
        )  # fmt: skip
        .join(SkuRow, SkuRow.id == ln.sku_id)
        .where(ln.order_id.in_(order_ids))
        .order_by(ln.order_id, ln.line_no)
    )
    by_order: dict[int, list[LineResult]] = defaultdict(list)
    for order_id, *line, status, external_line_id in rows:
        by_order[order_id].append(LineResult(*line, LineStatus(status), external_line_id))
    return by_order
