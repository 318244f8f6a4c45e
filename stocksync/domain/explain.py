"""Why a listing shows what it shows: the allocation rules as a chain of steps, with their numbers.

:func:`explain_sku` walks the step functions :mod:`stocksync.domain.allocation` builds its rules
from (pool, bundle, zero-out, buffer, share, maximum, last-units guard) and records each one, so
the quantity it ends on is the quantity the rules give; ``tests/unit/test_explain.py`` checks that
against the ledger's own computation over random inputs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from stocksync.domain.allocation import (
    Claim,
    bundle_pool,
    capped,
    keepers,
    last_units_guard,
    less_buffer,
    pool,
    reserve,
    reserved_for,
    share_of,
    zeroed,
)
from stocksync.domain.model import ChannelPolicy

__all__ = [
    "Available",
    "Buffer",
    "Bundle",
    "BundlePart",
    "Explanation",
    "Guard",
    "Listed",
    "MaxListed",
    "Pool",
    "Reserve",
    "Share",
    "Step",
    "StockAt",
    "Unheard",
    "ZeroOut",
    "explain_sku",
]


@dataclass(frozen=True, slots=True)
class StockAt:
    """One stock row of a stocked SKU (the listed SKU, or a component of a bundle)."""

    sku: str
    location_id: int
    location: str
    on_hand: int
    committed: int


@dataclass(frozen=True, slots=True)
class Listed:
    """One channel listing the SKU, with what the rules need of it."""

    channel: str
    priority: int
    policy: ChannelPolicy
    feeds: frozenset[int] = frozenset()
    """Location ids that feed the channel; empty: every location holding the stocked SKU."""
    gap_s: float = 0.0
    """The channel's measured sync gap (``stocksync.domain.sync_lag.gap_seconds``)."""
    late_s: float = 0.0
    """How late the channel's own orders arrive (``stocksync.domain.sync_lag.SyncLag.order_s``)."""
    settled: bool = False
    """The channel has shown 0 longer than its orders take to arrive
    (``stocksync.domain.listing_state.settled_at_zero``)."""


@dataclass(frozen=True, slots=True)
class Available:
    rule: ClassVar[str] = "available"
    sku: str
    location: str
    on_hand: int
    committed: int
    qty: int

    def describe(self) -> str:
        return f"{self.sku} at {self.location}: {self.on_hand} on hand − {self.committed} committed"


@dataclass(frozen=True, slots=True)
class Pool:
    rule: ClassVar[str] = "pool"
    sku: str
    locations: tuple[str, ...]
    qty: int

    def describe(self) -> str:
        where = " + ".join(self.locations) or "no stock"
        return f"{self.sku} at the channel's locations: {where} (never below 0)"


@dataclass(frozen=True, slots=True)
class BundlePart:
    sku: str
    per_bundle: int
    pool: int

    @property
    def sets(self) -> int:
        return max(0, self.pool) // self.per_bundle


@dataclass(frozen=True, slots=True)
class Bundle:
    rule: ClassVar[str] = "bundle"
    parts: tuple[BundlePart, ...]
    qty: int

    def describe(self) -> str:
        each = ", ".join(f"{p.sku} {p.pool} ÷ {p.per_bundle} = {p.sets}" for p in self.parts)
        return f"whole sets the scarcest component allows: {each}"


@dataclass(frozen=True, slots=True)
class ZeroOut:
    rule: ClassVar[str] = "zero-out"
    threshold: int
    pool: int
    applied: bool
    qty: int

    def describe(self) -> str:
        if self.applied:
            return f"pool {self.pool} is at or below {self.threshold}: list 0"
        return f"pool {self.pool} is above {self.threshold}: not applied"


@dataclass(frozen=True, slots=True)
class Buffer:
    rule: ClassVar[str] = "buffer"
    units: int
    qty: int

    def describe(self) -> str:
        return f"−{self.units} held back (never below 0)"


@dataclass(frozen=True, slots=True)
class Share:
    rule: ClassVar[str] = "share"
    pct: int
    of: int
    qty: int

    def describe(self) -> str:
        return f"{self.pct}% of {self.of}, rounded down"


@dataclass(frozen=True, slots=True)
class MaxListed:
    rule: ClassVar[str] = "max listed"
    limit: int
    qty: int

    def describe(self) -> str:
        return f"at most {self.limit}"


