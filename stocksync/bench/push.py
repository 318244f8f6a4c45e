"""Push throughput: N quantity changes through each channel's connector into its emulator.

Each kind gets a fresh emulator at its default limits, stocked with N listings and answering
every API call after the emulated latency. The N changes (every quantity moves; ``expected`` is
the current count where the connector compares-and-sets) go to ``push_quantities`` in one call,
which batches and paces as the connector does for the sync pipeline. The clock stops when the
emulator shows every new quantity (Amazon applies patches and feeds later, so that wait counts).

Each time is set against a floor worked out from the same limit values the emulator enforces:
batch caps, the Shopify cost bucket, Amazon's token buckets and feed processing, and the latency
every call pays. ``floors`` holds the arithmetic; nothing here prints.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from stocksync.bench.push_floors import Floor, floor_for
from stocksync.channels.base import PushStatus, QuantityPush
from stocksync.domain.errors import StockSyncError
from stocksync.sandbox.harness import KINDS, RunningEmulator, start_emulator

__all__ = [
    "TARGET_RATIO",
    "Floor",
    "KindResult",
    "PushBenchError",
    "PushOptions",
    "PushReport",
    "describe",
    "run_kind",
    "run_push_bench",
    "shown_all",
]

TARGET_RATIO = 1.25
ARRIVAL_TIMEOUT_S = 60.0
"""How long to wait, after ``push_quantities`` returned, for the emulator to show everything."""

Progress = Callable[[str], None]


class PushBenchError(StockSyncError):
    """The benchmark could not run (an unknown kind, an emulator that would not start)."""


@dataclass(frozen=True, slots=True)
class PushOptions:
    changes: int = 10_000
    latency_ms: int = 50
    kinds: tuple[str, ...] = KINDS
    baseline: bool = True
    """Also run every kind with no latency, in the same process, as the yardstick."""
    limits: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Kind → emulator limits that replace the defaults (tests use faster Amazon plans)."""
    connector: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Kind → connector config fields that replace the ones the harness gives."""


@dataclass(frozen=True, slots=True)
class KindResult:
    kind: str
    changes: int
    latency_ms: int
    calls: int
    """Quantity-setting calls the emulator received (batches, mutations, patches, feeds)."""
    seconds: float
    floor_s: float
    floor_how: str
    throttled: int | None
    """Throttled answers the emulator gave (None: this emulator has no rate limit to hit)."""
    statuses: dict[str, int]
    """Push results by status."""
    arrived: int
    """Listings showing their new quantity when the clock stopped."""

    @property
    def ratio(self) -> float | None:
        """Seconds over the floor; None when the floor is 0 (no latency and no rate limit)."""
        return round(self.seconds / self.floor_s, 3) if self.floor_s > 0 else None

    @property
    def met_target(self) -> bool | None:
        return None if self.ratio is None else self.ratio <= TARGET_RATIO

    @property
    def ok(self) -> bool:
        """Every change was applied and the emulator shows every new quantity."""
        applied = self.statuses.get(PushStatus.APPLIED.value, 0)
        return self.arrived == self.changes and applied == self.changes

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio, "met_target": self.met_target, "ok": self.ok}


@dataclass(frozen=True, slots=True)
class PushReport:
    changes: int
    latency_ms: int
    results: list[KindResult]
    baseline: list[KindResult]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in [*self.results, *self.baseline])

    def to_dict(self) -> dict[str, Any]:
        return {
            "changes": self.changes,
            "latency_ms": self.latency_ms,
            "target_ratio": TARGET_RATIO,
            "results": [r.to_dict() for r in self.results],
            "baseline": [r.to_dict() for r in self.baseline],
        }


def run_push_bench(options: PushOptions, progress: Progress | None = None) -> PushReport:
    """Every kind with the latency, then (when asked) every kind again without it."""
    say = progress or (lambda _message: None)
    unknown = set(options.kinds) - set(KINDS)
    if unknown:
        raise PushBenchError(f"unknown kinds {sorted(unknown)}; known: {', '.join(KINDS)}")

    def every_kind(latency_ms: int) -> list[KindResult]:
        results = []
        for kind in options.kinds:
            say(f"{kind}: {options.changes} changes, {latency_ms} ms latency")
            results.append(run_kind(kind, options.changes, latency_ms, options))
        return results

    results = every_kind(options.latency_ms)
    baseline = every_kind(0) if options.baseline else []
    return PushReport(options.changes, options.latency_ms, results, baseline)


def run_kind(kind: str, changes: int, latency_ms: int, options: PushOptions) -> KindResult:
    """One kind: stock, push every change in one call, wait until the emulator shows them all."""
    stock = {f"PUSH-{n:06d}": 10 + n % 50 for n in range(changes)}
    limits = dict(options.limits.get(kind, {}))
    running = start_emulator(kind, f"bench-{kind}", stock, latency_ms=latency_ms, **limits)
    try:
        connector = running.connector(**dict(options.connector.get(kind, {})))
        pushes = _changes(running, stock, cas=connector.compare_and_set)
        wanted = {p.sku or p.listing_id: p.quantity for p in pushes}
        floor = floor_for(running, len(pushes), latency_ms)
        started = time.perf_counter()
        results = connector.push_quantities(pushes)
        seconds, arrived = _until_shown(running, wanted, started)
        return KindResult(
            kind=kind,
            changes=len(pushes),
            latency_ms=latency_ms,
            calls=running.push_calls(),
            seconds=round(seconds, 3),
            floor_s=round(floor.seconds, 3),
            floor_how=floor.how,
            throttled=_throttled(running),
            statuses=dict(Counter(r.status.value for r in results)),
            arrived=arrived,
        )
    finally:
        running.stop()


def _changes(
    running: RunningEmulator, stock: Mapping[str, int], *, cas: bool
) -> list[QuantityPush]:
    """One push per listing to a quantity it does not show now (1 to 7 more)."""
    listings = running.listings()
    return [
        QuantityPush(listing_id, now + 1 + n % 7, now if cas else None, refs, sku)
        for n, (sku, now) in enumerate(stock.items())
        for listing_id, refs in [listings[sku]]
    ]


def _until_shown(
    running: RunningEmulator, wanted: Mapping[str, int], started: float
) -> tuple[float, int]:
    """Seconds from ``started`` until the emulator shows every wanted quantity, and how many it
    showed then (fewer only when ``ARRIVAL_TIMEOUT_S`` ran out)."""
    checked_at = time.perf_counter()
    deadline = checked_at + ARRIVAL_TIMEOUT_S
    while True:
        shown = shown_all(running)
        arrived = sum(1 for sku, quantity in wanted.items() if shown.get(sku) == quantity)
        if arrived == len(wanted) or time.perf_counter() > deadline:
            return checked_at - started, arrived
        time.sleep(0.01)
        checked_at = time.perf_counter()


def shown_all(running: RunningEmulator) -> dict[str, int]:
    """SKU → what the emulator shows shoppers, read from its state in one pass.

    ``RunningEmulator.shown(sku)`` rebuilds every listing on each call, which is quadratic over
    10,000 SKUs; this reads the same values the emulators' ``shown`` reads.
    """
    listings, state = running.listings(), running.state
    with state.lock:
        if running.kind == "amazon":
            state.settle()
            return {sku: state.listings[lid].quantity for sku, (lid, _) in listings.items()}
        if running.kind == "shopify":
            return {sku: int(state.available(lid) or 0) for sku, (lid, _) in listings.items()}
        if running.kind == "custom":
            return {sku: state.listings[lid].quantity for sku, (lid, _) in listings.items()}
    return {sku: _woo_stock(state, lid) for sku, (lid, _) in listings.items()}


def _woo_stock(state: Any, listing_id: str) -> int:
    product, _, variation = listing_id.partition("/")
    return int(state.stock_of(int(product), int(variation or 0)) or 0)


def _throttled(running: RunningEmulator) -> int | None:
    """Throttled answers: Shopify's THROTTLED calls, Amazon's 429s; None where there is no limit."""
    state = running.state
    with state.lock:
        if running.kind == "shopify":
            return sum(1 for call in state.calls if call.throttled)
        if running.kind == "amazon":
            return int(sum(state.throttled.values()))
    return None


def describe(results: Sequence[KindResult]) -> list[str]:
    """One line per kind saying whether it met the target, for logs and the docs."""
    lines = []
    for r in results:
        verdict = "no floor" if r.ratio is None else f"{r.ratio:.2f}x"
        if r.met_target is not None:
            verdict += f", {'met' if r.met_target else 'missed'} {TARGET_RATIO}x"
        lines.append(f"{r.kind}: {r.seconds:.2f}s vs floor {r.floor_s:.2f}s ({verdict})")
    return lines
