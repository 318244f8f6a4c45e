"""Keep every listing's desired quantity in step with the stock, inside the caller's transaction."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import Table, bindparam, select, update
from sqlmodel import Session

from stocksync.domain.allocation import Claim, bundle_pool, pool, sellable_quantities
from stocksync.domain.model import ChannelPolicy
from stocksync.ledger.tables import (
    BundleComponentRow,
    ChannelLocationRow,
    ChannelRow,
    ListingRow,
    StockRow,
    utcnow,
)

__all__ = ["ListingChange", "compute_desired", "load_listings", "refresh_listings"]

listing_table: Table = ListingRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class ListingChange:
    listing_id: int
    channel_id: int
    sku_id: int
    desired_qty: int
    expected_qty: int | None
    dirty: bool


@dataclass(frozen=True, slots=True)
class ListingState:
    id: int
    channel_id: int
    sku_id: int
    desired_qty: int
    expected_qty: int | None
    version: int
    dirty: bool
    channel: str
    priority: int
    policy: ChannelPolicy


def refresh_listings(
    session: Session,
    sku_ids: Iterable[int],
    sold: Mapping[tuple[int, int], int] | None = None,
) -> list[ListingChange]:
    """Recompute the listings of ``sku_ids`` and of every bundle containing them; mark changes dirty.

    ``sold`` maps (channel id, listed SKU id) to units a channel just sold itself, which that
    channel has already taken off its own count (its expected quantity drops by as much).
    Listing rows are locked in id order after the caller's stock locks, and the pools are read
    after those locks, so the last writer always writes from the latest committed stock.
    """
    sold = sold or {}
    targets = set(sku_ids) | {sku for _, sku in sold}
    if not targets:
        return []
    targets |= set(
        session.execute(
            select(BundleComponentRow.bundle_id).where(BundleComponentRow.component_id.in_(targets))
        ).scalars()
    )
    listings = load_listings(session, targets, lock=True)
    if not listings:
        return []
    desired = compute_desired(session, listings)
    changes = []
    for row in listings:
        expected = row.expected_qty
        if expected is not None and (row.channel_id, row.sku_id) in sold:
            expected -= sold[(row.channel_id, row.sku_id)]
        new = desired[row.id]
        dirty = expected is None or expected != new
        if (new, expected, dirty) != (row.desired_qty, row.expected_qty, row.dirty):
            changes.append(ListingChange(row.id, row.channel_id, row.sku_id, new, expected, dirty))
    if changes:
        versions = {row.id: row.version for row in listings}
        old = {row.id: row.desired_qty for row in listings}
        session.execute(
            update(listing_table)
            .where(listing_table.c.id == bindparam("b_id"))
            .values(
                desired_qty=bindparam("b_desired"),
                expected_qty=bindparam("b_expected"),
                dirty=bindparam("b_dirty"),
                version=bindparam("b_version"),
                updated_at=bindparam("b_now"),
            ),
            [
                {
                    "b_id": c.listing_id,
                    "b_desired": c.desired_qty,
                    "b_expected": c.expected_qty,
                    "b_dirty": c.dirty,
                    "b_version": versions[c.listing_id] + (old[c.listing_id] != c.desired_qty),
                    "b_now": utcnow(),
                }
                for c in changes
            ],
        )
    return changes


def load_listings(session: Session, sku_ids: set[int] | None, *, lock: bool) -> list[ListingState]:
    """Listings of ``sku_ids`` (all when None) with their channel's rules, in id order."""
    stmt = (
        select(
            ListingRow.id,
            ListingRow.channel_id,
            ListingRow.sku_id,
            ListingRow.desired_qty,
            ListingRow.expected_qty,
            ListingRow.version,
            ListingRow.dirty,
            ChannelRow.name,
            ChannelRow.priority,
            ChannelRow.buffer,
            ChannelRow.max_listed,
            ChannelRow.share_pct,
            ChannelRow.zero_below,
            ChannelRow.last_units,
        )
        .join(ChannelRow, ChannelRow.id == ListingRow.channel_id)
        .order_by(ListingRow.id)
    )
    if sku_ids is not None:
        stmt = stmt.where(ListingRow.sku_id.in_(sku_ids))
    if lock:
        stmt = stmt.with_for_update(of=ListingRow)
    return [
        ListingState(
            *r[:9],
            policy=ChannelPolicy(
                buffer=r.buffer,
                max_listed=r.max_listed,
                share_pct=r.share_pct,
                zero_below=r.zero_below,
                last_units=r.last_units,
            ),
        )
        for r in session.execute(stmt)
    ]


def compute_desired(session: Session, listings: list[ListingState]) -> dict[int, int]:
    """Listing id → the quantity the rules give it from the stock as this session sees it."""
    channel_ids = {row.channel_id for row in listings}
    feeds: dict[int, set[int]] = defaultdict(set)
    for ch, loc in session.execute(
        select(ChannelLocationRow.channel_id, ChannelLocationRow.location_id).where(
            ChannelLocationRow.channel_id.in_(channel_ids)
        )
    ):
        feeds[ch].add(loc)
    listed = {row.sku_id for row in listings}
    recipes: dict[int, dict[int, int]] = defaultdict(dict)
    for b, c, q in session.execute(
        select(
            BundleComponentRow.bundle_id, BundleComponentRow.component_id, BundleComponentRow.qty
        ).where(BundleComponentRow.bundle_id.in_(listed))
    ):
        recipes[b][c] = q
    stocked = {c for r in recipes.values() for c in r} | (listed - recipes.keys())
    available: dict[int, dict[int, int]] = defaultdict(dict)
    for sku, loc, on_hand, committed in session.execute(
        select(StockRow.sku_id, StockRow.location_id, StockRow.on_hand, StockRow.committed).where(
            StockRow.sku_id.in_(stocked)
        )
    ):
        available[sku][loc] = on_hand - committed

    def pool_for(sku: int, channel_id: int) -> int:
        locs = feeds.get(channel_id) or available[sku].keys()
        return pool(available[sku], locs)

    by_sku: dict[int, list[ListingState]] = defaultdict(list)
    for row in listings:
        by_sku[row.sku_id].append(row)
    result: dict[int, int] = {}
    for sku, rows in by_sku.items():
        claims = []
        for row in rows:
            if sku in recipes:
                comp = {c: pool_for(c, row.channel_id) for c in recipes[sku]}
                qty = bundle_pool(comp, recipes[sku])
                locs = frozenset().union(
                    *(_feed(feeds, available, c, row.channel_id) for c in recipes[sku])
                )
            else:
                qty = pool_for(sku, row.channel_id)
                locs = _feed(feeds, available, sku, row.channel_id)
            claims.append(Claim(row.channel, row.priority, qty, row.policy, locs))
        shown = sellable_quantities(claims)
        for row in rows:
            result[row.id] = shown[row.channel]
    return result


def _feed(
    feeds: Mapping[int, set[int]],
    available: Mapping[int, dict[int, int]],
    sku: int,
    channel_id: int,
) -> frozenset[int]:
    return frozenset(feeds.get(channel_id) or available.get(sku, {}).keys())
