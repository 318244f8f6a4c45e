"""Pacing the Shopify connector to the cost bucket the last response described.

Shopify's bucket refills at a known rate, so the connector waits until a call fits instead of
being THROTTLED.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["CostPacer"]


class CostPacer:
    """Tracks the cost bucket as the last response reported it, refilling at its restore rate."""

    def __init__(self, clock: Callable[[], float], sleep: Callable[[float], None]) -> None:
        self._clock, self._sleep = clock, sleep
        self._status: dict[str, Any] | None = None
        self._seen_at = 0.0

    def observe(self, cost: dict[str, Any] | None) -> None:
        """Remember ``extensions.cost.throttleStatus`` from a response."""
        status = (cost or {}).get("throttleStatus")
        if status:
            self._status, self._seen_at = status, self._clock()

    def delay_for(self, points: int) -> float:
        """Seconds until the bucket holds ``points`` (0 when nothing is known yet)."""
        if self._status is None or not self._status.get("restoreRate"):
            return 0.0
        rate = float(self._status["restoreRate"])
        maximum = float(self._status.get("maximumAvailable") or points)
        now = float(self._status["currentlyAvailable"]) + (self._clock() - self._seen_at) * rate
        return max(0.0, (min(points, maximum) - min(now, maximum)) / rate)

    def wait_for(self, points: int) -> None:
        delay = self.delay_for(points)
        if delay > 0:
            self._sleep(delay)
