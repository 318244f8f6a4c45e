"""Low stock and oversold lines read from the ledger, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from stocksync.alerts.oversold import CancelPolicy, oversold_lines
from stocksync.alerts.service import low_stock, stock_position
from stocksync.ledger.oversold_orders import lines_recorded_short
from stocksync.ledger.results import LineIn
from stocksync.ledger.service import Ledger
from tests.factories import add_channels, load_catalog

CATALOG = """sku,location,on_hand,title,reorder_point,lead_time_days,components,listing:shopify-main,listing:woo-site
TEAL-MUG-350ML,berlin,6,Teal mug 350 ml,4,14,,gid://shopify/InventoryItem/1,101
TEAL-MUG-350ML,leeds,2,,,,,,
OAK-COASTER,berlin,40,Oak coaster,10,30,,gid://shopify/InventoryItem/2,102
MUG-GIFT-SET,,,Mug and two coasters,,,TEAL-MUG-350ML*1;OAK-COASTER*2,gid://shopify/InventoryItem/3,103
"""


def _shop(ledger: Ledger) -> None:
    add_channels(ledger, ("shopify-main", "shopify", 2), ("woo-site", "woocommerce", 1))
    load_catalog(ledger, CATALOG)


def test_a_sku_at_its_reorder_point_is_low_with_availability_per_location(ledger: Ledger) -> None:
    _shop(ledger)
    ledger.record_order("shopify-main", "1001", [LineIn("TEAL-MUG-350ML", 3)])
    ledger.record_order("woo-site", "2001", [LineIn("MUG-GIFT-SET", 1)])

    low = low_stock(ledger)

    assert [p.sku for p in low] == ["TEAL-MUG-350ML"]
    mug = low[0]
    assert mug.available == 4
    assert sum(mug.by_location.values()) == 4 and set(mug.by_location) == {"berlin", "leeds"}
    assert mug.demand == 4  # three mugs and one inside a gift set
    assert mug.advice.daily_velocity == round(4 / 28, 3)
    assert mug.advice.suggested_qty > 0


def test_cancelled_units_are_not_demand_and_short_units_are(ledger: Ledger) -> None:
    _shop(ledger)
    ledger.record_order("shopify-main", "1001", [LineIn("TEAL-MUG-350ML", 2)])
    ledger.cancel_order("shopify-main", "1001")
    ledger.record_order("woo-site", "2001", [LineIn("TEAL-MUG-350ML", 10)])

    mug = stock_position(ledger, ["TEAL-MUG-350ML"])[0]

    assert mug.available == 0
    assert mug.demand == 10  # eight committed, two short; the cancelled two are gone


def test_demand_outside_the_window_is_ignored(ledger: Ledger) -> None:
    _shop(ledger)
    ledger.record_order("shopify-main", "1001", [LineIn("OAK-COASTER", 5)])
    later = datetime.now(UTC) + timedelta(days=40)

    coaster = stock_position(ledger, ["OAK-COASTER"], now=later)[0]

    assert coaster.demand == 0 and coaster.advice.days_of_cover is None


def test_an_oversold_line_names_the_orders_and_cancels_the_one_placed_later(ledger: Ledger) -> None:
    _shop(ledger)
    t0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    ledger.record_order("shopify-main", "1001", [LineIn("TEAL-MUG-350ML", 8)], placed_at=t0)
    # Woo's order was placed first but its webhook arrived after Shopify's.
    ledger.record_order(
        "woo-site", "2001", [LineIn("TEAL-MUG-350ML", 1)], placed_at=t0 - timedelta(seconds=5)
    )

    lines = oversold_lines(ledger.call(lines_recorded_short))

    assert len(lines) == 1
    line = lines[0]
    assert (line.sku, line.short, line.order.external_id) == ("TEAL-MUG-350ML", 1, "2001")
    assert [r.external_id for r in line.competitors] == ["1001"]
    assert (line.cancel.channel, line.cancel.external_id) == ("shopify-main", "1001")

    by_short = oversold_lines(ledger.call(lines_recorded_short), policy=CancelPolicy.SHORT)
    assert by_short[0].cancel.external_id == "2001"


def test_the_order_recorded_short_is_cancelled_when_it_was_placed_later(ledger: Ledger) -> None:
    _shop(ledger)
    t0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    ledger.record_order("shopify-main", "1001", [LineIn("TEAL-MUG-350ML", 8)], placed_at=t0)
    recorded_from = datetime.now(UTC) - timedelta(seconds=1)
    ledger.record_order(
        "woo-site", "2001", [LineIn("MUG-GIFT-SET", 1)], placed_at=t0 + timedelta(seconds=5)
    )

    lines = oversold_lines(ledger.call(lines_recorded_short, since=recorded_from))
    assert ledger.call(lines_recorded_short, since=datetime.now(UTC) + timedelta(hours=1)) == []

    assert [(ln.sku, ln.cancel.external_id) for ln in lines] == [("MUG-GIFT-SET", "2001")]
    assert [r.external_id for r in lines[0].competitors] == ["1001"]
