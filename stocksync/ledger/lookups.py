"""Name → id look-ups that every operation starts with."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlmodel import Session

from stocksync.domain.errors import NotFoundError
from stocksync.ledger.sql import conn
from stocksync.ledger.tables import (
    BundleComponentRow,
    ChannelLocationRow,
    ChannelRow,
    ListingRow,
    LocationRow,
    SkuRow,
)

__all__ = ["ChannelRef", "SkuRef", "channel_ref", "location_id", "sku_refs"]


@dataclass(frozen=True, slots=True)
class ChannelRef:
    id: int
    name: str
    locations: frozenset[int]
    """The locations that feed the channel; empty means every location."""


@dataclass(frozen=True, slots=True)
class SkuRef:
    id: int
    sku: str
    recipe: dict[int, int]
    """Stocked SKU id → units per sold unit: ``{id: 1}``, or a bundle's components."""

    @property
    def is_bundle(self) -> bool:
        return self.recipe.keys() != {self.id}


def channel_ref(session: Session, name: str) -> ChannelRef:
    row = conn(session).execute(select(ChannelRow.id).where(ChannelRow.name == name)).first()
    if row is None:
        raise NotFoundError("channel", name)
    locs = (
        conn(session)
        .execute(
            select(ChannelLocationRow.location_id).where(ChannelLocationRow.channel_id == row[0])
        )
        .scalars()
    )
    return ChannelRef(row[0], name, frozenset(locs))


def location_id(session: Session, name: str) -> int:
    found = conn(session).execute(select(LocationRow.id).where(LocationRow.name == name)).scalar()
    if found is None:
        raise NotFoundError("location", name)
    return found


def sku_refs(session: Session, skus: Iterable[str]) -> dict[str, SkuRef]:
    """The SKUs among ``skus`` that exist, with their stock recipe (unknown ones are left out)."""
    names = set(skus)
    if not names:
        return {}
    rows = (
        conn(session)
        .execute(select(SkuRow.id, SkuRow.sku, SkuRow.is_bundle).where(SkuRow.sku.in_(names)))
        .all()
    )
    bundles = [r.id for r in rows if r.is_bundle]
    recipes: dict[int, dict[int, int]] = {r.id: {} if r.is_bundle else {r.id: 1} for r in rows}
    if bundles:
        for b, c, q in conn(session).execute(
            select(
                BundleComponentRow.bundle_id,
                BundleComponentRow.component_id,
                BundleComponentRow.qty,
            ).where(BundleComponentRow.bundle_id.in_(bundles))
        ):
            recipes[b][c] = q
    return {r.sku: SkuRef(r.id, r.sku, recipes[r.id]) for r in rows}


def skus_by_listing(
    session: Session, channel_id: int, listing_ids: Iterable[str]
) -> dict[str, str]:
    """The channel's external listing ids that map to a SKU → that SKU."""
    ids = set(listing_ids)
    if not ids:
        return {}
    rows = conn(session).execute(
        select(ListingRow.external_id, SkuRow.sku)
        .join(SkuRow, SkuRow.id == ListingRow.sku_id)
        .where(ListingRow.channel_id == channel_id, ListingRow.external_id.in_(ids))
    )
    return {ext: sku for ext, sku in rows}  # noqa: C416 (dict(Result) would call Result.keys())
