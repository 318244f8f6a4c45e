"""Receipts, counts and adjustments: idempotent, journaled, never below zero."""

from __future__ import annotations

import pytest

from stocksync.domain.errors import InvalidRequestError, NotFoundError
from stocksync.domain.model import MovementReason, OrderStatus
from stocksync.ledger.results import LineIn
from stocksync.ledger.service import Ledger
from tests.factories import load_catalog, shop_with
from tests.integration.test_orders import stock_of


def test_a_receipt_adds_stock_once_per_key(ledger: Ledger) -> None:
    shop_with(ledger, {"TEAL-MUG-350ML": {"berlin": 2}})

    first = ledger.receive("TEAL-MUG-350ML", 10, "berlin", key="po-4711")
    again = ledger.receive("TEAL-MUG-350ML", 10, "berlin", key="po-4711")

    assert (first.on_hand, first.duplicate) == (12, False)
    assert (again.on_hand, again.duplicate) == (12, True)
    assert ledger.verify() == []


def test_a_receipt_at_a_new_location_creates_its_stock_row(ledger: Ledger) -> None:
    shop_with(ledger, {"TEAL-MUG-350ML": {"berlin": 2}, "OAK-COASTER": {"leeds": 1}})

    ledger.receive("TEAL-MUG-350ML", 4, "leeds")

    assert stock_of(ledger, "TEAL-MUG-350ML") == {"berlin": (2, 0), "leeds": (4, 0)}


def test_a_count_sets_on_hand_and_journals_the_difference(ledger: Ledger) -> None:
    shop_with(ledger, {"TEAL-MUG-350ML": {"berlin": 10}})

    result = ledger.set_stock("TEAL-MUG-350ML", 7, "berlin", key="count-2026-11")

    assert result.on_hand == 7
    assert ledger.set_stock("TEAL-MUG-350ML", 7, "berlin", key="count-2026-11").duplicate
    assert ledger.verify() == []


def test_a_count_below_commitments_releases_the_newest_orders_and_records_them_short(
    ledger: Ledger,
) -> None:
    shop_with(ledger, {"TEAL-MUG-350ML": {"berlin": 5}})
    ledger.record_order("shopify-main", "1001", [LineIn("TEAL-MUG-350ML", 2)])
    ledger.record_order("amazon-eu", "1002", [LineIn("TEAL-MUG-350ML", 2)])

    ledger.set_stock("TEAL-MUG-350ML", 3, "berlin")

    older, newer = ledger.order("shopify-main", "1001"), ledger.order("amazon-eu", "1002")
    assert older.status is OrderStatus.COMMITTED
    assert newer.status is OrderStatus.PARTIALLY_OVERSOLD
    assert (newer.lines[0].committed, newer.lines[0].short) == (1, 1)
    assert stock_of(ledger, "TEAL-MUG-350ML") == {"berlin": (3, 3)}
    assert ledger.verify() == []


def test_a_count_below_a_bundle_commitment_releases_whole_bundles(ledger: Ledger) -> None:
    shop_with(ledger, {"TEAL-MUG-350ML": {"berlin": 4}, "OAK-COASTER": {"berlin": 4}})
    load_catalog(
        ledger,
        "sku,location,on_hand,components,listing:shopify-main\n"
        "MUG-GIFT-SET,,,TEAL-MUG-350ML*1;OAK-COASTER*2,gid-set\n",
    )
    ledger.record_order("shopify-main", "1001", [LineIn("MUG-GIFT-SET", 2)])

    ledger.set_stock("OAK-COASTER", 3, "berlin")

    line = ledger.order("shopify-main", "1001").lines[0]
    assert (line.committed, line.short) == (1, 1)
    assert stock_of(ledger, "TEAL-MUG-350ML") == {"berlin": (4, 1)}
    assert stock_of(ledger, "OAK-COASTER") == {"berlin": (3, 2)}
    assert ledger.verify() == []


def test_an_adjustment_below_zero_is_refused_and_changes_nothing(ledger: Ledger) -> None:
    shop_with(ledger, {"TEAL-MUG-350ML": {"berlin": 2}})

    with pytest.raises(InvalidRequestError, match="below 0"):
        ledger.adjust("TEAL-MUG-350ML", -3, "berlin", key="damage-1")

    assert stock_of(ledger, "TEAL-MUG-350ML") == {"berlin": (2, 0)}
    # the refused key was rolled back with everything else, so it can be used again
    assert ledger.adjust("TEAL-MUG-350ML", -1, "berlin", key="damage-1").on_hand == 1


def test_stock_on_a_bundle_is_refused(ledger: Ledger) -> None:
    shop_with(ledger, {"TEAL-MUG-350ML": {"berlin": 4}})
    load_catalog(ledger, "sku,location,on_hand,components\nMUG-PAIR,,,TEAL-MUG-350ML*2\n")

    with pytest.raises(InvalidRequestError, match="bundle"):
        ledger.receive("MUG-PAIR", 1, "berlin")


@pytest.mark.parametrize(
    "sku,location", [("NO-SUCH-SKU", "berlin"), ("TEAL-MUG-350ML", "atlantis")]
)
def test_unknown_names_are_clear_errors(ledger: Ledger, sku: str, location: str) -> None:
    shop_with(ledger, {"TEAL-MUG-350ML": {"berlin": 4}})

    with pytest.raises(NotFoundError):
        ledger.receive(sku, 1, location)


def test_a_count_only_takes_reasons_that_change_on_hand(ledger: Ledger) -> None:
    shop_with(ledger, {"TEAL-MUG-350ML": {"berlin": 4}})

    with pytest.raises(InvalidRequestError, match="reason"):
        ledger.set_stock("TEAL-MUG-350ML", 1, "berlin", reason=MovementReason.ORDER_COMMIT)
