"""The flash sale's pure pieces: percentiles, the paced schedule's burst, scarce stock."""

from __future__ import annotations

from stocksync.bench.fleet import scarce_catalog
from stocksync.bench.shoppers import SaleShape
from stocksync.bench.sync_metrics import percentile, stats


def test_percentiles_are_nearest_rank() -> None:
    gaps = [0.1 * n for n in range(1, 101)]

    assert percentile(gaps, 50) == gaps[49] and percentile(gaps, 99) == gaps[98]
    assert percentile([], 50) is None
    assert stats([0.5, 1.5, 0.25]) == {"count": 3, "p50_s": 0.5, "p99_s": 1.5, "max_s": 1.5}


def test_the_burst_multiplies_the_rate_only_in_the_middle_of_the_sale() -> None:
    shape = SaleShape(duration_s=60, rate_per_s=20, burst_factor=5, burst_s=6)

    assert [shape.rate_at(t) for t in (0, 26.9, 27, 30, 33, 33.1, 59)] == [
        20, 20, 100, 100, 100, 20, 20,
    ]  # fmt: skip
    assert SaleShape(10, 4).rate_at(5) == 4


def test_a_scarce_sku_keeps_its_units_at_its_first_location_only() -> None:
    catalog = (
        "sku,location,on_hand,title\n"
        "TEAL-MUG-350ML,berlin-dc,2,Teal mug\n"
        "TEAL-MUG-350ML,leeds-3pl,1,\n"
        "OAK-COASTER,berlin-dc,48,Oak coaster\n"
        "MUG-GIFT-SET,,,Gift set\n"
    )

    rows = scarce_catalog(catalog, {"TEAL-MUG-350ML": 30}).splitlines()

    assert rows[1:] == [
        "TEAL-MUG-350ML,berlin-dc,30,Teal mug",
        "TEAL-MUG-350ML,leeds-3pl,0,",
        "OAK-COASTER,berlin-dc,48,Oak coaster",
        "MUG-GIFT-SET,,,Gift set",
    ]
