"""Reorder arithmetic: velocity, days of cover, a suggestion that clears the reorder point."""

from __future__ import annotations

import pytest

from stocksync.alerts.reorder import REVIEW_DAYS, SAFETY_DAYS, advise


def test_a_steady_seller_is_covered_for_lead_time_review_and_safety() -> None:
    advice = advise(available=10, demand=56, window_days=28, lead_time_days=14, reorder_point=12)
    assert advice.daily_velocity == 2.0
    assert advice.days_of_cover == 5.0
    assert advice.suggested_qty == 2 * (14 + REVIEW_DAYS + SAFETY_DAYS) - 10


def test_a_sku_that_does_not_sell_is_still_topped_up_above_its_reorder_point() -> None:
    advice = advise(available=3, demand=0, window_days=28, lead_time_days=30, reorder_point=5)
    assert advice.days_of_cover is None
    assert advice.suggested_qty == 3


def test_nothing_is_suggested_when_stock_already_covers_the_horizon() -> None:
    advice = advise(available=500, demand=28, window_days=28, lead_time_days=7, reorder_point=5)
    assert advice.suggested_qty == 0


def test_stock_committed_beyond_on_hand_counts_as_none_available() -> None:
    advice = advise(available=-2, demand=28, window_days=28, lead_time_days=0, reorder_point=0)
    assert advice.suggested_qty == REVIEW_DAYS + SAFETY_DAYS


def test_an_empty_window_is_refused() -> None:
    with pytest.raises(ValueError, match="window_days"):
        advise(available=1, demand=1, window_days=0, lead_time_days=1, reorder_point=1)
