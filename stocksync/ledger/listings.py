"""Keep every listing's desired quantity in step with the stock, inside the caller's transaction.

The computation is pure (:func:`desired_quantities`, :func:`listing_changes`); the functions around
it load and write rows. Listing rows are locked in id order after the caller's stock locks, and
pools are read after those locks, so the last writer always writes from the latest stock.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Table, bindparam, select, update
from sqlmodel import Session

from stocksync.domain.allocation import Claim, bundle_pool, pool, sellable_quantities
from stocksync.domain.clock import as_utc, utcnow
from stocksync.domain.listing_state import after_stock_change, settled_at_zero
from stocksync.domain.model import ChannelPolicy
from stocksync.domain.sync_lag import Gap
from stocksync.ledger.config_cache import channel_policy, last_write_wins
from stocksync.ledger.notify import notify_dirty
from stocksync.ledger.sql import conn, lock_stock
from stocksync.ledger.sync_lag import cached_lags, channel_gaps, measure_lags
from stocksync.ledger.tables import (
    BundleComponentRow,
    ChannelLocationRow,
    ChannelRow,
    ListingRow,
    StockRow,
)
from stocksync.ledger.velocity import SalesRates, sales_rates

__all__ = [
    "AllocationInputs",
    "ListingChange",
    "ListingWithRules",
    "allocation_inputs",
    "compute_desired",
    "desired_quantities",
    "listing_changes",
    "listing_scope",
    "load_listings",
    "paced",
    "refresh_listings",
    "write_listing_changes",
]

listing_table: Table = ListingRow.__table__  # type: ignore[attr-defined]

Available = Mapping[int, Mapping[int, int]]
"""SKU id → location id → available units."""


@dataclass(frozen=True, slots=True)
class ListingWithRules:
    """A listing's quantities with its channel's rules: what allocation and a stock change read
    (:func:`desired_quantities`, :func:`listing_changes`)."""

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
    unheard_qty: int = 0
    last_write_wins: bool = True
    pushed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ListingChange:
    listing_id: int
    channel_id: int
    sku_id: int
    desired_qty: int
    expected_qty: int | None
    dirty: bool
    version: int
    unheard_qty: int


_NO_GAP = Gap()


def desired_quantities(
    listings: Iterable[ListingWithRules],
    available: Available,
    feeds: Mapping[int, frozenset[int]],
    recipes: Mapping[int, Mapping[int, int]],
    rates: Mapping[int, float] | None = None,
    gaps: Mapping[int, Gap] | None = None,
    now: datetime | None = None,
    *,
    channel_rates: Mapping[tuple[int, int], float] | None = None,
) -> dict[int, int]:
    """Listing id → what the rules let it list. ``feeds``: channel → locations (none = all);
    ``rates``: stocked SKU → units sold per second lately, ``channel_rates`` the same per
    (stocked SKU, selling channel) (see :mod:`velocity`); ``gaps``: channel → what its rules take
    from the measured lags (see :mod:`sync_lag`); ``now``: when, for whether a listing has
    settled at 0 (``listing_state.settled_at_zero``)."""
    rates, gaps, channel_rates = rates or {}, gaps or {}, channel_rates or {}
    now = now or utcnow()

    def locations(sku: int, channel_id: int) -> frozenset[int]:
        return feeds.get(channel_id) or frozenset(available.get(sku, {}))

    by_sku: dict[int, list[ListingWithRules]] = defaultdict(list)
    for row in listings:
        by_sku[row.sku_id].append(row)
    result: dict[int, int] = {}
    for sku, rows in by_sku.items():
        claims = []
        for row in rows:
            parts = recipes.get(sku) or {sku: 1}
            pools = {c: pool(available.get(c, {}), locations(c, row.channel_id)) for c in parts}
            qty = bundle_pool(pools, parts) if sku in recipes else pools[sku]
            locs = frozenset().union(*(locations(c, row.channel_id) for c in parts))
            rate = max(rates.get(c, 0.0) / n for c, n in parts.items())
            own = max(channel_rates.get((c, row.channel_id), 0.0) / n for c, n in parts.items())
            gap = gaps.get(row.channel_id, _NO_GAP)
            settled = settled_at_zero(
                row.expected_qty, row.unheard_qty, row.pushed_at, gap.settle_s, now
            )
            claims.append(
                Claim(row.channel, row.priority, qty, row.policy, locs, rate, gap.guard_s,
                      own, gap.own_late_s, settled)
            )  # fmt: skip
        shown = sellable_quantities(claims)
        result.update((row.id, shown[row.channel]) for row in rows)
    return result


def listing_changes(
    listings: Iterable[ListingWithRules],
    desired: Mapping[int, int],
    sold: Mapping[tuple[int, int], int],
) -> list[ListingChange]:
    """The listings whose desired or expected quantity or dirty flag must change, each by
    :func:`~stocksync.domain.listing_state.after_stock_change`.

    ``sold`` maps (channel id, listed SKU id) to units that channel just sold itself and so has
    already taken off its own count.
    """
    changes = []
    for row in listings:
        units = sold.get((row.channel_id, row.sku_id), 0)
        after = after_stock_change(row, desired[row.id], units, last_write_wins=row.last_write_wins)
        if after is not None:
            changes.append(
                ListingChange(
                    row.id,
                    row.channel_id,
                    row.sku_id,
                    after.desired_qty,
                    after.expected_qty,
                    after.dirty,
                    after.version,
                    after.unheard_qty,
                )
            )
    return changes


def write_listing_changes(session: Session, changes: Iterable[ListingChange]) -> None:
    """Write the changes; drainers hear of any listing left dirty when the transaction commits."""
    changes = list(changes)
    rows = [
        {
            "b_id": c.listing_id,
            "b_desired": c.desired_qty,
            "b_expected": c.expected_qty,
            "b_dirty": c.dirty,
            "b_version": c.version,
            "b_unheard": c.unheard_qty,
            "b_now": utcnow(),
        }
        for c in changes
    ]
    if rows:
        conn(session).execute(_UPDATE_LISTING, rows)
        if any(c.dirty for c in changes):
            notify_dirty(session)


_UPDATE_LISTING = (
    update(listing_table)
    .where(listing_table.c.id == bindparam("b_id"))
    .values(
        desired_qty=bindparam("b_desired"),
        expected_qty=bindparam("b_expected"),
        dirty=bindparam("b_dirty"),
        version=bindparam("b_version"),
        unheard_qty=bindparam("b_unheard"),
        updated_at=bindparam("b_now"),
    )
)


def listing_scope(session: Session, sku_ids: Iterable[int]) -> tuple[set[int], set[int]]:
    """(listed SKUs to recompute, stocked SKUs whose rows that reads) when ``sku_ids`` change.

    The listed SKUs are ``sku_ids`` and every bundle containing one; the stocked SKUs are the
    plain ones among them and every component of those bundles. An operation locks the stock
    rows of the second set, in order, before it changes anything, so the refresh at its end
    takes no stock lock out of order.
    """
    c = conn(session)
    targets = set(sku_ids)
    if not targets:
        return set(), set()
    targets |= set(
        c.execute(
            select(BundleComponentRow.bundle_id).where(BundleComponentRow.component_id.in_(targets))
        ).scalars()
    )
    bundles: dict[int, set[int]] = defaultdict(set)
    for bundle, component in c.execute(
        select(BundleComponentRow.bundle_id, BundleComponentRow.component_id).where(
            BundleComponentRow.bundle_id.in_(targets)
        )
    ):
        bundles[bundle].add(component)
    return targets, {sku for t in targets for sku in bundles.get(t, {t})}


def refresh_listings(
    session: Session,
    sku_ids: Iterable[int],
    sold: Mapping[tuple[int, int], int] | None = None,
) -> list[ListingChange]:
    """Recompute the listings of ``sku_ids`` and of every bundle containing them; mark changes dirty.

    Every stock row the computation reads is locked first (a no-op for rows the operation already
    holds), then the listings, so no other writer changes them between our read and our commit.
    """
    sold = sold or {}
    targets, stocked = listing_scope(session, set(sku_ids) | {sku for _, sku in sold})
    if not targets:
        return []
    lock_stock(session, sku_ids=stocked)
    listings = load_listings(session, targets, lock=True)
    if not listings:
        return []
    changes = listing_changes(listings, compute_desired(session, listings), sold)
    write_listing_changes(session, changes)
    return changes


def load_listings(
    session: Session, sku_ids: set[int] | None, *, lock: bool
) -> list[ListingWithRules]:
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
            ChannelRow.last_seconds,
            ChannelRow.measured_guard,
            ChannelRow.guard_max,
            ListingRow.unheard_qty,
            ChannelRow.kind,
            ListingRow.pushed_at,
        )
        .join(ChannelRow, ChannelRow.id == ListingRow.channel_id)
        .order_by(ListingRow.id)
    )
    if sku_ids is not None:
        stmt = stmt.where(ListingRow.sku_id.in_(sku_ids))
    if lock:
        stmt = stmt.with_for_update(of=ListingRow)
    return [_listing_with_rules(r) for r in conn(session).execute(stmt)]


def _listing_with_rules(r: Row[Any]) -> ListingWithRules:
    """A ListingWithRules from a row of :func:`load_listings` (listing columns, the channel's
    name, priority, policy columns and kind)."""
    return ListingWithRules(
        r.id,
        r.channel_id,
        r.sku_id,
        r.desired_qty,
        r.expected_qty,
        r.version,
        bool(r.dirty),
        r.name,
        r.priority,
        channel_policy(r),
        r.unheard_qty,
        last_write_wins(r.kind),
        as_utc(r.pushed_at) if r.pushed_at is not None else None,
    )


def compute_desired(session: Session, listings: list[ListingWithRules]) -> dict[int, int]:
    """Listing id → the quantity the rules give it from the stock as this session sees it."""
    inputs = allocation_inputs(session, listings)
    return desired_quantities(
        listings, inputs.available, inputs.feeds, inputs.recipes, inputs.rates.by_sku,
        inputs.gaps, channel_rates=inputs.rates.by_channel,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class AllocationInputs:
    """What the rules read for a set of listings, besides the listings themselves."""

    feeds: dict[int, frozenset[int]]
    """Channel id → the locations feeding it (absent: every location)."""
    recipes: dict[int, dict[int, int]]
    """Listed bundle id → component id → units per bundle."""
    stock: dict[int, dict[int, tuple[int, int]]]
    """Stocked SKU id → location id → (on hand, committed)."""
    rates: SalesRates
    """Units sold per second lately (empty unless a guard grows with them)."""
    gaps: dict[int, Gap] = field(default_factory=dict)
    """Channel id → what its rules take from the measured lags (empty unless a guard grows with
    them)."""

    @property
    def available(self) -> dict[int, dict[int, int]]:
        """Stocked SKU id → location id → available units."""
        return {
            sku: {loc: on_hand - committed for loc, (on_hand, committed) in by_loc.items()}
            for sku, by_loc in self.stock.items()
        }


def allocation_inputs(
    session: Session,
    listings: list[ListingWithRules],
    *,
    now: datetime | None = None,
    fresh_lags: bool = False,
) -> AllocationInputs:
    """The channels' feeds, the bundles' recipes, the stock and the sales rates (as of ``now``)
    that :func:`desired_quantities` needs for ``listings``, as this session sees them, with the
    channels' sync gaps: this process's reading of them (at most a second old, as the order path
    uses), or measured now (``fresh_lags``, for an explanation)."""
    c = conn(session)
    feeds: dict[int, set[int]] = defaultdict(set)
    for ch, loc in c.execute(
        select(ChannelLocationRow.channel_id, ChannelLocationRow.location_id).where(
            ChannelLocationRow.channel_id.in_({row.channel_id for row in listings})
        )
    ):
        feeds[ch].add(loc)
    listed = {row.sku_id for row in listings}
    recipes: dict[int, dict[int, int]] = defaultdict(dict)
    for b, comp, q in c.execute(
        select(
            BundleComponentRow.bundle_id, BundleComponentRow.component_id, BundleComponentRow.qty
        ).where(BundleComponentRow.bundle_id.in_(listed))
    ):
        recipes[b][comp] = q
    stocked = {comp for r in recipes.values() for comp in r} | (listed - recipes.keys())
    stock: dict[int, dict[int, tuple[int, int]]] = defaultdict(dict)
    for sku, loc, on_hand, committed in c.execute(
        select(StockRow.sku_id, StockRow.location_id, StockRow.on_hand, StockRow.committed).where(
            StockRow.sku_id.in_(stocked)
        )
    ):
        stock[sku][loc] = (on_hand, committed)
    frozen = {ch: frozenset(locs) for ch, locs in feeds.items()}
    if not paced(listings):
        return AllocationInputs(frozen, dict(recipes), dict(stock), SalesRates())
    rates = sales_rates(session, stocked, now=now)
    lags = measure_lags(session, now) if fresh_lags else cached_lags(session)
    gaps = channel_gaps(lags, {row.channel_id for row in listings})
    return AllocationInputs(frozen, dict(recipes), dict(stock), rates, gaps)


def paced(listings: Iterable[ListingWithRules]) -> bool:
    """Whether any of these listings' guards grows with the sales rate."""
    return any(row.policy.grows_with_rate for row in listings)
