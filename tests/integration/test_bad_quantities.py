"""Quantities the ledger cannot hold are refused by the ledger itself, on both backends, before
anything is written; a channel's line of no units is never stored as a contradictory line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from stocksync.channels.shopify import order_from_rest
from stocksync.domain.errors import CatalogError, InvalidRequestError, QuantityError
from stocksync.domain.model import MAX_QUANTITY, LineStatus, OrderStatus
from stocksync.ledger.ingest import ingest_order
from stocksync.ledger.results import LineIn
from stocksync.ledger.service import Ledger
from stocksync.ledger.tables import OrderLineRow, OrderRow
from tests.factories import load_catalog, shop_with
from tests.integration.test_orders import stock_of

SAMPLES = Path("/work/shared/samples")
TEAL = "TEAL-MUG-350ML"


@pytest.fixture
def teal_shop(ledger: Ledger) -> Ledger:
    shop_with(ledger, {TEAL: {"berlin": 5}})
    return ledger


def rows(ledger: Ledger, table: Any) -> list[Any]:
    return list(ledger.run(lambda s: s.execute(select(table)).all()))


# --- order lines ----------------------------------------------------------------------------------


@pytest.mark.parametrize("quantity", [0, -1, MAX_QUANTITY + 1, 2**40])
def test_an_order_line_outside_one_to_the_32_bit_limit_is_refused_and_writes_nothing(
    teal_shop: Ledger, quantity: int
) -> None:
    lines = [LineIn(TEAL, 1), LineIn(TEAL, quantity)]

    with pytest.raises(QuantityError) as refused:
        teal_shop.record_order("shopify-main", "1001", lines)

    assert (refused.value.quantity, refused.value.low, refused.value.high) == (
        quantity,
        1,
        MAX_QUANTITY,
    )
    assert "line 2" in str(refused.value) and "'1001'" in str(refused.value)
    assert isinstance(refused.value, InvalidRequestError)
    assert rows(teal_shop, OrderRow) == []
    assert stock_of(teal_shop, TEAL) == {"berlin": (5, 0)}


def test_the_largest_line_the_columns_hold_is_recorded_short(teal_shop: Ledger) -> None:
    result = teal_shop.record_order("shopify-main", "1001", [LineIn(TEAL, MAX_QUANTITY)])

    [line] = result.lines
    assert (line.quantity, line.committed, line.short) == (MAX_QUANTITY, 5, MAX_QUANTITY - 5)
    assert teal_shop.verify() == []


# --- stock operations -----------------------------------------------------------------------------


@pytest.mark.parametrize("qty", [0, -3, MAX_QUANTITY + 1, 99_999_999_999])
def test_a_receipt_outside_one_to_the_limit_is_refused(teal_shop: Ledger, qty: int) -> None:
    with pytest.raises(QuantityError) as refused:
        teal_shop.receive(TEAL, qty, "berlin")

    assert (refused.value.quantity, refused.value.low) == (qty, 1)
    assert stock_of(teal_shop, TEAL) == {"berlin": (5, 0)}


@pytest.mark.parametrize("qty", [-3, MAX_QUANTITY + 1])
def test_a_count_outside_zero_to_the_limit_is_refused(teal_shop: Ledger, qty: int) -> None:
    with pytest.raises(QuantityError) as refused:
        teal_shop.set_stock(TEAL, qty, "berlin")

    assert (refused.value.quantity, refused.value.low) == (qty, 0)
    assert stock_of(teal_shop, TEAL) == {"berlin": (5, 0)}


@pytest.mark.parametrize("delta", [-MAX_QUANTITY - 1, MAX_QUANTITY + 1])
def test_an_adjustment_beyond_the_limit_is_refused(teal_shop: Ledger, delta: int) -> None:
    with pytest.raises(QuantityError):
        teal_shop.adjust(TEAL, delta, "berlin")

    assert stock_of(teal_shop, TEAL) == {"berlin": (5, 0)}


@pytest.mark.parametrize(
    "change",
    [
        lambda ledger: ledger.receive(TEAL, MAX_QUANTITY - 4, "berlin"),
        lambda ledger: ledger.adjust(TEAL, MAX_QUANTITY - 4, "berlin"),
    ],
    ids=["receive", "adjust"],
)
def test_a_change_that_would_take_on_hand_past_the_limit_is_refused(
    teal_shop: Ledger, change: Any
) -> None:
    with pytest.raises(QuantityError) as refused:
        change(teal_shop)

    assert refused.value.quantity == MAX_QUANTITY + 1
    assert "berlin" in str(refused.value) and TEAL in str(refused.value)
    assert stock_of(teal_shop, TEAL) == {"berlin": (5, 0)}


def test_on_hand_may_reach_the_limit_exactly(teal_shop: Ledger) -> None:
    assert teal_shop.receive(TEAL, MAX_QUANTITY - 5, "berlin").on_hand == MAX_QUANTITY
    assert teal_shop.adjust(TEAL, -MAX_QUANTITY, "berlin").on_hand == 0
    assert teal_shop.set_stock(TEAL, MAX_QUANTITY, "berlin").on_hand == MAX_QUANTITY
    assert teal_shop.verify() == []


# --- channel orders with a line of no units -------------------------------------------------------


def shopify_order(quantities: list[int]) -> dict[str, Any]:
    """The orders/create sample as a live order of TEAL with these line quantities."""
    order = json.loads((SAMPLES / "shopify-orders-create.json").read_text())
    order |= {"cancelled_at": None, "cancel_reason": None, "financial_status": "paid"}
    template = order["line_items"][0]
    order["line_items"] = [
        template | {"id": 866550311766439020 + n, "sku": TEAL, "quantity": qty}
        for n, qty in enumerate(quantities)
    ]
    return order


def test_a_channel_line_of_no_units_is_not_stored_and_the_rest_of_the_order_is(
    teal_shop: Ledger,
) -> None:
    """Shopify keeps a line an order edit removed, with quantity 0."""
    order = order_from_rest("shopify-main", shopify_order([2, 0, 1]))

    done = teal_shop.run(lambda s: ingest_order(s, "shopify-main", order))

    assert done.order.status is OrderStatus.COMMITTED
    assert [(ln.quantity, ln.committed, ln.external_line_id) for ln in done.order.lines] == [
        (2, 2, "866550311766439020"),
        (1, 1, "866550311766439022"),
    ]
    assert all(quantity > 0 for _, _, _, quantity in _line_rows(teal_shop))
    # its next update (the same lines) pairs with what was recorded and changes nothing
    again = teal_shop.run(lambda s: ingest_order(s, "shopify-main", order))
    assert not again.changed
    assert stock_of(teal_shop, TEAL) == {"berlin": (5, 3)}
    assert teal_shop.verify() == []


def test_a_channel_order_of_no_units_at_all_is_recorded_cancelled_holding_nothing(
    teal_shop: Ledger,
) -> None:
    order = order_from_rest("shopify-main", shopify_order([0]))

    done = teal_shop.run(lambda s: ingest_order(s, "shopify-main", order))

    assert (done.order.status, done.order.lines) == (OrderStatus.CANCELLED, ())
    assert _line_rows(teal_shop) == []
    assert stock_of(teal_shop, TEAL) == {"berlin": (5, 0)}
    assert teal_shop.verify() == []


def test_a_line_of_no_units_of_an_unknown_sku_does_not_refuse_the_order(
    teal_shop: Ledger,
) -> None:
    payload = shopify_order([1, 0])
    payload["line_items"][1] |= {"sku": "GONE-FROM-THE-CATALOG", "variant_id": None}
    order = order_from_rest("shopify-main", payload)

    done = teal_shop.run(lambda s: ingest_order(s, "shopify-main", order))

    assert [(ln.sku, ln.status) for ln in done.order.lines] == [(TEAL, LineStatus.COMMITTED)]


def _line_rows(ledger: Ledger) -> list[tuple[int, int, str, int]]:
    return [
        tuple(r)
        for r in ledger.run(
            lambda s: s.execute(
                select(
                    OrderLineRow.order_id,
                    OrderLineRow.line_no,
                    OrderLineRow.status,
                    OrderLineRow.quantity,
                )
            ).all()
        )
    ]


def test_a_channel_line_beyond_the_limit_refuses_the_order_and_writes_nothing(
    teal_shop: Ledger,
) -> None:
    """The receiver stores such an event flagged (any refusal of the ledger is)."""
    order = order_from_rest("shopify-main", shopify_order([1, 2**40]))

    with pytest.raises(QuantityError):
        teal_shop.run(lambda s: ingest_order(s, "shopify-main", order))

    assert rows(teal_shop, OrderRow) == []


def test_a_catalog_number_beyond_the_ledgers_counters_is_one_row_error(ledger: Ledger) -> None:
    with pytest.raises(
        CatalogError, match=r"row 2, column 'reorder_point': 99,999,999,999 is more"
    ):
        load_catalog(ledger, "sku,location,on_hand,reorder_point\nTEAL-MUG-350ML,b,1,99999999999\n")
