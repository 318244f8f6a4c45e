"""What a flash sale over the emulators measured: the sync gap, oversells, calls and 429s.

**Sync gap of an order** (accepted by channel A for SKU s): from the moment A answered the
shopper until every other channel C shows no more of s than the ledger wanted C to show once the
order was in the ledger. A sampler thread reads, every ``interval_s``, the orders the ledger has
recorded since its last look, the desired quantity of every (channel, SKU), and what each
emulator shows shoppers. The first sample that sees an order fixes its targets (the desired
quantities in that sample, which include the order and maybe later ones); the order is synced at
the first sample where each other channel shows at most its target. During a sale without
restocks desired quantities only fall, so this never reports an order synced before its own
effect reached the channels; it may add up to one sample interval and the effect of orders that
followed it within that interval. The gap includes webhook delivery, the ledger write, the
worker's wake-up, the Prefect run and the channel API calls (and Amazon's apply delay).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlmodel import Session

from stocksync.bench.fleet import Fleet
from stocksync.bench.shoppers import Placed
from stocksync.ledger.sale_figures import (
    Quantities,
    desired_by_channel,
    last_order_id,
    orders_after,
    short_lines,
    throttled_listings,
)

__all__ = [
    "GapSampler",
    "Oversold",
    "convergence_mismatches",
    "oversold",
    "percentile",
    "stats",
    "throttle_errors_left",
    "throttled_calls",
]

REREAD_IDS = 500
"""Order ids below the highest seen that the sampler reads again (commits land out of id order)."""


def percentile(values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def stats(values: Sequence[float]) -> dict[str, float | int | None]:
    """count, p50, p99 and max of ``values`` (seconds), rounded to milliseconds."""

    def ms(v: float | None) -> float | None:
        return None if v is None else round(v, 3)

    return {
        "count": len(values),
        "p50_s": ms(percentile(values, 50)),
        "p99_s": ms(percentile(values, 99)),
        "max_s": ms(max(values) if values else None),
    }


@dataclass
class _Pending:
    channel: str
    targets: Quantities


@dataclass
class GapSampler:
    """Samples the ledger and the emulators until stopped; ``gaps()`` once the orders synced."""

    fleet: Fleet
    skus: Sequence[str]
    interval_s: float = 0.05
    placed: dict[tuple[str, str], Placed] = field(default_factory=dict)
    synced_at: dict[tuple[str, str], float] = field(default_factory=dict)
    in_ledger_at: dict[tuple[str, str], float] = field(default_factory=dict)
    """When a sample first saw the order in the ledger (webhook, receiver and ledger write)."""
    reached_at: dict[tuple[str, str], dict[str, float]] = field(default_factory=dict)
    """Order → other channel → when that channel first showed at most its target."""
    samples: int = 0
    shown_changes: list[tuple[float, str, str, int]] = field(default_factory=list)
    """(monotonic time, channel, SKU, quantity) whenever a sample saw a channel's count change."""
    _pending: dict[tuple[str, str], _Pending] = field(default_factory=dict)
    _last_shown: dict[tuple[str, str], int] = field(default_factory=dict)
    _last_order_id: int = 0
    _seen_ids: set[int] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def note(self, order: Placed) -> None:
        """A shopper's accepted checkout (called from the shopper threads)."""
        if order.accepted and order.order_id is not None:
            with self._lock:
                self.placed[(order.channel, order.order_id)] = order

    def start(self) -> None:
        self.mark_existing_seen()
        self._thread = threading.Thread(target=self._run, name="gap-sampler", daemon=True)
        self._thread.start()

    def mark_existing_seen(self) -> None:
        """Orders already in the ledger are not the sale's."""
        self._last_order_id = self.fleet.ledger.run(last_order_id)
        self.fleet.ledger.run(self._read_ledger)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def unsynced(self) -> int:
        """Accepted orders not yet seen synced."""
        with self._lock:
            return sum(1 for key in self.placed if key not in self.synced_at)

    def stages(self) -> dict[str, dict[str, float | int | None]]:
        """Where the gap goes: answered → in the ledger, and answered → each channel shows it."""
        with self._lock:
            ledger = [
                max(0.0, self.in_ledger_at[key] - order.answered_at)
                for key, order in self.placed.items()
                if key in self.in_ledger_at
            ]
            reach: dict[str, list[float]] = {}
            for key, order in self.placed.items():
                for channel, at in self.reached_at.get(key, {}).items():
                    reach.setdefault(channel, []).append(max(0.0, at - order.answered_at))
        return {"in_ledger": stats(ledger)} | {f"shown_on_{c}": stats(v) for c, v in reach.items()}

    def gaps(self) -> list[float]:
        with self._lock:
            return [
                max(0.0, self.synced_at[key] - order.answered_at)
                for key, order in self.placed.items()
                if key in self.synced_at
            ]

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample_once()

    def sample_once(self) -> None:
        new_orders, desired = self.fleet.ledger.run(self._read_ledger)
        now = time.monotonic()
        shown = {
            channel: {sku: self.fleet.shown(channel, sku) for sku in self.skus}
            for channel in self.fleet.emulators
        }
        with self._lock:
            self.samples += 1
            for channel, per_sku in shown.items():
                for sku, qty in per_sku.items():
                    if self._last_shown.get((channel, sku)) != qty:
                        self._last_shown[(channel, sku)] = qty
                        self.shown_changes.append((now, channel, sku, qty))
            for key in new_orders:
                self._pending[key] = _Pending(key[0], desired)
                self.in_ledger_at[key] = now
            for key, pending in list(self._pending.items()):
                order = self.placed.get(key)
                if order is None:
                    continue  # the shopper thread has not noted it yet
                reached = self.reached_at.setdefault(key, {})
                for c in shown:
                    if c != pending.channel and c not in reached:
                        if shown[c][order.sku] <= pending.targets[c].get(order.sku, 0):
                            reached[c] = now
                if len(reached) == len(shown) - 1:
                    self.synced_at[key] = now
                    del self._pending[key]

    def _read_ledger(self, session: Session) -> tuple[list[tuple[str, str]], Quantities]:
        # Order ids come from a sequence when the insert runs, so concurrent receivers commit
        # them out of order: an order can become visible after a higher id was read. Re-read a
        # trailing window of ids and skip those already seen.
        rows = orders_after(session, self._last_order_id - REREAD_IDS)
        new = [r for r in rows if r[0] not in self._seen_ids]
        self._seen_ids.update(r[0] for r in new)
        if rows:
            self._last_order_id = max(self._last_order_id, max(r[0] for r in rows))
        return [(r[1], r[2]) for r in new], desired_by_channel(session, self.skus)


