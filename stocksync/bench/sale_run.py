"""One measured flash sale over a running fleet, for ``stocksync demo`` and ``bench sync``.

The caller starts the fleet and a sync worker; this module waits for the initial push, runs the
shoppers with the gap sampler, waits for every channel to converge and reports per channel.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from stocksync.bench.fleet import Fleet
from stocksync.bench.shoppers import Placed, SaleShape, run_shoppers
from stocksync.bench.sync_metrics import (
    GapSampler,
    convergence_mismatches,
    oversold,
    stats,
    throttled_calls,
)

__all__ = ["SaleReport", "run_sale", "wait_converged"]


def wait_converged(
    fleet: Fleet, timeout_s: float, also: Callable[[], bool] = lambda: True
) -> dict[str, dict[str, tuple[int, int]]]:
    """Wait until every emulator shows what the ledger wants (and ``also()``); what still differs."""
    deadline = time.monotonic() + timeout_s
    while True:
        mismatches = convergence_mismatches(fleet)
        if (not mismatches and also()) or time.monotonic() > deadline:
            return mismatches
        time.sleep(0.1)


@dataclass
class SaleReport:
    shape: SaleShape
    skus: list[str]
    placed: list[Placed]
    gaps: list[float]
    gaps_by_channel: dict[str, list[float]]
    unsynced_orders: int
    oversold_lines: dict[str, int]
    oversold_units: dict[str, int]
    push_calls: dict[str, int]
    throttled: dict[str, int]
    mismatches: dict[str, dict[str, tuple[int, int]]]
    initial_push_s: float
    converge_s: float
    samples: int
    sale_started: float = 0.0
    """``time.monotonic()`` when the first shopper could check out."""
    shown: list[tuple[float, str, str, int]] = field(default_factory=list)
    """(monotonic time, channel, SKU, quantity) at every change the gap sampler saw."""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def accepted(self) -> int:
        return sum(1 for p in self.placed if p.accepted)

    @property
    def converged(self) -> bool:
        return not self.mismatches and self.unsynced_orders == 0

    def per_channel(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for channel in sorted(self.push_calls):
            mine = [p for p in self.placed if p.channel == channel]
            accepted = sum(1 for p in mine if p.accepted)
            out[channel] = {
                "orders_accepted": accepted,
                "orders_refused": len(mine) - accepted,
                "oversold_lines": self.oversold_lines.get(channel, 0),
                "oversold_units": self.oversold_units.get(channel, 0),
                "sync_gap": stats(self.gaps_by_channel.get(channel, [])),
                "push_calls": self.push_calls[channel],
                "http_429": self.throttled[channel],
                "converged": channel not in self.mismatches,
            }
        return out

    def to_dict(self) -> dict[str, Any]:
        accepted = self.accepted
        calls = sum(self.push_calls.values())
        return {
            "duration_s": self.shape.duration_s,
            "rate_per_s": self.shape.rate_per_s,
            "burst": {"factor": self.shape.burst_factor, "seconds": self.shape.burst_s},
            "skus": self.skus,
            "orders_placed": len(self.placed),
            "orders_accepted": accepted,
            "orders_refused": len(self.placed) - accepted,
            "oversold_lines": sum(self.oversold_lines.values()),
            "sync_gap": stats(self.gaps),
            "unsynced_orders": self.unsynced_orders,
            "push_calls": calls,
            "push_calls_per_order": round(calls / accepted, 2) if accepted else None,
            "http_429_received": sum(self.throttled.values()),
            "converged": self.converged,
            "mismatches": {
                ch: {sku: {"shown": s, "desired": d} for sku, (s, d) in per.items()}
                for ch, per in self.mismatches.items()
            },
            "initial_push_s": round(self.initial_push_s, 2),
            "converge_after_sale_s": round(self.converge_s, 2),
            "gap_samples": self.samples,
            "channels": self.per_channel(),
            **self.extra,
        }


def run_sale(
    fleet: Fleet,
    shape: SaleShape,
    skus: Sequence[str],
    *,
    threads: int = 8,
    initial_timeout_s: float = 60.0,
    settle_timeout_s: float = 30.0,
    progress: Callable[[str], None] = lambda _: None,
) -> SaleReport:
    """Initial push, the sale, convergence; the worker must already be running."""
    started = time.monotonic()
    left = wait_converged(fleet, initial_timeout_s)
    if left:
        raise RuntimeError(
            f"the initial push did not converge in {initial_timeout_s:.0f} s: {left}"
        )
    initial_s = time.monotonic() - started
    progress(f"initial quantities pushed in {initial_s:.1f} s; the sale starts")
    calls_before = {n: e.push_calls() for n, e in fleet.emulators.items()}
    throttled_before = throttled_calls(fleet)
    sampler = GapSampler(fleet, list(skus))
    sampler.start()
    sale_started = time.monotonic()
    try:
        placed = run_shoppers(fleet, skus, shape, threads=threads, on_placed=sampler.note)
        progress(f"{len(placed)} checkouts placed; waiting for every channel to converge")
        ended = time.monotonic()
        mismatches = wait_converged(fleet, settle_timeout_s, lambda: sampler.unsynced() == 0)
        converge_s = time.monotonic() - ended
    finally:
        sampler.stop()
    sampler.sample_once()
    by_channel: dict[str, list[float]] = {}
    for key, order in sampler.placed.items():
        if key in sampler.synced_at:
            by_channel.setdefault(order.channel, []).append(
                max(0.0, sampler.synced_at[key] - order.answered_at)
            )
    stages = sampler.stages()
    over = oversold(fleet)
    throttled_after = throttled_calls(fleet)
    return SaleReport(
        shape=shape,
        skus=list(skus),
        placed=placed,
        gaps=sampler.gaps(),
        gaps_by_channel=by_channel,
        unsynced_orders=sampler.unsynced(),
        oversold_lines=over.lines,
        oversold_units=over.units,
        push_calls={n: e.push_calls() - calls_before[n] for n, e in fleet.emulators.items()},
        throttled={n: throttled_after[n] - throttled_before[n] for n in throttled_after},
        mismatches=mismatches,
        initial_push_s=initial_s,
        converge_s=converge_s,
        samples=sampler.samples,
        sale_started=sale_started,
        shown=list(sampler.shown_changes),
        extra={"gap_stages": stages},
    )