@dataclass(frozen=True, slots=True)
class Guard:
    rule: ClassVar[str] = "last-units guard"
    last_units: int
    rate: float
    """Units of the pool sold per second lately."""
    last_seconds: float
    threshold: int
    """The policy's last units, or what sells in the guard's seconds at the rate if that is more."""
    pool: int
    shaped: int
    """What the channel would list without the guard."""
    ahead: str | None
    """The top-ranked channel ahead of this one sharing its stock and listing it (None: none)."""
    hidden: bool
    qty: int
    gap_s: float = 0.0
    """The measured sync gap, counted when the policy follows it (``measured``)."""
    measured: bool = False
    guard_max: int | None = None

    @property
    def seconds(self) -> float:
        """The seconds of sales the guard covers."""
        return max(self.last_seconds, self.gap_s if self.measured else 0.0)

    def describe(self) -> str:
        size = f"last {self.threshold} units"
        if self.seconds > 0:
            rate = f"{self.rate:.2f}/s × {self.seconds:.3g} s{self._source()}"
            grown = self.threshold > self.last_units
            size += f" ({self.last_units} grown by {rate})" if grown else f" ({rate} adds none)"
        if self.shaped <= 0:
            return f"{size}: nothing listed to guard"
        keeper = (
            f"only {self.ahead}, ranked higher on this stock, lists them"
            if self.ahead
            else "this channel ranks first on this stock and keeps them"
        )
        if self.pool <= self.threshold:
            return f"{size}: pool {self.pool} is down to them; {keeper}"
        return f"{size}: pool {self.pool} is above them, not applied (at or below: {keeper})"

    def _source(self) -> str:
        """Where the guard's seconds come from and its cap, where there is more than the policy's
        ``last_seconds`` to say ('' otherwise)."""
        notes = []
        if self.measured and self.gap_s > self.last_seconds:
            notes.append(f"the measured sync gap, {self.last_seconds:g} s at least")
        elif self.measured and self.gap_s > 0:
            notes.append(f"last_seconds; measured sync gap {self.gap_s:.3g} s")
        if self.guard_max is not None:
            notes.append(f"at most {self.guard_max} units")
        return f" [{'; '.join(notes)}]" if notes else ""


@dataclass(frozen=True, slots=True)
class Unheard:
    """One other channel's part of a keeper's reserve."""

    channel: str
    rate: float
    """Units it sold per second lately."""
    late_s: float
    """How late its orders reach the ledger."""
    settled: bool
    """It has shown 0 longer than its orders take to arrive: it adds nothing."""

    def describe(self) -> str:
        if self.settled:
            return f"{self.channel} settled at 0"
        return f"{self.channel} {self.rate:.2f}/s × {self.late_s:.3g} s"


@dataclass(frozen=True, slots=True)
class Reserve:
    rule: ClassVar[str] = "keeper's reserve"
    units: int
    qty: int
    parts: tuple[Unheard, ...] = ()
    """The other channels it covers, each with its rate and lateness."""
    guard_max: int | None = None

    def describe(self) -> str:
        cap = f", at most {self.guard_max}" if self.guard_max is not None else ""
        parts = "; ".join(p.describe() for p in self.parts)
        if self.units == 0:
            return f"nothing held back: the other channels' unheard sales round to 0 ({parts})"
        return (
            f"−{self.units} held back while this channel keeps the last units, what the other "
            f"channels may have sold that the ledger has not heard of yet ({parts}{cap}; "
            "never below 0)"
        )


Step = Available | Pool | Bundle | ZeroOut | Buffer | Share | MaxListed | Guard | Reserve


@dataclass(frozen=True, slots=True)
class Explanation:
    """One channel's listing of a SKU: the steps of the rules, and the quantity they end on."""

    sku: str
    channel: str
    steps: tuple[Step, ...]
    qty: int


