"""The simulated catalog: a Zipf long tail with stock sized from expected sales."""

from __future__ import annotations

import math

import pytest

from stocksync.simulate.catalog import SimCatalog, build_catalog
from stocksync.simulate.scenario import Bundle, CatalogSpec, ChannelSpec, Scenario

SHOP = (ChannelSpec(name="shopify-main", kind="shopify"),)


def scenario(**catalog: object) -> Scenario:
    return Scenario(name="cat", orders_per_day=1000, channels=SHOP, catalog=CatalogSpec(**catalog))


def test_skus_are_named_by_popularity_rank_with_zipf_weights_adding_up_to_one() -> None:
    catalog = build_catalog(scenario(skus=12, zipf_s=1.0))
    assert catalog.skus[:3] == ("SIM-0001", "SIM-0002", "SIM-0003")
    assert len(catalog.skus) == 12
    assert math.isclose(sum(catalog.weights.values()), 1.0)
    assert math.isclose(catalog.weights["SIM-0001"] / catalog.weights["SIM-0004"], 4.0)


def test_stock_is_days_of_expected_sales_and_the_most_popular_start_scarce() -> None:
    catalog = build_catalog(
        scenario(
            skus=10,
            zipf_s=0.0,
            stock_days=10,
            scarce=2,
            scarce_days=0.5,
            min_stock=3,
            units_per_line_max=3,
            two_lines_share=0.2,
        )  # fmt: skip
    )
    # 1000 checkouts × 1.2 lines × 2 units on average, over 10 equally popular SKUs
    assert catalog.expected_daily["SIM-0005"] == pytest.approx(240.0)
    assert catalog.stock["SIM-0005"] == 2400
    assert catalog.scarce == ("SIM-0001", "SIM-0002")
    assert catalog.stock["SIM-0001"] == 120


def test_stock_never_starts_below_min_stock() -> None:
    catalog = build_catalog(scenario(skus=200, stock_days=0.01, min_stock=4))
    assert min(catalog.stock.values()) == 4


def test_bundles_count_against_their_components_in_the_expectation() -> None:
    kit = Bundle(sku="KIT", components=(("SIM-0003", 2),), share_of_orders=0.25)
    catalog = build_catalog(
        scenario(skus=4, zipf_s=0.0, bundles=(kit,), two_lines_share=0.0, scarce=0)
    )
    # plain lines: 1000 × 0.75 / 4 each; the kit: 1000 × 0.25 kits × 2 units of SIM-0003
    assert catalog.expected_daily["SIM-0001"] == pytest.approx(187.5)
    assert catalog.expected_daily["SIM-0003"] == pytest.approx(187.5 + 500.0)
    assert catalog.bundles == {"KIT": {"SIM-0003": 2}}
    assert catalog.all_listed() == ("SIM-0001", "SIM-0002", "SIM-0003", "SIM-0004", "KIT")


def test_the_scarcest_sku_covers_the_fewest_hours_ties_by_name() -> None:
    catalog = SimCatalog(
        skus=("B", "A", "C"),
        stock={"A": 10, "B": 5, "C": 1},
        weights={"A": 0.4, "B": 0.4, "C": 0.2},
        bundles={},
        scarce=(),
        expected_daily={"A": 48.0, "B": 24.0, "C": 0.0},
    )
    assert catalog.hours_covered("A") == pytest.approx(5.0)
    assert catalog.hours_covered("C") == math.inf
    assert catalog.scarcest() == "A"  # A and B both cover 5 h; A sorts first
