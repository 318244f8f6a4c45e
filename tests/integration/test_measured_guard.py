"""The last-units guard sized from the measured sync gap, on the ledger's order path: push
timings and order lateness recorded, read back per channel, and the guard they size."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from stocksync.domain.clock import utcnow
from stocksync.domain.sync_lag import SyncLag
from stocksync.ledger.explain import explain_stock
from stocksync.ledger.queries import stock_report
from stocksync.ledger.results import LineIn
from stocksync.ledger.service import Ledger
from stocksync.ledger.sync_lag import forget_readings, measure_lags, record_push_timing
from stocksync.ledger.tables import ChannelRow, ListingRow, SkuRow
from stocksync.ledger.velocity import sales_rates
from tests.factories import channel, shop_with

SKU = "TEAL-MUG-350ML"


@pytest.fixture(autouse=True)
def fresh_readings() -> Iterator[None]:
    forget_readings()
    yield
    forget_readings()


def shop(ledger: Ledger, **amazon: int | bool) -> dict[str, int]:
    shop_with(
        ledger,
        {SKU: {"berlin": 40}},
        channels=(
            channel("shopify-main", "shopify", 30, last_units=2),
            channel("amazon-eu", "amazon", 20, last_units=2, **amazon),  # type: ignore[arg-type]
            channel("woo-site", "woocommerce", 10, last_units=2),
        ),
    )
    rows = ledger.run(lambda s: s.execute(select(ChannelRow.name, ChannelRow.id)).all())
    return {name: id_ for name, id_ in rows}  # noqa: C416


def desired(ledger: Ledger) -> dict[str, int]:
    [report] = ledger.run(lambda s: stock_report(s, [SKU]))
    return {li.channel: li.desired for li in report.listings}


def amazon_is_slow(ledger: Ledger, ids: dict[str, int], seconds: float = 6.0) -> None:
    now = utcnow()
    ledger.call(record_push_timing, ids["amazon-eu"], seconds, read_back=True, now=now)
    forget_readings()  # the order path reads the lags at most once a second: read them now


def late_woo_orders(ledger: Ledger, count: int, late_s: float = 4.0) -> None:
    """``count`` WooCommerce orders that reach the ledger ``late_s`` after the shopper bought."""
    for n in range(count):
        placed = utcnow() - timedelta(seconds=late_s)
        ledger.record_order("woo-site", f"late-{n}", [LineIn(SKU, 1)], placed_at=placed)


def test_lags_are_read_per_channel_from_push_timings_and_order_times(ledger: Ledger) -> None:
    ids = shop(ledger)
    now = utcnow()
    for n in range(1, 101):
        ledger.call(record_push_timing, ids["woo-site"], n / 10, read_back=False, now=now)
    ledger.call(
        record_push_timing, ids["woo-site"], 90.0, read_back=False, now=now - timedelta(hours=1)
    )  # out of the window
    amazon_is_slow(ledger, ids)
    late_woo_orders(ledger, 3)
    ledger.record_order("shopify-main", "no-time", [LineIn(SKU, 1)])  # no order time: no sample

    lags = ledger.call(measure_lags)

    woo = lags[ids["woo-site"]]
    # all taken just now: the longest recent one counts, not the 99th percentile (9.9 s)
    assert (woo.push_s, woo.push_samples, woo.read_back) == (10.0, 100, False)
    assert woo.order_samples == 3 and 4.0 <= woo.order_s < 6.0
    assert lags[ids["amazon-eu"]] == SyncLag(push_s=6.0, push_samples=1, read_back=True)
    assert ids["shopify-main"] not in lags


def test_a_slow_channel_is_hidden_sooner_than_its_fixed_guard_would(ledger: Ledger) -> None:
    ids = shop(ledger)
    amazon_is_slow(ledger, ids)

    late_woo_orders(ledger, 25)  # >= 2.5 units/s; amazon: 6 s + woo's 4 s late = 10 s > 15 units

    assert desired(ledger) == {"shopify-main": 15, "amazon-eu": 0, "woo-site": 15}
    [amazon] = ledger.call(explain_stock, SKU, "amazon-eu")
    guard = amazon.explanation.steps[-1]
    assert "measured sync gap" in guard.describe()
    assert guard.gap_s >= 10.0 and guard.hidden


@pytest.mark.parametrize(
    "amazon", [{"measured_guard": False}, {"guard_max": 10}], ids=["fixed", "capped"]
)
def test_a_seller_can_keep_the_guard_fixed_or_cap_it(
    ledger: Ledger, amazon: dict[str, int | bool]
) -> None:
    ids = shop(ledger, **amazon)
    amazon_is_slow(ledger, ids)

    late_woo_orders(ledger, 25)

    assert desired(ledger) == {"shopify-main": 15, "amazon-eu": 15, "woo-site": 15}
    assert ledger.verify() == []


def hide_pushed(ledger: Ledger, channel_id: int, seconds_ago: float) -> None:
    """The channel's listing of SKU went to 0 by a push ``seconds_ago``."""
    at = utcnow() - timedelta(seconds=seconds_ago)
    ledger.run(
        lambda s: s.execute(
            update(ListingRow)
            .where(ListingRow.channel_id == channel_id)  # type: ignore[arg-type]
            .values(expected_qty=0, pushed_qty=0, pushed_at=at, dirty=False)
        )
    )


