"""Every ledger change leaves each affected listing with the quantity the rules give it."""

from __future__ import annotations

from sqlalchemy import text

from stocksync.ledger.queries import stock_report
from stocksync.ledger.results import LineIn
from stocksync.ledger.service import Ledger
from tests.factories import add_channels, channel, load_catalog, shop_with


def listings_of(ledger: Ledger, sku: str) -> dict[str, tuple[int, int | None, bool]]:
    [report] = ledger.run(lambda s: stock_report(s, [sku]))
    return {li.channel: (li.desired, li.expected, li.dirty) for li in report.listings}


def test_new_listings_are_dirty_with_the_pool_as_desired(ledger: Ledger) -> None:
    shop_with(ledger, {"TEAL-MUG-350ML": {"berlin": 5, "leeds": 2}})

    assert listings_of(ledger, "TEAL-MUG-350ML") == {
        "amazon-eu": (7, None, True),
        "shopify-main": (7, None, True),
        "woo-site": (7, None, True),
    }


def _pushed(ledger: Ledger, qty: int) -> None:
    """Pretend every channel shows ``qty`` now (what the push pipeline will record)."""
    ledger.run(
        lambda s: s.execute(
            text(
                "UPDATE listings SET pushed_qty = :q, expected_qty = :q, pushed_version = version, dirty = false"
            ),
            {"q": qty},
        )
    )


def test_an_order_marks_the_other_channels_dirty_but_not_a_compare_and_set_one_that_sold(
    ledger: Ledger,
) -> None:
    shop_with(ledger, {"TEAL-MUG-350ML": {"berlin": 5}})
    _pushed(ledger, 5)

    ledger.record_order("shopify-main", "1001", [LineIn("TEAL-MUG-350ML", 2)])

    assert listings_of(ledger, "TEAL-MUG-350ML") == {
        "amazon-eu": (3, 5, True),
        "shopify-main": (3, 3, False),
        "woo-site": (3, 5, True),
    }
    assert ledger.verify() == []


def test_a_last_write_wins_channel_that_sold_is_pushed_again(ledger: Ledger) -> None:
    shop_with(ledger, {"TEAL-MUG-350ML": {"berlin": 5}})
    _pushed(ledger, 5)

    ledger.record_order("amazon-eu", "114-1", [LineIn("TEAL-MUG-350ML", 2)])

    # Amazon already shows 3, but a push of ours may have overwritten that sale: it goes again
    assert listings_of(ledger, "TEAL-MUG-350ML") == {
        "amazon-eu": (3, 3, True),
        "shopify-main": (3, 5, True),
        "woo-site": (3, 5, True),
    }
    assert ledger.verify() == []


def test_a_short_order_still_lowers_the_selling_channels_expected_count(ledger: Ledger) -> None:
    shop_with(ledger, {"TEAL-MUG-350ML": {"berlin": 1}})
    _pushed(ledger, 1)

    ledger.record_order("woo-site", "727", [LineIn("TEAL-MUG-350ML", 3)])

    # woo showed 1, sold 3 of its own accord, so it now shows -2 and must be pushed 0
    assert listings_of(ledger, "TEAL-MUG-350ML")["woo-site"] == (0, -2, True)


def test_policies_shape_each_channels_quantity(ledger: Ledger) -> None:
    add_channels(
        ledger,
        channel("shopify-main", "shopify", 3, buffer=2),
        channel("amazon-eu", "amazon", 2, share_pct=50),
        channel("woo-site", "woocommerce", 1, max_listed=4),
    )
    load_catalog(
        ledger,
        "sku,location,on_hand,listing:shopify-main,listing:amazon-eu,listing:woo-site\n"
        "TEAL-MUG-350ML,berlin,9,gid-1,B0MUG,77\n",
    )

    desired = {ch: v[0] for ch, v in listings_of(ledger, "TEAL-MUG-350ML").items()}

    assert desired == {"shopify-main": 7, "amazon-eu": 4, "woo-site": 4}


