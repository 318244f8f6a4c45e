"""What a flash sale left in the ledger: its orders, oversold lines and desired quantities.

Read by the sale benchmarks (``stocksync/bench``) in the caller's transaction. The sync
benchmark's gap sampler reads :func:`orders_after` and :func:`desired_by_channel` every 50 ms while
shoppers buy, so each is one statement and nothing more.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import func, select
from sqlmodel import Session

from stocksync.ledger.tables import ChannelRow, ListingRow, OrderLineRow, OrderRow, SkuRow

__all__ = [
    "Quantities",
    "desired_by_channel",
    "last_order_id",
    "orders_after",
    "short_lines",
    "throttled_listings",
]

Quantities = dict[str, dict[str, int]]
"""Channel → SKU → quantity."""


def last_order_id(session: Session) -> int:
    """The highest order id the ledger holds (0 for none)."""
    return int(session.execute(select(func.coalesce(func.max(OrderRow.id), 0))).scalar_one())


def orders_after(session: Session, order_id: int) -> Sequence[tuple[int, str, str]]:
    """(order id, channel, the channel's order id) of every order whose id is above ``order_id``."""
    stmt = (
        select(OrderRow.id, ChannelRow.name, OrderRow.external_id)
        .join(ChannelRow, ChannelRow.id == OrderRow.channel_id)
        .where(OrderRow.id > order_id)
    )
    return session.execute(stmt).all()


def desired_by_channel(session: Session, skus: Iterable[str] | None = None) -> Quantities:
    """Channel → SKU → the ledger's desired quantity (every listing, or only ``skus``)."""
    stmt = (
        select(ChannelRow.name, SkuRow.sku, ListingRow.desired_qty)
        .join(ChannelRow, ChannelRow.id == ListingRow.channel_id)
        .join(SkuRow, SkuRow.id == ListingRow.sku_id)
    )
    if skus is not None:
        stmt = stmt.where(SkuRow.sku.in_(list(skus)))  # type: ignore[attr-defined]
    out: Quantities = {}
    for channel, sku, qty in session.execute(stmt):
        out.setdefault(channel, {})[sku] = qty
    return out


def short_lines(session: Session) -> dict[str, tuple[int, int]]:
    """Channel → (order lines recorded short, units short), for channels with any."""
    rows = session.execute(
        select(ChannelRow.name, func.count(), func.sum(OrderLineRow.short))
        .join(OrderRow, OrderRow.id == OrderLineRow.order_id)
        .join(ChannelRow, ChannelRow.id == OrderRow.channel_id)
        .where(OrderLineRow.short > 0)
        .group_by(ChannelRow.name)
    )
    return {channel: (int(lines), int(units)) for channel, lines, units in rows}


def throttled_listings(session: Session) -> int:
    """Listings still dirty whose last push failed on throttling (a 429, "too many requests")."""
    error = func.lower(func.coalesce(ListingRow.last_error, ""))
    throttled = error.contains("429") | error.contains("throttl") | error.contains("too many")
    stmt = select(func.count()).select_from(ListingRow).where(ListingRow.dirty, throttled)  # type: ignore[arg-type]
    return int(session.execute(stmt).scalar_one())
