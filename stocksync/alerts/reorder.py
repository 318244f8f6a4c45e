"""Reorder arithmetic: sales velocity, days of cover and a suggested order quantity.

Pure functions of counts and days, so the rules can be read and tested without a database.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["ReorderAdvice", "advise"]

REVIEW_DAYS = 14
"""How long a reorder should last beyond the supplier's lead time (the next review)."""
SAFETY_DAYS = 7
"""Cover kept for demand above the recent average while the order is on its way."""


@dataclass(frozen=True, slots=True)
class ReorderAdvice:
    daily_velocity: float
    """Units demanded per day over the window (sold plus what could not be filled)."""
    days_of_cover: float | None
    """Days the available units last at that velocity; None when nothing sells."""
    suggested_qty: int
    """Units to order now so stock lasts the lead time, the review period and the safety days."""


def advise(
    *,
    available: int,
    demand: int,
    window_days: int,
    lead_time_days: int,
    reorder_point: int,
    review_days: int = REVIEW_DAYS,
    safety_days: int = SAFETY_DAYS,
) -> ReorderAdvice:
    """Advice for one SKU that holds ``available`` units after ``demand`` units in ``window_days``.

    The suggestion covers velocity x (lead time + review + safety) and never leaves the SKU at or
    below its reorder point once the order arrives, so a slow seller is still topped up.
    """
    if window_days <= 0:
        raise ValueError("window_days must be positive")
    velocity = max(demand, 0) / window_days
    cover = available / velocity if velocity > 0 else None
    target = velocity * (lead_time_days + review_days + safety_days)
    floor = reorder_point + 1 if reorder_point > 0 else 0
    suggested = max(0, math.ceil(max(target, floor) - max(available, 0)))
    return ReorderAdvice(round(velocity, 3), None if cover is None else round(cover, 1), suggested)