def test_the_last_units_show_on_the_top_priority_channel_only(ledger: Ledger) -> None:
    shop_with(
        ledger,
        {"TEAL-MUG-350ML": {"berlin": 4}},
        channels=(
            channel("shopify-main", "shopify", 30, last_units=2),
            channel("amazon-eu", "amazon", 20, last_units=2),
            channel("woo-site", "woocommerce", 10, last_units=2),
        ),
    )
    assert {ch: v[0] for ch, v in listings_of(ledger, "TEAL-MUG-350ML").items()} == {
        "shopify-main": 4,
        "amazon-eu": 4,
        "woo-site": 4,
    }

    ledger.record_order("woo-site", "727", [LineIn("TEAL-MUG-350ML", 2)])

    assert {ch: v[0] for ch, v in listings_of(ledger, "TEAL-MUG-350ML").items()} == {
        "shopify-main": 2,
        "amazon-eu": 0,
        "woo-site": 0,
    }
    assert ledger.verify() == []


def test_selling_a_component_lowers_every_bundle_that_contains_it(ledger: Ledger) -> None:
    shop_with(ledger, {"TEAL-MUG-350ML": {"berlin": 6}, "OAK-COASTER": {"berlin": 10}})
    load_catalog(
        ledger,
        "sku,location,on_hand,components,listing:shopify-main,listing:amazon-eu\n"
        "MUG-GIFT-SET,,,TEAL-MUG-350ML*1;OAK-COASTER*2,gid-set,B0SET\n"
        "MUG-PAIR,,,TEAL-MUG-350ML*2,gid-pair,\n",
    )
    assert listings_of(ledger, "MUG-GIFT-SET")["amazon-eu"][0] == 5
    assert listings_of(ledger, "MUG-PAIR")["shopify-main"][0] == 3

    ledger.record_order("woo-site", "727", [LineIn("TEAL-MUG-350ML", 3)])

    assert listings_of(ledger, "MUG-GIFT-SET")["amazon-eu"][0] == 3
    assert listings_of(ledger, "MUG-PAIR")["shopify-main"][0] == 1
    assert ledger.verify() == []


def test_selling_a_bundle_lowers_its_components_listings(ledger: Ledger) -> None:
    shop_with(ledger, {"TEAL-MUG-350ML": {"berlin": 6}, "OAK-COASTER": {"berlin": 10}})
    load_catalog(
        ledger,
        "sku,location,on_hand,components,listing:shopify-main\n"
        "MUG-GIFT-SET,,,TEAL-MUG-350ML*1;OAK-COASTER*2,gid-set\n",
    )

    ledger.record_order("shopify-main", "1001", [LineIn("MUG-GIFT-SET", 4)])

    assert listings_of(ledger, "OAK-COASTER")["amazon-eu"][0] == 2
    assert listings_of(ledger, "TEAL-MUG-350ML")["woo-site"][0] == 2
    assert listings_of(ledger, "MUG-GIFT-SET")["shopify-main"][0] == 1


def test_verify_finds_a_counter_that_disagrees_with_the_journal(ledger: Ledger) -> None:
    shop_with(ledger, {"TEAL-MUG-350ML": {"berlin": 5}})
    ledger.run(lambda s: s.execute(text("UPDATE stock SET on_hand = 6")))

    mismatches = ledger.verify()

    assert [
        (m.kind, m.subject, m.field, m.expected, m.actual) for m in mismatches if m.kind == "stock"
    ] == [("stock", "TEAL-MUG-350ML@berlin", "on_hand", 5, 6)]
    assert {m.kind for m in mismatches} == {"stock", "listing"}  # the listings were computed from 5


def test_verify_finds_a_listing_that_disagrees_with_the_rules(ledger: Ledger) -> None:
    shop_with(ledger, {"TEAL-MUG-350ML": {"berlin": 5}})
    ledger.run(
        lambda s: s.execute(
            text(
                "UPDATE listings SET desired_qty = 9 WHERE external_id = 'woo-site-TEAL-MUG-350ML'"
            )
        )
    )

    [mismatch] = ledger.verify()

    assert (mismatch.kind, mismatch.subject, mismatch.expected, mismatch.actual) == (
        "listing",
        "woo-site/TEAL-MUG-350ML",
        5,
        9,
    )
