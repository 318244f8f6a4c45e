"""The guard's cost in a flash sale: refused checkouts while stock remained, withheld units."""

from __future__ import annotations

import pytest

from stocksync.bench.guard_cost import guard_cost
from stocksync.bench.sale_run import SaleReport
from stocksync.bench.shoppers import Placed, SaleShape

T0 = 100.0


def sale(placed: list[Placed], shown: list[tuple[float, str, str, int]]) -> SaleReport:
    return SaleReport(
        shape=SaleShape(4, 1), skus=["A"], placed=placed, gaps=[], gaps_by_channel={},
        unsynced_orders=0, oversold_lines={}, oversold_units={}, push_calls={}, throttled={},
        mismatches={}, initial_push_s=0, converge_s=0, samples=0, sale_started=T0, shown=shown,
    )  # fmt: skip


def test_a_hidden_channel_costs_the_sales_it_refused_and_the_units_it_withheld() -> None:
    report = sale(
        placed=[
            Placed("shop", "A", True, "1", T0 + 0.5),
            Placed("woo", "A", False, None, T0 + 2.0),  # one unit left, woo hides it: refused
            Placed("shop", "A", True, "2", T0 + 3.0),
            Placed("shop", "A", True, "3", T0 + 4.0),  # none left: oversold
        ],
        shown=[(T0 - 5, "shop", "A", 2), (T0 - 5, "woo", "A", 1), (T0 + 1.0, "woo", "A", 0)],
    )

    cost = guard_cost(report, {"A": 2}, {"shop": 0, "woo": 0})

    # woo showed 1 of 2 for 0.5 s, then 0 of 1 for 2 s (until the last unit sold at 3 s)
    assert cost["channels"]["woo"] == {"refused_in_stock": 1, "withheld_unit_s": 2.5}
    assert cost["channels"]["shop"] == {"refused_in_stock": 0, "withheld_unit_s": 0.0}
    assert cost["refused_in_stock"] == 1 and cost["withheld_unit_s"] == pytest.approx(2.5)
    assert cost["oversold_lines_by_accounting"] == 1
