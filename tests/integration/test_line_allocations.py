"""Every operation keeps each line's allocation rows equal to the journal, on both backends."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import case, func, select, text, update

from stocksync.ledger.orders import cancel_order
from stocksync.ledger.results import LineIn
from stocksync.ledger.service import Ledger
from stocksync.ledger.tables import LineAllocationRow, LocationRow, MovementRow, SkuRow
from tests.factories import add_locations, load_catalog, shop_with
from tests.integration.test_orders import stock_of

GIFT_SET = (
    "sku,location,on_hand,components,listing:shopify-main\n"
    "MUG-GIFT-SET,,,TEAL-MUG-350ML*1;OAK-COASTER*2,gid-set\n"
)

Key = tuple[int, int, str, str]


def allocations(ledger: Ledger) -> dict[Key, tuple[int, int, int]]:
    """(order id, line, SKU, location) → (committed, shipped, returned), as stored."""
    a = LineAllocationRow
    stmt = (
        select(a.order_id, a.line_no, SkuRow.sku, LocationRow.name, a.committed, a.shipped,
               a.returned)
        .join(SkuRow, SkuRow.id == a.sku_id)
        .join(LocationRow, LocationRow.id == a.location_id)
    )  # fmt: skip
    rows = ledger.run(lambda s: s.execute(stmt).all())
    return {(o, ln, sku, loc): (c, sh, r) for o, ln, sku, loc, c, sh, r in rows}


def journal(ledger: Ledger) -> tuple[dict[Key, tuple[int, int]], dict[tuple[int, int, str], int]]:
    """What the journal says: (committed, shipped) per allocation an order commit made, and the
    units restocked per (order, line, SKU) wherever they went."""
    m = MovementRow
    stmt = (
        select(
            m.order_id, m.line_no, SkuRow.sku, LocationRow.name, m.reason,
            func.sum(m.delta_committed), func.sum(m.delta_on_hand),
        )
        .join(SkuRow, SkuRow.id == m.sku_id)
        .join(LocationRow, LocationRow.id == m.location_id)
        .where(m.order_id.is_not(None))
        .group_by(m.order_id, m.line_no, SkuRow.sku, LocationRow.name, m.reason)
    )  # fmt: skip
    held: dict[Key, list[int]] = defaultdict(lambda: [0, 0])
    committed_at: set[Key] = set()
    restocked: dict[tuple[int, int, str], int] = defaultdict(int)
    for order, line, sku, loc, reason, committed, on_hand in ledger.run(
        lambda s: s.execute(stmt).all()
    ):
        held[(order, line, sku, loc)][0] += int(committed)
        if reason == "order_commit":
            committed_at.add((order, line, sku, loc))
        if reason == "shipment":
            held[(order, line, sku, loc)][1] -= int(on_hand)
        if reason == "return_restock":
            restocked[(order, line, sku)] += int(on_hand)
    return {k: (held[k][0], held[k][1]) for k in committed_at}, dict(restocked)


def assert_rows_match_the_journal(ledger: Ledger) -> dict[Key, tuple[int, int, int]]:
    rows = allocations(ledger)
    held, restocked = journal(ledger)
    assert {k: v[:2] for k, v in rows.items()} == held
    returned: dict[tuple[int, int, str], int] = defaultdict(int)
    for (order, line, sku, _), (_, shipped, back) in rows.items():
        assert 0 <= back <= shipped
        returned[(order, line, sku)] += back
    assert {k: v for k, v in returned.items() if v} == restocked
    assert ledger.verify() == []
    return rows


def test_every_operation_keeps_the_allocations_equal_to_the_journal(ledger: Ledger) -> None:
    shop_with(ledger, {"TEAL-MUG-350ML": {"berlin": 3, "leeds": 4}, "OAK-COASTER": {"berlin": 2, "leeds": 2}})  # fmt: skip
    load_catalog(ledger, GIFT_SET)
    add_locations(ledger, "munich")

    # mugs: 4 from Leeds, 1 from Berlin; gift sets: 2 of 3 (mugs from Berlin, coasters split)
    ledger.record_order(
        "shopify-main", "1001", [LineIn("TEAL-MUG-350ML", 5), LineIn("MUG-GIFT-SET", 3)]
    )
    rows = assert_rows_match_the_journal(ledger)
    assert sorted(rows.values()) == [(1, 0, 0), (2, 0, 0), (2, 0, 0), (2, 0, 0), (4, 0, 0)]

    ledger.run(
        lambda s: cancel_order(
            s, channel="shopify-main", external_id="1001", key="evt-cancel-1", line_units={2: 2}
        )
    )
    ledger.cancel_order(
        "shopify-main", "1001", key="evt-cancel-2", quantities={"TEAL-MUG-350ML": 1}
    )
    assert_rows_match_the_journal(ledger)

    ledger.ship_order(
        "shopify-main", "1001", key="ship-1", quantities={"TEAL-MUG-350ML": 3, "MUG-GIFT-SET": 1}
    )
    assert_rows_match_the_journal(ledger)

    ledger.restock_return("shopify-main", "1001", "TEAL-MUG-350ML", 1, key="rma-1")
    ledger.restock_return(
        "shopify-main", "1001", "TEAL-MUG-350ML", 1, key="rma-2", location="munich"
    )
    ledger.restock_return("shopify-main", "1001", "MUG-GIFT-SET", 1, key="rma-3", location="munich")
    rows = assert_rows_match_the_journal(ledger)
    assert stock_of(ledger, "TEAL-MUG-350ML")["munich"] == (2, 0)
    assert not any(loc == "munich" for _, _, _, loc in rows)  # counted where they shipped from

    ledger.ship_order("shopify-main", "1001")
    ledger.restock_return("shopify-main", "1001", "TEAL-MUG-350ML", 1, key="rma-4")
    assert_rows_match_the_journal(ledger)


def test_a_count_below_commitments_releases_allocations_as_it_releases_the_journal(
    ledger: Ledger,
) -> None:
    shop_with(ledger, {"TEAL-MUG-350ML": {"berlin": 2, "leeds": 3}, "OAK-COASTER": {"berlin": 2, "leeds": 1}})  # fmt: skip
    load_catalog(ledger, GIFT_SET)
    ledger.record_order("shopify-main", "1001", [LineIn("TEAL-MUG-350ML", 4)])
    ledger.record_order("shopify-main", "1002", [LineIn("MUG-GIFT-SET", 1)])

    ledger.set_stock("OAK-COASTER", 0, "berlin")
    ledger.set_stock("TEAL-MUG-350ML", 1, "leeds")

    assert_rows_match_the_journal(ledger)


def test_verify_reports_an_allocation_that_differs_from_the_journal(ledger: Ledger) -> None:
    shop_with(ledger, {"TEAL-MUG-350ML": {"berlin": 5}})
    ledger.record_order("shopify-main", "1001", [LineIn("TEAL-MUG-350ML", 2)])
    ledger.ship_order("shopify-main", "1001", key="ship-1", quantities={"TEAL-MUG-350ML": 1})

    a = LineAllocationRow.__table__  # type: ignore[attr-defined]
    ledger.run(lambda s: s.execute(update(a).values(committed=a.c.committed + 1)))

    [mismatch] = ledger.verify()
    assert (mismatch.kind, mismatch.subject, mismatch.field) == (
        "allocation", "shopify-main/1001#1/TEAL-MUG-350ML@berlin", "committed",
    )  # fmt: skip
    assert (mismatch.expected, mismatch.actual) == (1, 2)

    ledger.run(lambda s: s.execute(text("DELETE FROM line_allocations")))
    assert {(m.field, m.expected, m.actual) for m in ledger.verify()} == {
        ("committed", 1, 0),
        ("shipped", 1, 0),
    }


def test_a_return_recorded_against_the_wrong_allocation_is_reported(ledger: Ledger) -> None:
    shop_with(ledger, {"TEAL-MUG-350ML": {"berlin": 1, "leeds": 1}})
    ledger.record_order("shopify-main", "1001", [LineIn("TEAL-MUG-350ML", 2)])
    ledger.ship_order("shopify-main", "1001")
    ledger.restock_return("shopify-main", "1001", "TEAL-MUG-350ML", 1, key="rma-1")

    a = LineAllocationRow.__table__  # type: ignore[attr-defined]
    moved = case((a.c.returned == 1, 0), else_=1)
    ledger.run(lambda s: s.execute(update(a).values(returned=moved)))

    assert sorted((m.subject, m.field, m.expected, m.actual) for m in ledger.verify()) == [
        ("shopify-main/1001#1/TEAL-MUG-350ML@berlin", "returned", 1, 0),
        ("shopify-main/1001#1/TEAL-MUG-350ML@leeds", "returned", 0, 1),
    ]
