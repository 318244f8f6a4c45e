"""The flash sale's shoppers: checkouts on the emulators at a paced rate, with a burst.

``run_shoppers`` places one-unit orders on the fleet's checkout endpoints
(``stocksync.bench.fleet``) from several threads sharing one schedule, the rate multiplied for a
while in the middle of the sale (``SaleShape``).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from stocksync.bench.fleet import Fleet

__all__ = ["Placed", "SaleShape", "run_shoppers"]


@dataclass(frozen=True)
class SaleShape:
    """How many orders per second, for how long, and a burst in the middle."""

    duration_s: float
    rate_per_s: float
    burst_factor: float = 1.0
    burst_s: float = 0.0
    """The burst lasts this long, centred in the sale; the rate is multiplied by burst_factor."""

    def rate_at(self, elapsed_s: float) -> float:
        middle = self.duration_s / 2
        in_burst = self.burst_s and abs(elapsed_s - middle) <= self.burst_s / 2
        return self.rate_per_s * (self.burst_factor if in_burst else 1.0)


@dataclass(frozen=True, slots=True)
class Placed:
    """One shopper checkout: where, what, when it was answered, and whether it was accepted."""

    channel: str
    sku: str
    accepted: bool
    order_id: str | None
    answered_at: float
    """``time.monotonic()`` when the channel answered."""


@dataclass
class _Schedule:
    """Order slots handed out to the shopper threads at the sale's paced rate."""

    shape: SaleShape
    started: float = field(default_factory=time.monotonic)
    next_at: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self) -> float | None:
        """The monotonic time of the next slot, or None once the sale is over."""
        with self.lock:
            if self.next_at >= self.shape.duration_s:
                return None
            slot = self.next_at
            self.next_at += 1.0 / self.shape.rate_at(slot)
            return self.started + slot


def run_shoppers(
    fleet: Fleet,
    skus: Sequence[str],
    shape: SaleShape,
    *,
    threads: int = 8,
    seed: int = 7,
    on_placed: Callable[[Placed], None] | None = None,
) -> list[Placed]:
    """Shoppers buying one unit of a random SKU on a random channel, at ``shape``'s rate.

    Several threads share one schedule, so a slow checkout delays only its own thread; a slot
    more than a second late is still placed (the rate is an offer, not a promise).
    """
    schedule = _Schedule(shape)
    placed: list[Placed] = []
    lock = threading.Lock()
    channels = sorted(fleet.emulators)

    def shop(n: int) -> None:
        rng = random.Random(seed * 1000 + n)
        while (slot := schedule.take()) is not None:
            delay = slot - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            channel, sku = rng.choice(channels), rng.choice(list(skus))
            answer = fleet.emulators[channel].shopper_order({sku: 1})
            done = Placed(channel, sku, answer.accepted, answer.order_id, time.monotonic())
            if on_placed is not None:
                on_placed(done)
            with lock:
                placed.append(done)

    workers = [
        threading.Thread(target=shop, args=(n,), name=f"shopper-{n}") for n in range(threads)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return placed
