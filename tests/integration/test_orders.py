"""Recording, cancelling, shipping and returning orders, on both backends."""

from __future__ import annotations

import pytest

from stocksync.domain.errors import InvalidRequestError, NotFoundError, UnmappableLineError
from stocksync.domain.model import LineStatus, OrderStatus
from stocksync.ledger.queries import stock_report
from stocksync.ledger.results import LineIn
from stocksync.ledger.service import Ledger
from tests.factories import add_locations, channel, load_catalog, shop_with


def stock_of(ledger: Ledger, sku: str) -> dict[str, tuple[int, int]]:
    [report] = ledger.run(lambda s: stock_report(s, [sku]))
    return {loc.location: (loc.on_hand, loc.committed) for loc in report.locations}


def test_an_order_within_stock_commits_every_line(ledger: Ledger) -> None:
    shop_with(ledger, {"TEAL-MUG-350ML": {"berlin": 5}, "OAK-COASTER": {"berlin": 8}})

    result = ledger.record_order(
        "shopify-main", "1001", [LineIn("TEAL-MUG-350ML", 2), LineIn("OAK-COASTER", 4)]
    )

    assert result.status is OrderStatus.COMMITTED
    assert [(ln.committed, ln.short, ln.status) for ln in result.lines] == [
        (2, 0, LineStatus.COMMITTED),
        (4, 0, LineStatus.COMMITTED),
    ]
    assert stock_of(ledger, "TEAL-MUG-350ML") == {"berlin": (5, 2)}
    assert ledger.verify() == []


def test_a_line_beyond_stock_is_recorded_short_and_never_overcommits(ledger: Ledger) -> None:
    shop_with(ledger, {"TEAL-MUG-350ML": {"berlin": 3}})

    result = ledger.record_order("amazon-eu", "114-3941689-8772232", [LineIn("TEAL-MUG-350ML", 5)])

    assert result.status is OrderStatus.PARTIALLY_OVERSOLD
    [line] = result.lines
    assert (line.committed, line.short, line.status) == (3, 2, LineStatus.OVERSOLD)
    assert stock_of(ledger, "TEAL-MUG-350ML") == {"berlin": (3, 3)}


def test_an_order_with_nothing_available_is_oversold_and_kept(ledger: Ledger) -> None:
    shop_with(ledger, {"TEAL-MUG-350ML": {"berlin": 1}})
    ledger.record_order("woo-site", "727", [LineIn("TEAL-MUG-350ML", 1)])

    result = ledger.record_order("shopify-main", "1002", [LineIn("TEAL-MUG-350ML", 1)])

    assert result.status is OrderStatus.OVERSOLD
    assert ledger.order("shopify-main", "1002").lines[0].short == 1


def test_the_same_order_twice_commits_once_and_reports_a_duplicate(ledger: Ledger) -> None:
    shop_with(ledger, {"TEAL-MUG-350ML": {"berlin": 5}})
    first = ledger.record_order("shopify-main", "1001", [LineIn("TEAL-MUG-350ML", 2)])

    again = ledger.record_order("shopify-main", "1001", [LineIn("TEAL-MUG-350ML", 2)])

    assert not first.duplicate and again.duplicate
    assert again.reported_status == "duplicate"
    assert again.lines == first.lines
    assert stock_of(ledger, "TEAL-MUG-350ML") == {"berlin": (5, 2)}


def test_the_same_order_id_on_two_channels_is_two_orders(ledger: Ledger) -> None:
    shop_with(ledger, {"TEAL-MUG-350ML": {"berlin": 5}})
    ledger.record_order("shopify-main", "1001", [LineIn("TEAL-MUG-350ML", 1)])

    other = ledger.record_order("woo-site", "1001", [LineIn("TEAL-MUG-350ML", 1)])

    assert not other.duplicate
    assert stock_of(ledger, "TEAL-MUG-350ML") == {"berlin": (5, 2)}


def test_a_line_splits_across_the_locations_that_feed_the_channel(ledger: Ledger) -> None:
    shop_with(ledger, {"TEAL-MUG-350ML": {"berlin": 2, "leeds": 3}})

    result = ledger.record_order("shopify-main", "1001", [LineIn("TEAL-MUG-350ML", 4)])

    assert result.lines[0].committed == 4
    assert stock_of(ledger, "TEAL-MUG-350ML") == {"berlin": (2, 1), "leeds": (3, 3)}


def test_a_channel_only_commits_from_its_own_locations(ledger: Ledger) -> None:
    add_locations(ledger, "berlin", "leeds")
    shop_with(
        ledger,
        {"TEAL-MUG-350ML": {"berlin": 2, "leeds": 3}},
        channels=(
            channel("amazon-uk", "amazon", 1, ["leeds"]),
            channel("shopify-main", "shopify", 2),
        ),
    )

    result = ledger.record_order("amazon-uk", "203-1", [LineIn("TEAL-MUG-350ML", 5)])

    assert (result.lines[0].committed, result.lines[0].short) == (3, 2)
    assert stock_of(ledger, "TEAL-MUG-350ML") == {"berlin": (2, 0), "leeds": (3, 3)}