def convergence_mismatches(fleet: Fleet) -> dict[str, dict[str, tuple[int, int]]]:
    """Channel → SKU → (shown, desired) wherever an emulator shows other than the ledger wants."""
    desired = fleet.ledger.run(desired_by_channel)
    out: dict[str, dict[str, tuple[int, int]]] = {}
    for channel, per_sku in desired.items():
        for sku, want in per_sku.items():
            shown = fleet.shown(channel, sku)
            if shown != want:
                out.setdefault(channel, {})[sku] = (shown, want)
    return out


@dataclass(frozen=True)
class Oversold:
    """Order lines the ledger recorded short, per channel (lines and units)."""

    lines: dict[str, int]
    units: dict[str, int]

    @property
    def total_lines(self) -> int:
        return sum(self.lines.values())


def oversold(fleet: Fleet) -> Oversold:
    short = fleet.ledger.run(short_lines)
    return Oversold({c: n[0] for c, n in short.items()}, {c: n[1] for c, n in short.items()})


def throttled_calls(fleet: Fleet) -> dict[str, int]:
    """429s each emulator answered (Shopify's cost bucket, Amazon's token buckets, Woo's faults)."""
    out: dict[str, int] = {}
    for name, emulator in fleet.emulators.items():
        state = emulator.state
        with state.lock:
            if emulator.kind == "shopify":
                out[name] = sum(1 for call in state.calls if call.throttled)
            elif emulator.kind == "amazon":
                out[name] = int(sum(state.throttled.values()))
            else:
                out[name] = 0  # WooCommerce answers 429 only when the fault is injected
    return out


def throttle_errors_left(fleet: Fleet) -> int:
    """Listings still dirty with a throttling error at the end: 429s the pipeline did not absorb.

    A 429 the connector waited out, or that backed a listing off until a later push landed,
    leaves nothing here; one that would lose a push leaves the listing dirty with its error.
    """
    return int(fleet.ledger.run(throttled_listings))
