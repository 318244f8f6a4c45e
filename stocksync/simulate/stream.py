"""The shopper stream: checkouts, customer cancels and returns, drawn once from the scenario's seed.

Every mode replays the same list, so the modes differ only in how they keep the channels'
counts. Arrivals are a non-homogeneous Poisson process drawn by thinning: candidates arrive at
the highest rate the scenario ever reaches and each is kept with probability rate(t) / that peak,
where rate(t) = orders_per_day / 86400 × daily curve (mean 1) × the active bursts' factors.
The generator is the stream's own ``random.Random(seed)``: nothing else can shift its draws.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from collections.abc import Sequence

from stocksync.simulate.catalog import SimCatalog
from stocksync.simulate.records import Answered, Cancel, Checkout, Lines, Return, StreamEvent
from stocksync.simulate.scenario import Burst, Scenario
from stocksync.simulate.scenario_checks import top_n

__all__ = ["event_key", "draw_stream", "normalised_curve"]

_RANK = {Return: 0, Cancel: 1, Checkout: 2, Answered: 2}
_MIN_DELAY_S = 1e-3
"""A follow-up comes at least this long after its checkout, so it always sorts after it."""


def event_key(event: StreamEvent | Answered) -> tuple[float, int]:
    """Time order; at equal t returns first, then cancels, then checkouts (as the accounting)."""
    return (event.t, _RANK[type(event)])


def normalised_curve(curve: Sequence[float]) -> tuple[float, ...]:
    """The daily curve scaled to a mean of 1, so ``orders_per_day`` stays the day's mean."""
    mean = sum(curve) / len(curve)
    return tuple(w / mean for w in curve)


class _Weighted:
    """Draws one of ``items`` in proportion to ``weights`` (cumulative sums and bisection)."""

    def __init__(self, items: Sequence[str], weights: Sequence[float]) -> None:
        self.items = tuple(items)
        self.cumulative = list(itertools.accumulate(weights))

    def draw(self, rng: random.Random) -> str:
        x = rng.random() * self.cumulative[-1]
        return self.items[min(bisect.bisect_right(self.cumulative, x), len(self.items) - 1)]


class _Shopper:
    """What one checkout buys, and what follows it."""

    def __init__(self, scenario: Scenario, catalog: SimCatalog, rng: random.Random) -> None:
        self.s = scenario
        self.rng = rng
        self.plain = _Weighted(catalog.skus, [catalog.weights[sku] for sku in catalog.skus])
        bundles = scenario.catalog.bundles
        self.bundle_share = sum(b.share_of_orders for b in bundles)
        self.bundles = (
            _Weighted([b.sku for b in bundles], [b.share_of_orders for b in bundles])
            if self.bundle_share > 0
            else None
        )
        self.burst_skus = {id(b): _resolve(b, catalog) for b in scenario.bursts}

    def lines(self, bursts: Sequence[Burst]) -> Lines:
        top = self.s.catalog.units_per_line_max
        skus = [self._sku(bursts)]
        if self.rng.random() < self.s.catalog.two_lines_share:
            for _ in range(10):  # distinct SKUs; a burst on one SKU may leave no second one
                other = self._sku(bursts)
                if other != skus[0]:
                    skus.append(other)
                    break
        return tuple((sku, self.rng.randint(1, top)) for sku in skus)

    def _sku(self, bursts: Sequence[Burst]) -> str:
        for burst in bursts:
            if burst.skus and self.rng.random() < burst.sku_share:
                return self.rng.choice(self.burst_skus[id(burst)])
        if self.bundles is not None and self.rng.random() < self.bundle_share:
            return self.bundles.draw(self.rng)
        return self.plain.draw(self.rng)

    def follow_up(self, checkout: Checkout) -> Cancel | Return | None:
        u = self.rng.random()
        if u < self.s.cancel_rate:
            t = checkout.t + self._delay(self.s.cancel_after_min * 60.0)
            return Cancel(t=t, ref=checkout.ref)
        if u < self.s.cancel_rate + self.s.return_rate:
            t = checkout.t + self._delay(self.s.return_after_h * 3600.0)
            lines = checkout.lines
            if len(lines) > 1 and self.rng.random() < 0.5:
                lines = (self.rng.choice(lines),)
            back = tuple((sku, self.rng.randint(1, units)) for sku, units in lines)
            return Return(t=t, ref=checkout.ref, lines=back)
        return None

    def _delay(self, mean_s: float) -> float:
        return max(_MIN_DELAY_S, self.rng.expovariate(1.0 / mean_s))


def _resolve(burst: Burst, catalog: SimCatalog) -> tuple[str, ...]:
    """A burst's SKUs with ``top:N`` spelled out, each once, in the order named."""
    names: list[str] = []
    for name in burst.skus:
        n = top_n(name)
        for sku in catalog.skus[:n] if n is not None else (name,):
            if sku not in names:
                names.append(sku)
    return tuple(names)


def draw_stream(scenario: Scenario, catalog: SimCatalog) -> list[StreamEvent]:
    """The scenario's checkouts and follow-ups, sorted by :func:`event_key`; same seed, same list."""
    rng = random.Random(scenario.seed)
    shopper = _Shopper(scenario, catalog, rng)
    channels = _Weighted(
        [c.name for c in scenario.channels], [c.share_of_orders for c in scenario.channels]
    )
    base = scenario.orders_per_day / 86400.0
    curve = normalised_curve(scenario.daily_curve)
    peak = base * max(curve) * math.prod(max(1.0, b.factor) for b in scenario.bursts)
    end = scenario.end_t
    events: list[StreamEvent] = []
    t, n = 0.0, 0
    while peak > 0:
        t += rng.expovariate(peak)
        if t >= end:
            break
        hour = int(scenario.start_hour + t / 3600.0) % 24
        bursts = [b for b in scenario.bursts if b.active(t)]
        rate = base * curve[hour] * math.prod(b.factor for b in bursts)
        if rng.random() * peak >= rate:
            continue
        n += 1
        channel = channels.draw(rng)
        checkout = Checkout(t=t, ref=f"o{n:06d}", channel=channel, lines=shopper.lines(bursts))
        events.append(checkout)
        follow = shopper.follow_up(checkout)
        if follow is not None and follow.t <= end:
            events.append(follow)
    events.sort(key=event_key)
    return events
