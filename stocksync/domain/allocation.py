"""Turn available stock into the quantity each channel lists. Pure functions, no I/O.

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

from stocksync.domain.model import ChannelPolicy

__all__ = ["Claim", "bundle_pool", "pool", "sellable_quantities", "shape"]


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
    """Apply one channel's policy to its pool, before the last-units guard."""
    if pool_qty <= policy.zero_below:
        return 0
    qty = max(0, pool_qty - policy.buffer)
    qty = qty * policy.share_pct // 100
    if policy.max_listed is not None:
        qty = min(qty, policy.max_listed)
    return qty


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
    """Units of the pool sold per second lately (for the policy's ``last_seconds``)."""

    @property
    def rank(self) -> tuple[int, str]:
        return (-self.priority, self.channel)

    @property
    def last_units(self) -> int:
        """The guard's threshold: the policy's last units, or what sells in its last seconds."""
        by_rate = math.ceil(self.rate * self.policy.last_seconds - 1e-9)
        return max(self.policy.last_units, by_rate)


def sellable_quantities(claims: Sequence[Claim]) -> dict[str, int]:
    """The quantity each channel should list for one SKU, the last-units guard applied.

    Channels are taken in rank order. A channel whose pool is at or below its ``last_units``
    (grown to its sales rate × ``last_seconds``, :attr:`Claim.last_units`) lists 0 if a
    higher-ranked channel that shares a location with it is itself still listing stock; a
    channel the guard hides does not hide others, so no location's last units end up listed
    nowhere.
    """
    result = {c.channel: shape(c.pool, c.policy) for c in claims}
    listing: list[Claim] = []
    for claim in sorted(claims, key=lambda c: c.rank):
        if result[claim.channel] <= 0:
            continue
        guarded = claim.pool <= claim.last_units
        if guarded and any(other.locations & claim.locations for other in listing):
            result[claim.channel] = 0
        else:
            listing.append(claim)
    return result
