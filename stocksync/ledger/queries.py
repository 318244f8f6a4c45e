"""Read models for people: stock per SKU with its listings."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from stocksync.domain.allocation import bundle_pool
from stocksync.domain.errors import NotFoundError
from stocksync.ledger.tables import (
    BundleComponentRow,
    ChannelRow,
    ListingRow,
    LocationRow,
    SkuRow,
    StockRow,
)

__all__ = ["ListingStock", "LocationStock", "SkuStock", "stock_report"]


@dataclass(frozen=True, slots=True)
class LocationStock:
    location: str
    on_hand: int
    committed: int
    available: int


@dataclass(frozen=True, slots=True)
class ListingStock:
    channel: str
    external_id: str
    desired: int
    pushed: int | None
    expected: int | None
    dirty: bool
    state: str
    """unverified, active, mismatched or refused (``stocksync.domain.listing_identity``)."""
    channel_sku: str | None
    """The SKU the channel holds under ``external_id``, as its last identity check found it."""


@dataclass(frozen=True, slots=True)
class SkuStock:
    sku: str
    title: str
    reorder_point: int
    components: dict[str, int]
    locations: list[LocationStock] = field(default_factory=list)
    listings: list[ListingStock] = field(default_factory=list)
    bundles_available: int | None = None
    """For a bundle: whole bundles its components' available stock makes, over all locations."""

    @property
    def available(self) -> int:
        if self.bundles_available is not None:
            return self.bundles_available
        return sum(loc.available for loc in self.locations)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "available": self.available, "is_bundle": bool(self.components)}


def stock_report(session: Session, skus: Sequence[str] = ()) -> list[SkuStock]:
    """Stock and listings of ``skus`` (every SKU when empty), sorted by SKU."""
    stmt = select(SkuRow).order_by(SkuRow.sku)
    if skus:
        stmt = stmt.where(SkuRow.sku.in_(set(skus)))
    rows = list(session.execute(stmt).scalars())
    missing = set(skus) - {r.sku for r in rows}
    if missing:
        raise NotFoundError("sku", sorted(missing)[0])
    ids = [r.id for r in rows]
    stock: dict[int, list[LocationStock]] = defaultdict(list)
    for sku_id, loc, on_hand, committed in session.execute(
        select(StockRow.sku_id, LocationRow.name, StockRow.on_hand, StockRow.committed)
        .join(LocationRow, LocationRow.id == StockRow.location_id)
        .where(StockRow.sku_id.in_(ids))
        .order_by(LocationRow.name)
    ):
        stock[sku_id].append(LocationStock(loc, on_hand, committed, on_hand - committed))
    listings: dict[int, list[ListingStock]] = defaultdict(list)
    for r, channel in session.execute(
        select(ListingRow, ChannelRow.name)
        .join(ChannelRow, ChannelRow.id == ListingRow.channel_id)
        .where(ListingRow.sku_id.in_(ids))
        .order_by(ChannelRow.name)
    ):
        listings[r.sku_id].append(
            ListingStock(
                channel,
                r.external_id,
                r.desired_qty,
                r.pushed_qty,
                r.expected_qty,
                r.dirty,
                r.state,
                r.channel_sku,
            )
        )
    comps: dict[int, dict[str, int]] = defaultdict(dict)
    for b, name, qty in session.execute(
        select(BundleComponentRow.bundle_id, SkuRow.sku, BundleComponentRow.qty)
        .join(SkuRow, SkuRow.id == BundleComponentRow.component_id)
        .where(BundleComponentRow.bundle_id.in_(ids))
    ):
        comps[b][name] = qty
    pools = _component_pools(session, {name for c in comps.values() for name in c})
    return [
        SkuStock(
            r.sku,
            r.title,
            r.reorder_point,
            comps.get(r.id, {}),
            stock.get(r.id, []),
            listings.get(r.id, []),
            bundle_pool(pools, comps[r.id]) if r.id in comps else None,
        )
        for r in rows
        if r.id is not None
    ]


def _component_pools(session: Session, names: set[str]) -> dict[str, int]:
    """Available units per component SKU, over every location."""
    if not names:
        return {}
    rows = session.execute(
        select(SkuRow.sku, func.sum(StockRow.on_hand - StockRow.committed))
        .join(StockRow, StockRow.sku_id == SkuRow.id)
        .where(SkuRow.sku.in_(names))
        .group_by(SkuRow.sku)
    )
    return {name: int(total) for name, total in rows}
