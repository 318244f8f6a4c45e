"""Shopify's leaky cost bucket, which every GraphQL call of the emulator pays from.

What each operation costs is worked out beside its resolver (the rules are in ``shopify``).
"""

from __future__ import annotations

from collections.abc import Callable

from stocksync.sandbox.shopify_values import Json

__all__ = ["CostBucket"]


class CostBucket:
    """Shopify's leaky bucket: ``size`` points, refilled at ``restore_rate`` points a second."""

    def __init__(self, size: float, restore_rate: float, clock: Callable[[], float]) -> None:
        self.size = size
        self.restore_rate = restore_rate
        self.available = size
        self._clock = clock
        self._at = clock()

    def refill(self) -> None:
        now = self._clock()
        self.available = min(self.size, self.available + (now - self._at) * self.restore_rate)
        self._at = now

    def take(self, points: int) -> bool:
        """Reserve ``points`` if the bucket holds them."""
        self.refill()
        if points > self.available:
            return False
        self.available -= points
        return True

    def refund(self, points: int) -> None:
        self.available = min(self.size, self.available + points)

    def status(self) -> Json:
        return {
            "maximumAvailable": float(self.size),
            "currentlyAvailable": int(self.available),
            "restoreRate": float(self.restore_rate),
        }
