"""A listing's refs: the ids a channel knows it by besides its listing id.

Shopify's listing is an InventoryItem; its variant and location gids ride along as refs, so a push
names the location and an order line naming the variant finds the listing
(``stocksync.ledger.listing_match``). A listing's refs go when its id changes
(``stocksync.ledger.mapping.change_listing_ids``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select, update
from sqlmodel import Session

from stocksync.ledger.tables import ChannelRow, ListingRow, SkuRow

__all__ = ["set_listing_refs"]


def set_listing_refs(session: Session, channel: str, refs: Mapping[str, Mapping[str, Any]]) -> None:
    """Set the refs of ``channel``'s listings, SKU → refs; a SKU the ledger lacks is skipped."""
    in_refs = SkuRow.sku.in_(list(refs))  # type: ignore[attr-defined]
    sku_ids: dict[str, int] = dict(
        session.execute(select(SkuRow.sku, SkuRow.id).where(in_refs)).all()
    )
    channel_id = session.execute(select(ChannelRow.id).where(ChannelRow.name == channel)).scalar()
    for sku, value in refs.items():
        if sku in sku_ids:
            session.execute(
                update(ListingRow)
                .where(ListingRow.channel_id == channel_id, ListingRow.sku_id == sku_ids[sku])  # type: ignore[arg-type]
                .values(external_refs=dict(value))
            )
