"""What a catalog file changes in a ledger that already holds some of it."""

from __future__ import annotations

from stocksync.domain.catalog_diff import (
    CountDifference,
    ListingIdChange,
    plan_listings,
    plan_stock,
)

MUG, COASTER, CANDLE = "TEAL-MUG-350ML", "OAK-COASTER", "BEESWAX-CANDLE"


def test_rows_the_ledger_lacks_are_new_and_take_the_files_count() -> None:
    plan = plan_stock({(MUG, "berlin"): 2, (MUG, "leeds"): 4}, {(MUG, "berlin"): 2})

    assert plan.new == {(MUG, "leeds"): 4}
    assert plan.same == [(MUG, "berlin")]
    assert plan.differ == []
    assert plan.to_set(set_stock=False) == {(MUG, "leeds"): 4}


def test_a_count_the_ledger_moved_since_is_reported_and_kept_unless_asked() -> None:
    plan = plan_stock({(MUG, "berlin"): 2, (COASTER, "berlin"): 40}, {(MUG, "berlin"): 19})

    assert plan.differ == [CountDifference(MUG, "berlin", ledger_on_hand=19, file_on_hand=2)]
    assert plan.to_set(set_stock=False) == {(COASTER, "berlin"): 40}
    assert plan.to_set(set_stock=True) == {(COASTER, "berlin"): 40, (MUG, "berlin"): 2}


def test_ledger_rows_the_file_does_not_name_are_left_alone() -> None:
    plan = plan_stock({(MUG, "berlin"): 2}, {(MUG, "berlin"): 2, (MUG, "leeds"): 7})

    assert (plan.new, plan.differ, plan.same) == ({}, [], [(MUG, "berlin")])


def test_differences_come_in_sku_then_location_order() -> None:
    plan = plan_stock(
        {(MUG, "leeds"): 1, (COASTER, "berlin"): 1, (MUG, "berlin"): 1},
        {(MUG, "leeds"): 5, (COASTER, "berlin"): 5, (MUG, "berlin"): 5},
    )
    assert [(d.sku, d.location) for d in plan.differ] == [
        (COASTER, "berlin"),
        (MUG, "berlin"),
        (MUG, "leeds"),
    ]


def test_listings_are_new_changed_or_the_same() -> None:
    plan = plan_listings(
        {("woo-site", MUG): "101", ("woo-site", COASTER): "202", ("amazon-eu", CANDLE): "B0C"},
        {("woo-site", MUG): "101", ("woo-site", COASTER): "999"},
    )

    assert plan.new == {("amazon-eu", CANDLE): "B0C"}
    assert plan.changed == [ListingIdChange("woo-site", COASTER, old_id="999", new_id="202")]
    assert plan.same == [("woo-site", MUG)]