def test_the_keepers_reserve_is_listed_again_once_the_hidden_channel_has_settled(
    ledger: Ledger,
) -> None:
    shop_with(
        ledger,
        {SKU: {"berlin": 40}},
        channels=(
            channel("shopify-main", "shopify", 30, last_units=2),
            channel("woo-site", "woocommerce", 10, last_units=2),
        ),
    )
    ids = dict(ledger.run(lambda s: s.execute(select(ChannelRow.name, ChannelRow.id)).all()))
    late_woo_orders(ledger, 30)  # 10 units/s, reaching the ledger 4 s late
    forget_readings()
    ledger.record_order("shopify-main", "s-1", [LineIn(SKU, 1)])  # recompute with the lateness
    # Woo hidden; Shopify holds back what Woo may have sold in its 4 s (10/s): all 9 left
    assert desired(ledger) == {"shopify-main": 0, "woo-site": 0}

    hide_pushed(ledger, ids["woo-site"], seconds_ago=0.5)
    assert ledger.release_settled_reserves() == 0  # Woo's late orders may still be coming
    assert desired(ledger) == {"shopify-main": 0, "woo-site": 0}

    hide_pushed(ledger, ids["woo-site"], seconds_ago=8.0)
    assert ledger.release_settled_reserves() == 1
    assert desired(ledger) == {"shopify-main": 9, "woo-site": 0}
    [shopify] = ledger.call(explain_stock, SKU, "shopify-main")
    held = shopify.explanation.steps[-1]
    assert held.units == 0 and [p.settled for p in held.parts] == [True]
    # the order path (on PostgreSQL its own statements) reads the hide's time the same way
    ledger.record_order("shopify-main", "s-2", [LineIn(SKU, 1)])
    assert desired(ledger) == {"shopify-main": 8, "woo-site": 0}
    assert ledger.verify() == []


def test_sales_rates_are_read_for_the_sku_and_per_selling_channel(ledger: Ledger) -> None:
    ids = shop(ledger)
    for n in range(6):
        ledger.record_order("woo-site", f"w-{n}", [LineIn(SKU, 1)])
    ledger.record_order("shopify-main", "s-1", [LineIn(SKU, 3)])
    sku_id = ledger.run(lambda s: s.execute(select(SkuRow.id).where(SkuRow.sku == SKU)).scalar())

    rates = ledger.call(sales_rates, [sku_id])

    # 9 units in the 3 s window: the higher of the two windows' rates
    assert rates.by_sku == {sku_id: 3.0}
    assert rates.by_channel == {(sku_id, ids["woo-site"]): 2.0, (sku_id, ids["shopify-main"]): 1.0}
