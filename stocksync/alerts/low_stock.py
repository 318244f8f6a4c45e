"""Which SKUs are at or below their reorder point, with the numbers a buyer needs to act.

Pure: the ledger reads each SKU's free units and its demand over the window
(:mod:`stocksync.ledger.stock_position`); this module adds them up and asks the reorder rules
what to do, so the thresholds can be read and tested without a database.
"""

from __future__ import annotations

from dataclasses import dataclass

from stocksync.alerts.reorder import ReorderAdvice, advise
from stocksync.ledger.stock_position import SkuPosition

__all__ = ["DEMAND_WINDOW_DAYS", "LowStock", "assess"]

DEMAND_WINDOW_DAYS = 28


@dataclass(frozen=True, slots=True, kw_only=True)
class LowStock:
    sku: str
    title: str
    reorder_point: int
    lead_time_days: int
    available: int
    by_location: dict[str, int]
    """Units free to sell per location (on hand minus committed)."""
    demand: int
    """Units demanded in the window (committed - released + short)."""
    advice: ReorderAdvice

    @property
    def low(self) -> bool:
        return self.available <= self.reorder_point


def assess(position: SkuPosition, *, window_days: int = DEMAND_WINDOW_DAYS) -> LowStock:
    """``position`` (its demand counted over ``window_days``) with its total and reorder advice."""
    available = sum(position.by_location.values())
    return LowStock(
        sku=position.sku,
        title=position.title,
        reorder_point=position.reorder_point,
        lead_time_days=position.lead_time_days,
        available=available,
        by_location=position.by_location,
        demand=position.demand,
        advice=advise(
            available=available,
            demand=position.demand,
            window_days=window_days,
            lead_time_days=position.lead_time_days,
            reorder_point=position.reorder_point,
        ),
    )
