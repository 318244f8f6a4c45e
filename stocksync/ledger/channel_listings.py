"""One channel's listings as the ledger holds them, for operators comparing it with the channel."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from stocksync.ledger.tables import ChannelRow, ListingRow, SkuRow

__all__ = ["ChannelListings", "LedgerListing", "channel_listings"]


@dataclass(frozen=True, slots=True)
class LedgerListing:
    sku: str
    external_id: str
    refs: dict[str, str]
    desired: int
    expected: int | None
    """What the channel should show now; None until the first push."""
    pushed: int | None
    state: str = "unverified"
    """Whether the channel holds this SKU under ``external_id`` (``ListingRow.state``)."""
    channel_sku: str | None = None
    """The SKU the channel held under ``external_id`` when last checked."""


@dataclass(frozen=True, slots=True)
class ChannelListings:
    name: str
    kind: str
    listings: dict[str, LedgerListing] = field(default_factory=dict)
    """SKU → its listing on this channel."""


def channel_listings(
    session: Session, name: str, skus: Iterable[str] | None = None
) -> ChannelListings | None:
    """Channel ``name``'s kind and listings (only ``skus`` when given); None for an unknown channel."""
    channel = session.execute(select(ChannelRow).where(ChannelRow.name == name)).scalars().first()
    if channel is None:
        return None
    stmt = (
        select(ListingRow, SkuRow.sku)
        .join(SkuRow, SkuRow.id == ListingRow.sku_id)
        .where(ListingRow.channel_id == channel.id)
        .order_by(SkuRow.sku)
    )
    if skus is not None:
        stmt = stmt.where(SkuRow.sku.in_(set(skus)))
    listings = {
        sku: LedgerListing(
            sku,
            row.external_id,
            _text_refs(row.external_refs),
            row.desired_qty,
            row.expected_qty,
            row.pushed_qty,
            row.state,
            row.channel_sku,
        )  # fmt: skip
        for row, sku in session.execute(stmt)
    }
    return ChannelListings(channel.name, channel.kind, listings)


def _text_refs(refs: dict[str, Any] | None) -> dict[str, str]:
    return {str(k): str(v) for k, v in (refs or {}).items() if v is not None}