def test_a_bundle_commits_its_components_in_whole_bundles(ledger: Ledger) -> None:
    shop_with(ledger, {"TEAL-MUG-350ML": {"berlin": 5}, "OAK-COASTER": {"berlin": 3}})
    load_catalog(
        ledger,
        "sku,location,on_hand,components,listing:shopify-main\n"
        "MUG-GIFT-SET,,,TEAL-MUG-350ML*1;OAK-COASTER*2,gid-set\n",
    )

    result = ledger.record_order("shopify-main", "1001", [LineIn("MUG-GIFT-SET", 2)])

    assert (result.lines[0].committed, result.lines[0].short) == (1, 1)
    assert stock_of(ledger, "TEAL-MUG-350ML") == {"berlin": (5, 1)}
    assert stock_of(ledger, "OAK-COASTER") == {"berlin": (3, 2)}
    assert ledger.verify() == []


def test_a_line_maps_through_the_channel_listing_id_when_its_sku_is_empty(ledger: Ledger) -> None:
    shop_with(ledger, {"TEAL-MUG-350ML": {"berlin": 5}})

    result = ledger.record_order(
        "woo-site", "727", [LineIn("", 1, listing_id="woo-site-TEAL-MUG-350ML")]
    )

    assert result.lines[0].sku == "TEAL-MUG-350ML"
    assert result.lines[0].committed == 1


def test_an_unmappable_line_refuses_the_whole_order_and_writes_nothing(ledger: Ledger) -> None:
    shop_with(ledger, {"TEAL-MUG-350ML": {"berlin": 5}})

    with pytest.raises(UnmappableLineError, match="line 2"):
        ledger.record_order(
            "woo-site", "727", [LineIn("TEAL-MUG-350ML", 1), LineIn("NO-SUCH-SKU", 1)]
        )

    with pytest.raises(NotFoundError):
        ledger.order("woo-site", "727")
    assert stock_of(ledger, "TEAL-MUG-350ML") == {"berlin": (5, 0)}


def test_cancelling_an_order_releases_what_it_held_once(ledger: Ledger) -> None:
    shop_with(ledger, {"TEAL-MUG-350ML": {"berlin": 3}})
    ledger.record_order("shopify-main", "1001", [LineIn("TEAL-MUG-350ML", 5)])

    cancelled = ledger.cancel_order("shopify-main", "1001")
    again = ledger.cancel_order("shopify-main", "1001")

    assert cancelled.status is OrderStatus.CANCELLED and again.duplicate
    assert cancelled.lines[0].cancelled == 5 and cancelled.lines[0].committed == 0
    assert stock_of(ledger, "TEAL-MUG-350ML") == {"berlin": (3, 0)}
    assert ledger.verify() == []


def test_a_partial_cancel_drops_short_units_before_committed_ones(ledger: Ledger) -> None:
    shop_with(ledger, {"TEAL-MUG-350ML": {"berlin": 3}})
    ledger.record_order("shopify-main", "1001", [LineIn("TEAL-MUG-350ML", 5)])

    result = ledger.cancel_order(
        "shopify-main", "1001", quantities={"TEAL-MUG-350ML": 3}, key="evt-1"
    )

    line = result.lines[0]
    assert (line.committed, line.short, line.cancelled) == (2, 0, 3)
    assert result.status is OrderStatus.COMMITTED
    assert stock_of(ledger, "TEAL-MUG-350ML") == {"berlin": (3, 2)}


def test_a_partial_cancel_without_a_key_is_refused(ledger: Ledger) -> None:
    shop_with(ledger, {"TEAL-MUG-350ML": {"berlin": 3}})
    ledger.record_order("shopify-main", "1001", [LineIn("TEAL-MUG-350ML", 2)])

    with pytest.raises(InvalidRequestError):
        ledger.cancel_order("shopify-main", "1001", quantities={"TEAL-MUG-350ML": 1})


def test_shipping_lowers_on_hand_and_committed_together(ledger: Ledger) -> None:
    shop_with(ledger, {"TEAL-MUG-350ML": {"berlin": 3}})
    ledger.record_order("shopify-main", "1001", [LineIn("TEAL-MUG-350ML", 2)])

    result = ledger.ship_order("shopify-main", "1001")

    assert result.status is OrderStatus.SHIPPED
    assert stock_of(ledger, "TEAL-MUG-350ML") == {"berlin": (1, 0)}
    assert ledger.ship_order("shopify-main", "1001").duplicate
    assert ledger.verify() == []


def test_a_returned_unit_is_restocked_where_it_shipped_from(ledger: Ledger) -> None:
    shop_with(ledger, {"TEAL-MUG-350ML": {"berlin": 1, "leeds": 2}})
    ledger.record_order("shopify-main", "1001", [LineIn("TEAL-MUG-350ML", 2)])
    ledger.ship_order("shopify-main", "1001")

    result = ledger.restock_return("shopify-main", "1001", "TEAL-MUG-350ML", 1, key="rma-1")
    again = ledger.restock_return("shopify-main", "1001", "TEAL-MUG-350ML", 1, key="rma-1")

    assert result.lines[0].returned == 1 and again.duplicate
    assert stock_of(ledger, "TEAL-MUG-350ML") == {"berlin": (1, 0), "leeds": (1, 0)}
    with pytest.raises(InvalidRequestError):
        ledger.restock_return("shopify-main", "1001", "TEAL-MUG-350ML", 2, key="rma-2")
    assert ledger.verify() == []
