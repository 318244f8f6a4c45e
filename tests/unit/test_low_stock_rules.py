"""Low stock from the ledger's numbers: totals over locations, the reorder point, the advice."""

from __future__ import annotations

from stocksync.alerts.low_stock import assess
from stocksync.ledger.stock_position import SkuPosition


def _mug(by_location: dict[str, int], demand: int = 0) -> SkuPosition:
    return SkuPosition(
        sku="TEAL-MUG-350ML",
        title="Teal mug 350 ml",
        reorder_point=4,
        lead_time_days=14,
        by_location=by_location,
        demand=demand,
    )


def test_available_is_what_every_location_has_free_and_at_the_reorder_point_is_low() -> None:
    mug = assess(_mug({"berlin": 3, "leeds": 1}))

    assert mug.available == 4 and mug.by_location == {"berlin": 3, "leeds": 1}
    assert mug.low


def test_a_location_committed_beyond_its_stock_takes_from_the_total() -> None:
    mug = assess(_mug({"berlin": 7, "leeds": -2}))

    assert mug.available == 5 and not mug.low


def test_the_advice_reads_the_demand_over_the_window_it_was_counted_in() -> None:
    four_weeks = assess(_mug({"berlin": 10}, demand=56), window_days=28)
    two_weeks = assess(_mug({"berlin": 10}, demand=56), window_days=14)

    assert four_weeks.demand == two_weeks.demand == 56
    assert (four_weeks.advice.daily_velocity, four_weeks.advice.days_of_cover) == (2.0, 5.0)
    assert (two_weeks.advice.daily_velocity, two_weeks.advice.days_of_cover) == (4.0, 2.5)


def test_a_sku_with_no_stock_anywhere_has_none_available() -> None:
    assert assess(_mug({})).available == 0
