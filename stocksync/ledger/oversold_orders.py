"""Order lines recorded short, each with the orders that hold the same stock.

When two channels sell the last unit, the ledger commits it to the order it recorded first and
records the other line short. Which of the orders the seller should cancel is a choice made from
these facts in :mod:`stocksync.alerts.oversold`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlmodel import Session

from stocksync.ledger.tables import (
    BundleComponentRow,
    ChannelRow,
    OrderLineRow,
    OrderRow,
    SkuRow,
)

__all__ = ["COMPETITORS", "OrderRef", "ShortLine", "lines_recorded_short"]

COMPETITORS = 5
"""How many orders holding the same stock a short line names."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderRef:
    channel: str
    external_id: str
    placed_at: datetime
    """When the customer placed it (the channel's time; our recording time if unknown)."""
    quantity: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ShortLine:
    sku: str
    short: int
    order: OrderRef
    """The order whose line was recorded short."""
    competitors: tuple[OrderRef, ...]
    """Orders holding commitments of the same stock, newest first."""


def lines_recorded_short(session: Session, *, since: datetime | None = None) -> list[ShortLine]:
    """Lines recorded short on orders created since ``since`` (all when None), in order."""
    stmt = (
        select(OrderLineRow, OrderRow, ChannelRow.name, SkuRow.sku)
        .join(OrderRow, OrderRow.id == OrderLineRow.order_id)
        .join(ChannelRow, ChannelRow.id == OrderRow.channel_id)
        .join(SkuRow, SkuRow.id == OrderLineRow.sku_id)
        .where(OrderLineRow.short > 0)
        .order_by(OrderRow.id, OrderLineRow.line_no)
    )
    if since is not None:
        stmt = stmt.where(OrderRow.created_at >= since)
    return [
        ShortLine(
            sku=sku,
            short=line.short,
            order=_ref(order, channel, line.quantity),
            competitors=_competitors(session, line.sku_id, order.id),
        )
        for line, order, channel, sku in session.execute(stmt)
    ]


def _ref(order: OrderRow, channel: str, quantity: int) -> OrderRef:
    return OrderRef(
        channel=channel,
        external_id=order.external_id,
        placed_at=order.placed_at or order.created_at,
        quantity=quantity,
    )


def _competitors(session: Session, sku_id: int, order_id: int | None) -> tuple[OrderRef, ...]:
    """Open orders committing ``sku_id`` (or a bundle or component sharing its stock), newest first."""
    related = {sku_id}
    for bundle_id, component_id in session.execute(
        select(BundleComponentRow.bundle_id, BundleComponentRow.component_id).where(
            or_(
                BundleComponentRow.bundle_id == sku_id,
                BundleComponentRow.component_id == sku_id,
            )
        )
    ):
        related.update((bundle_id, component_id))
    rows = session.execute(
        select(OrderRow, ChannelRow.name, OrderLineRow.quantity)
        .join(OrderLineRow, OrderLineRow.order_id == OrderRow.id)
        .join(ChannelRow, ChannelRow.id == OrderRow.channel_id)
        .where(
            OrderLineRow.sku_id.in_(related),
            OrderLineRow.committed > 0,
            OrderRow.id != order_id,
        )
        .order_by(OrderRow.id.desc())
        .limit(COMPETITORS)
    )
    return tuple(_ref(o, ch, qty) for o, ch, qty in rows)
