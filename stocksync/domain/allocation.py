"""Turn available stock into what an order line takes and into the quantity each channel lists.
Pure functions, no I/O.

An order line takes its units through :func:`allocate`, which asks a policy
(:data:`stocksync.domain.commit.Policy`, by default the locations with the most available first)
and holds it to whole units of stock that exists.

A channel's *pool* of a SKU is the available stock (on hand minus committed) summed over the
locations that feed the channel. The channel's :class:`ChannelPolicy` shapes the pool into a
listed quantity; the last-units guard then looks across the channels that share that stock so
that, when little is left, only the top-ranked channel shows it and two channels cannot both
sell the last unit during the sync gap.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from stocksync.domain.commit import Policy, Take, most_available
from stocksync.domain.model import ChannelPolicy

__all__ = [
    "Claim",
    "allocate",
    "bundle_pool",
    "capped",
    "keepers",
    "last_units_guard",
    "less_buffer",
    "pool",
    "reserve",
    "reserved_for",
    "sellable_quantities",
    "shape",
    "share_of",
    "zeroed",
]


def allocate(
    quantity: int,
    recipe: Mapping[int, int],
    available: dict[int, dict[int, int]],
    policy: Policy = most_available,
) -> tuple[int, list[Take]]:
    """Commit what ``policy`` takes of ``quantity`` units; return (units filled, takes).

    ``recipe`` maps each stocked SKU to the units one sold unit consumes (``{sku: 1}`` for a plain
    SKU, the components for a bundle). ``available`` maps SKU → location → available units and is
    decremented in place, so consecutive lines of one order see what earlier lines took. The
    policy's takes are merged per (SKU, location) and refused (ValueError) unless they are whole
    units, no more than ``quantity``, each within what its location has available.
    """
    if not recipe or any(per_unit <= 0 for per_unit in recipe.values()):
        raise ValueError("a recipe needs at least one SKU, each with a positive quantity")
    if quantity <= 0:
        return 0, []
    takes = _merged(policy(quantity, recipe, available))
    units = _whole_units(takes, recipe, quantity)
    for take in takes:
        if take.qty > available.get(take.sku_id, {}).get(take.location_id, 0):
            raise ValueError(f"the policy took more than is available: {take}")
    for take in takes:
        available[take.sku_id][take.location_id] -= take.qty
    return units, takes


def _merged(takes: Sequence[Take]) -> list[Take]:
    totals: dict[tuple[int, int], int] = {}
    for take in takes:
        if take.qty <= 0:
            raise ValueError(f"the policy took no units: {take}")
        key = (take.sku_id, take.location_id)
        totals[key] = totals.get(key, 0) + take.qty
    if len(totals) == len(takes):
        return list(takes)
    return [Take(sku, loc, qty) for (sku, loc), qty in totals.items()]


def _whole_units(takes: Sequence[Take], recipe: Mapping[int, int], quantity: int) -> int:
    """How many sold units ``takes`` make: the same whole number for every component."""
    by_sku: dict[int, int] = {}
    for take in takes:
        by_sku[take.sku_id] = by_sku.get(take.sku_id, 0) + take.qty
    if not by_sku:
        return 0
    units = by_sku.get(min(recipe), 0) // recipe[min(recipe)]
    if (
        set(by_sku) != set(recipe)
        or units > quantity
        or any(by_sku[sku] != units * per_unit for sku, per_unit in recipe.items())
    ):
        raise ValueError(f"the policy took no whole number of up to {quantity} units: {takes}")
    return units


def pool(available_by_location: Mapping[int, int], locations: Iterable[int]) -> int:
    """Available units over ``locations``; a location short of its commitments counts against it."""
    return max(0, sum(available_by_location.get(loc, 0) for loc in locations))


def bundle_pool(component_pools: Mapping[str, int], components: Mapping[str, int]) -> int:
    """How many whole bundles the components' pools can make: the scarcest component decides."""
    if not components:
        raise ValueError("a bundle needs at least one component")
    if any(qty <= 0 for qty in components.values()):
        raise ValueError("a bundle's component quantities must be positive")
    return min(max(0, component_pools.get(sku, 0)) // qty for sku, qty in components.items())


def shape(pool_qty: int, policy: ChannelPolicy) -> int:
    """Apply one channel's policy to its pool, before the last-units guard.

    The steps, in order (``stocksync.domain.explain`` walks the same ones): zero-out threshold,
    buffer, share, maximum listed.
    """
    if zeroed(pool_qty, policy):
        return 0
    return capped(share_of(less_buffer(pool_qty, policy), policy), policy)


def zeroed(pool_qty: int, policy: ChannelPolicy) -> bool:
    """Whether the pool is at or below the policy's zero-out threshold, so the channel lists 0."""
    return pool_qty <= policy.zero_below


def less_buffer(qty: int, policy: ChannelPolicy) -> int:
    """``qty`` with the policy's safety buffer held back."""
    return max(0, qty - policy.buffer)


def share_of(qty: int, policy: ChannelPolicy) -> int:
    """The policy's percentage share of ``qty``, rounded down."""
    return qty * policy.share_pct // 100


def capped(qty: int, policy: ChannelPolicy) -> int:
    """``qty``, no more than the policy's maximum listed."""
    return qty if policy.max_listed is None else min(qty, policy.max_listed)


@dataclass(frozen=True, slots=True)
class Claim:
    """One channel's view of one SKU: its pool, its policy and which locations feed it."""

    channel: str
    priority: int
    """Higher wins the last units; ties go to the channel whose name sorts first."""
    pool: int
    policy: ChannelPolicy
    locations: frozenset[int]
    rate: float = 0.0
    """Units of the pool sold per second lately."""
    gap_s: float = 0.0
    """The channel's measured sync gap (``stocksync.domain.sync_lag.gap_seconds``)."""
    own_rate: float = 0.0
    """Units of the pool this channel itself sold per second lately."""
    own_late_s: float = 0.0
    """How late this channel's own orders reach the ledger (``SyncLag.order_s``)."""
    settled: bool = False
    """The channel shows 0 of the SKU and has for longer than its orders take to reach the
    ledger (``stocksync.domain.listing_state.settled_at_zero``): it can have sold nothing the
    pool still counts."""

    @property
    def unheard_estimate(self) -> float:
        """Units this channel may have sold that the ledger has not heard of yet: its own rate ×
        its own order lateness; none once it has settled at 0."""
        return 0.0 if self.settled else self.own_rate * self.own_late_s

    @property
    def rank(self) -> tuple[int, str]:
        return (-self.priority, self.channel)

    @property
    def guard_seconds(self) -> float:
        """Seconds of sales the guard covers: the policy's ``last_seconds``, or the measured gap
        if that is longer and the policy follows it."""
        measured = self.gap_s if self.policy.measured_guard else 0.0
        return max(self.policy.last_seconds, measured)

    @property
    def last_units(self) -> int:
        """The guard's threshold: the policy's last units, or what sells in the guard's seconds
        (no more than the policy's ``guard_max``); 0 for a channel without a guard."""
        if not self.policy.guarded:
            return 0
        return max(self.policy.last_units, self.last_units_by_rate)

    @property
    def last_units_by_rate(self) -> int:
        """What the SKU sells in :attr:`guard_seconds` at :attr:`rate`, rounded up, capped at the
        policy's ``guard_max``."""
        grown = math.ceil(self.rate * self.guard_seconds - 1e-9)
        cap = self.policy.guard_max
        return grown if cap is None else min(grown, cap)

    @property
    def guarded(self) -> bool:
        """Whether the pool is down to the last units, where only the top channel lists it."""
        return self.pool <= self.last_units


def sellable_quantities(claims: Sequence[Claim]) -> dict[str, int]:
    """The quantity each channel should list for one SKU, the last-units guard applied.

    A channel whose pool is at or below its ``last_units`` (grown to its sales rate × the
    seconds its guard covers, :attr:`Claim.last_units`) lists 0 if a higher-ranked channel that
    shares a location with it is itself still listing stock (see :func:`last_units_guard`). The
    channel it leaves the last units to (:func:`keepers`) lists them less its :func:`reserve`,
    the units the others may have sold that the ledger has not heard of yet.
    """
    shaped = {c.channel: shape(c.pool, c.policy) for c in claims}
    ahead = last_units_guard(claims, shaped)
    hidden = {c.channel for c in claims if c.guarded and ahead.get(c.channel) is not None}
    kept = keepers(claims, ahead)
    for claim in claims:
        if claim.channel in hidden:
            shaped[claim.channel] = 0
        elif claim.channel in kept:
            shaped[claim.channel] = max(0, shaped[claim.channel] - reserve(claims, claim))
    return shaped


def reserve(claims: Sequence[Claim], keeper: Claim) -> int:
    """What ``keeper`` holds back while it keeps the last units: the units the other channels
    sharing a location with it may have sold that the ledger has not heard of yet
    (:attr:`Claim.unheard_estimate`, summed and rounded up), no more than its policy's
    ``guard_max``; 0 unless its guard follows the measured gap.

    The ledger still counts those units in the pool, and the keeper, never hidden, would sell
    them a second time. A channel that has settled at 0 adds nothing: once all have, the
    keeper lists the whole pool again."""
    policy = keeper.policy
    if not (policy.guarded and policy.measured_guard):
        return 0
    held = math.ceil(sum(c.unheard_estimate for c in reserved_for(claims, keeper)) - 1e-9)
    return held if policy.guard_max is None else min(held, policy.guard_max)


def reserved_for(claims: Sequence[Claim], keeper: Claim) -> list[Claim]:
    """The other channels sharing a location with ``keeper``: the ones its reserve covers."""
    return [c for c in claims if c.channel != keeper.channel and c.locations & keeper.locations]


def keepers(claims: Sequence[Claim], ahead: Mapping[str, str | None]) -> set[str]:
    """The channels the guard leaves some channel's last units to (``ahead`` as
    :func:`last_units_guard` gives it)."""
    return {keeper for c in claims if c.guarded and (keeper := ahead.get(c.channel)) is not None}


def last_units_guard(claims: Sequence[Claim], shaped: Mapping[str, int]) -> dict[str, str | None]:
    """For each channel whose shaped quantity is above 0: the highest-ranked channel ahead of it
    that shares a location with it and still lists stock, or None when there is none.

    At or below its last units (:attr:`Claim.guarded`) a channel with one ahead of it lists 0:
    that channel keeps the last units. Channels are taken in rank order; a channel the guard
    hides does not hide others, so no location's last units end up listed nowhere.
    """
    ahead: dict[str, str | None] = {}
    listing: list[Claim] = []
    for claim in sorted(claims, key=lambda c: c.rank):
        if shaped[claim.channel] <= 0:
            continue
        first = next((o.channel for o in listing if o.locations & claim.locations), None)
        ahead[claim.channel] = first
        if first is None or not claim.guarded:
            listing.append(claim)
    return ahead