def explain_sku(
    sku: str,
    listed: Sequence[Listed],
    stock: Sequence[StockAt],
    components: Mapping[str, int] | None = None,
    rates: Mapping[str, float] | None = None,
    channel_rates: Mapping[tuple[str, str], float] | None = None,
) -> dict[str, Explanation]:
    """Channel → why it lists what it lists of ``sku``, for every channel listing it.

    ``stock`` holds the rows of the stocked SKUs: ``sku`` itself, or the ``components`` of a
    bundle (component → units per bundle); ``rates``: stocked SKU → units sold per second lately,
    ``channel_rates`` the same per (stocked SKU, selling channel). Every channel listing the SKU
    must be in ``listed``: the last-units guard looks across them.
    """
    rates, channel_rates = rates or {}, channel_rates or {}
    parts = dict(components) if components else {sku: 1}
    rows: dict[str, list[StockAt]] = {c: [] for c in parts}
    for row in stock:
        if row.sku in rows:
            rows[row.sku].append(row)
    pooled = [
        _pool_steps(sku, ch, parts, rows, rates, channel_rates, bundle=bool(components))
        for ch in listed
    ]
    claims = [claim for claim, _ in pooled]
    shaped = {}
    steps: dict[str, list[Step]] = {}
    for claim, before in pooled:
        shaped[claim.channel], steps[claim.channel] = _shape_steps(claim)
        steps[claim.channel][:0] = before
    ahead = last_units_guard(claims, shaped)
    kept = keepers(claims, ahead)
    result = {}
    for claim in claims:
        hidden = claim.guarded and ahead.get(claim.channel) is not None
        qty = 0 if hidden else shaped[claim.channel]
        policy = claim.policy
        if policy.guarded:
            steps[claim.channel].append(
                Guard(policy.last_units, claim.rate, policy.last_seconds, claim.last_units,
                      claim.pool, shaped[claim.channel], ahead.get(claim.channel), hidden, qty,
                      claim.gap_s, policy.measured_guard, policy.guard_max)
            )  # fmt: skip
        if claim.channel in kept and qty > 0:
            held = reserve(claims, claim)
            others = reserved_for(claims, claim)
            released = any(c.settled and c.own_rate > 0 for c in others)
            if held > 0 or (released and policy.guarded and policy.measured_guard):
                qty = max(0, qty - held)
                parts = tuple(
                    Unheard(c.channel, c.own_rate, c.own_late_s, c.settled) for c in others
                )
                steps[claim.channel].append(Reserve(held, qty, parts, policy.guard_max))
        result[claim.channel] = Explanation(sku, claim.channel, tuple(steps[claim.channel]), qty)
    return result


def _pool_steps(
    sku: str,
    ch: Listed,
    parts: Mapping[str, int],
    rows: Mapping[str, Sequence[StockAt]],
    rates: Mapping[str, float],
    channel_rates: Mapping[tuple[str, str], float],
    *,
    bundle: bool,
) -> tuple[Claim, list[Step]]:
    """The channel's claim on the stock, and the steps that make its pool."""
    steps: list[Step] = []
    pools: dict[str, int] = {}
    locations: set[int] = set()
    for component in parts:
        locs = ch.feeds or frozenset(r.location_id for r in rows[component])
        counted = [r for r in rows[component] if r.location_id in locs]
        steps += [
            Available(r.sku, r.location, r.on_hand, r.committed, r.on_hand - r.committed)
            for r in counted
        ]
        available = {r.location_id: r.on_hand - r.committed for r in counted}
        pools[component] = pool(available, locs)
        steps.append(Pool(component, tuple(r.location for r in counted), pools[component]))
        locations |= locs
    qty = pools[sku] if not bundle else bundle_pool(pools, parts)
    if bundle:
        steps.append(Bundle(tuple(BundlePart(c, n, pools[c]) for c, n in parts.items()), qty))
    rate = max(rates.get(c, 0.0) / n for c, n in parts.items())
    own = max(channel_rates.get((c, ch.channel), 0.0) / n for c, n in parts.items())
    claim = Claim(
        ch.channel, ch.priority, qty, ch.policy, frozenset(locations), rate, ch.gap_s, own,
        ch.late_s, ch.settled,
    )  # fmt: skip
    return claim, steps


def _shape_steps(claim: Claim) -> tuple[int, list[Step]]:
    """What the channel's policy makes of its pool before the guard, step by step (the steps of
    :func:`stocksync.domain.allocation.shape`; rules the policy leaves unset are not shown)."""
    policy, qty = claim.policy, claim.pool
    applied = zeroed(qty, policy)
    steps: list[Step] = []
    if policy.zero_below > 0 or applied:
        steps.append(ZeroOut(policy.zero_below, qty, applied, 0 if applied else qty))
    if applied:
        return 0, steps
    qty = less_buffer(qty, policy)
    if policy.buffer:
        steps.append(Buffer(policy.buffer, qty))
    before, qty = qty, share_of(qty, policy)
    if policy.share_pct != 100:
        steps.append(Share(policy.share_pct, before, qty))
    qty = capped(qty, policy)
    if policy.max_listed is not None:
        steps.append(MaxListed(policy.max_listed, qty))
    return qty, steps
