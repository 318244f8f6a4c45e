"""A channel's listing ids, taken from the SKUs the channel itself shows (``channel map``).

The rule is pure (:func:`stocksync.domain.mapping.propose_mapping`); this module loads what it
needs, and when asked writes the proposals that apply in the caller's transaction: new listings
(their desired quantity computed as the catalog import computes it) and changed ids. A listing
whose id changes (:func:`change_listing_ids`, used by the catalog import too) is checked on the
channel again before its next push, as if it were new.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Table, bindparam, null, select, update
from sqlmodel import Session

from stocksync.domain.clock import utcnow
from stocksync.domain.errors import NotFoundError
from stocksync.domain.listing_identity import ListingState
from stocksync.domain.mapping import MapStatus, Proposal, propose_mapping
from stocksync.domain.messages import ChannelQuantity
from stocksync.ledger.config_cache import bump_epoch
from stocksync.ledger.listings import listing_scope, refresh_listings
from stocksync.ledger.notify import notify_dirty
from stocksync.ledger.sql import conn, lock_stock
from stocksync.ledger.tables import ChannelRow, ListingRow, SkuRow

__all__ = ["ChannelMapping", "change_listing_ids", "map_channel"]

listing_table: Table = ListingRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class ChannelMapping:
    channel: str
    proposals: list[Proposal]
    applied: bool
    """Whether the proposals that apply were written."""

    def of(self, status: MapStatus) -> list[Proposal]:
        return [p for p in self.proposals if p.status == status]

    @property
    def to_apply(self) -> list[Proposal]:
        return [p for p in self.proposals if p.applies]


def map_channel(
    session: Session, channel: str, shown: Sequence[ChannelQuantity], *, apply: bool = False
) -> ChannelMapping:
    """The mapping of ``channel``'s listings from ``shown`` (every listing the channel shows, as
    ``read_quantities()`` returns them); with ``apply``, written.

    Applying locks the stock the new listings are computed from, then the channel's listings,
    and decides again on what it locked, so the mapping written is the one the locks protect.
    """
    channel_id = session.execute(
        select(ChannelRow.id).where(ChannelRow.name == channel)
    ).scalar_one_or_none()
    if channel_id is None:
        raise NotFoundError("channel", channel)
    pairs = [(q.listing_id, q.sku) for q in shown]
    skus, held = _load(session, channel_id, lock=False)
    proposals = propose_mapping(pairs, skus, {sku: ext for sku, (_, ext) in held.items()})
    if not apply or not any(p.applies for p in proposals):
        return ChannelMapping(channel, proposals, applied=False)
    changing = {skus[p.sku] for p in proposals if p.applies}
    lock_stock(session, sku_ids=listing_scope(session, changing)[1])
    skus, held = _load(session, channel_id, lock=True)
    proposals = propose_mapping(pairs, skus, {sku: ext for sku, (_, ext) in held.items()})
    to_apply = [p for p in proposals if p.applies]
    _write(session, channel_id, to_apply, skus, held)
    return ChannelMapping(channel, proposals, applied=bool(to_apply))


def _load(
    session: Session, channel_id: int, *, lock: bool
) -> tuple[dict[str, int], dict[str, tuple[int, str]]]:
    """(every SKU name → id, SKU → (listing id, external id) of the channel's listings)."""
    skus = {name: int(id_) for name, id_ in session.execute(select(SkuRow.sku, SkuRow.id))}
    stmt = (
        select(ListingRow.id, SkuRow.sku, ListingRow.external_id)
        .join(SkuRow, SkuRow.id == ListingRow.sku_id)
        .where(ListingRow.channel_id == channel_id)
        .order_by(ListingRow.id)
    )
    if lock:
        stmt = stmt.with_for_update(of=ListingRow)
    held = {sku: (int(lid), ext) for lid, sku, ext in session.execute(stmt)}
    return skus, held


def _write(
    session: Session,
    channel_id: int,
    proposals: list[Proposal],
    skus: Mapping[str, int],
    held: Mapping[str, tuple[int, str]],
) -> None:
    changes = {
        held[p.sku][0]: p.channel_id
        for p in proposals
        if p.status == MapStatus.CHANGE and p.channel_id
    }
    change_listing_ids(session, changes)
    new = [p for p in proposals if p.status == MapStatus.NEW and p.channel_id]
    for p in new:
        session.add(ListingRow(channel_id=channel_id, sku_id=skus[p.sku], external_id=p.channel_id))
    session.flush()
    if new:
        bump_epoch(session)  # an order waiting on our locks reads its listings again
    refresh_listings(session, {skus[p.sku] for p in proposals})


_NEW_ID = {
    "state": ListingState.UNVERIFIED.value,
    "channel_sku": null(),
    "attempts": 0,
    "refusals": 0,
    "next_attempt_at": null(),
    "last_error": null(),
    "dirty": True,
    "pushed_qty": null(),
    "expected_qty": null(),
    "unheard_qty": 0,
    "unheard_since": null(),
    "lease_owner": null(),
    "lease_until": null(),
}
"""A listing under a new id is as good as new: unverified, dirty, with no attempts, no error and
nothing pushed or expected (the old counts were the old id's; an expected count equal to the
desired one would leave the listing clean). Its lease is void, so a push in flight to the old id
records nothing. Its refs went with the old id (Shopify's name an inventory item)."""


def change_listing_ids(session: Session, changes: Mapping[int, str]) -> None:
    """Give listings (row id → new external id) their new ids, each to be checked on the channel
    before its next push. Ids may move between the listings given (swapped, say): every one
    moves to a placeholder first, so no two listings of a channel share an id at any moment."""
    if not changes:
        return
    c = conn(session)
    run = uuid.uuid4().hex
    set_id = (
        update(listing_table)
        .where(listing_table.c.id == bindparam("b_id"))
        .values(external_id=bindparam("b_ext"))
    )
    c.execute(set_id, [{"b_id": i, "b_ext": f"stocksync-remap:{run}:{i}"} for i in changes])
    c.execute(set_id, [{"b_id": i, "b_ext": ext} for i, ext in changes.items()])
    c.execute(
        update(listing_table)
        .where(listing_table.c.id.in_(list(changes)))
        .values(**_NEW_ID, external_refs={}, updated_at=utcnow())
    )
    notify_dirty(session)
