"""Listings the push pipeline holds back for a person: their id names another SKU on the
channel (or nothing), or the channel refused their pushes once too often.

``stocksync.sync.drain`` puts a listing here; this module finds them (for ``ledger verify``,
alerts and ``stock show``) and lets a person send one back to the pipeline, which checks its
id on the channel again before the next push.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import null, select, update
from sqlmodel import Session

from stocksync.domain.clock import utcnow
from stocksync.domain.errors import NotFoundError
from stocksync.domain.listing_identity import PUSHABLE, ListingState
from stocksync.ledger.notify import notify_dirty
from stocksync.ledger.tables import ChannelRow, ListingRow, SkuRow

__all__ = ["HeldListing", "held_listings", "retry_listing"]


@dataclass(frozen=True, slots=True)
class HeldListing:
    listing_id: int
    channel: str
    sku: str
    external_id: str
    state: ListingState
    channel_sku: str | None
    """What the channel holds under ``external_id`` (mismatched: another SKU, or None)."""
    error: str

    @property
    def alert_key(self) -> str:
        """One alert per listing, state and id: a new id held back again is alerted again."""
        return f"held:{self.listing_id}:{self.state}:{self.external_id}"[:300]

    def describe(self) -> str:
        return f"{self.state} ({self.error})" if self.error else str(self.state)


def held_listings(session: Session) -> list[HeldListing]:
    """Every listing the pipeline will not push until a person acts, by channel and SKU."""
    rows = session.execute(
        select(ListingRow, ChannelRow.name, SkuRow.sku)
        .join(ChannelRow, ChannelRow.id == ListingRow.channel_id)
        .join(SkuRow, SkuRow.id == ListingRow.sku_id)
        .where(ListingRow.state.not_in(PUSHABLE))  # type: ignore[attr-defined]
        .order_by(ChannelRow.name, SkuRow.sku)
    )
    return [
        HeldListing(
            int(li.id),
            channel,
            sku,
            li.external_id,
            ListingState(li.state),
            li.channel_sku,
            li.last_error or "",
        )  # fmt: skip
        for li, channel, sku in rows
        if li.id is not None
    ]


def retry_listing(session: Session, channel: str, sku: str) -> ListingState:
    """Send a held (or any) listing back to the pipeline: its id is checked on the channel
    again, and it is pushed at once if the channel holds its SKU. Returns its state before."""
    row = session.execute(
        select(ListingRow)
        .join(ChannelRow, ChannelRow.id == ListingRow.channel_id)
        .join(SkuRow, SkuRow.id == ListingRow.sku_id)
        .where(ChannelRow.name == channel, SkuRow.sku == sku)
        .with_for_update()
    ).scalar_one_or_none()
    if row is None:
        raise NotFoundError("listing", f"{channel}/{sku}")
    before = ListingState(row.state)
    session.execute(
        update(ListingRow)
        .where(ListingRow.id == row.id)  # type: ignore[arg-type]
        .values(
            state=ListingState.UNVERIFIED,
            channel_sku=null(),
            refusals=0,
            attempts=0,
            next_attempt_at=null(),
            last_error=null(),
            dirty=True,
            updated_at=utcnow(),
        )  # fmt: skip
    )
    notify_dirty(session)
    return before
