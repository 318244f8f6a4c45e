"""Oversold lines: an order line recorded short, the orders that took the units, and which to cancel.

When two channels sell the last unit, the ledger commits it to the order it recorded first and records
the other line short. The seller must cancel one of them. By default the policy cancels the order
placed later on its channel (customers placed first keep their order), which is not always the one
recorded short: webhooks can arrive out of order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import or_, select
from sqlmodel import Session

from stocksync.ledger.tables import (
    BundleComponentRow,
    ChannelRow,
    OrderLineRow,
    OrderRow,
    SkuRow,
)

__all__ = ["CancelPolicy", "OrderRef", "OversoldLine", "oversold_lines"]

COMPETITORS = 5
"""How many orders holding the same stock an alert names."""


class CancelPolicy(StrEnum):
    LATER = "later"
    """Cancel the order placed later on its channel (the default)."""
    SHORT = "short"
    """Cancel the order the ledger recorded short."""


@dataclass(frozen=True, slots=True)
class OrderRef:
    channel: str
    external_id: str
    placed_at: datetime
    """When the customer placed it (the channel's time; our recording time if unknown)."""
    quantity: int


@dataclass(frozen=True, slots=True)
class OversoldLine:
    sku: str
    short: int
    order: OrderRef
    """The order whose line was recorded short."""
    competitors: tuple[OrderRef, ...]
    """Orders holding commitments of the same stock, newest first."""
    cancel: OrderRef
    """The order the policy says to cancel."""


def oversold_lines(
    session: Session,
    order_ids: Sequence[int] | None = None,
    *,
    since: datetime | None = None,
    policy: CancelPolicy = CancelPolicy.LATER,
) -> list[OversoldLine]:
    """Lines recorded short among ``order_ids`` (or orders created since ``since``)."""
    stmt = (
        select(OrderLineRow, OrderRow, ChannelRow.name, SkuRow.sku)
        .join(OrderRow, OrderRow.id == OrderLineRow.order_id)
        .join(ChannelRow, ChannelRow.id == OrderRow.channel_id)
        .join(SkuRow, SkuRow.id == OrderLineRow.sku_id)
        .where(OrderLineRow.short > 0)
        .order_by(OrderRow.id, OrderLineRow.line_no)
    )
    if order_ids is not None:
        stmt = stmt.where(OrderLineRow.order_id.in_(list(order_ids)))
    if since is not None:
        stmt = stmt.where(OrderRow.created_at >= since)
    found = []
    for line, order, channel, sku in session.execute(stmt):
        short_ref = OrderRef(channel, order.external_id, _placed(order), line.quantity)
        rivals = _competitors(session, line.sku_id, order.id)
        found.append(
            OversoldLine(sku, line.short, short_ref, rivals, _to_cancel(short_ref, rivals, policy))
        )
    return found


def _placed(order: OrderRow) -> datetime:
    return order.placed_at or order.created_at


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
    return tuple(OrderRef(ch, o.external_id, _placed(o), qty) for o, ch, qty in rows)


def _to_cancel(short: OrderRef, rivals: tuple[OrderRef, ...], policy: CancelPolicy) -> OrderRef:
    if policy is CancelPolicy.SHORT or not rivals:
        return short
    latest = max(rivals, key=lambda r: _naive(r.placed_at))
    return latest if _naive(latest.placed_at) > _naive(short.placed_at) else short


def _naive(moment: datetime) -> datetime:
    """UTC without a zone, so times read from SQLite (which drops it) compare with the rest."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
