"""Order polling against the emulators: the safety net for webhooks that never came."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select

from stocksync.channels.errors import TransientChannelError
from stocksync.ledger.cursors import read_cursor
from stocksync.ledger.results import LineIn
from stocksync.ledger.service import Ledger
from stocksync.ledger.tables import ChannelRow, InboxEventRow, OrderLineRow, OrderRow
from stocksync.sync.drain import drain
from stocksync.sync.poll import POLL_TOPIC, catch_up_on_conflict, poll_channel, poll_channels
from stocksync.sync.report import Outcome
from tests.integration.push_support import SHOPIFY, WOO, Shops, list_in_ledger, running_shops

MUG = "TEAL-MUG-350ML"
COASTER = "OAK-COASTER"
UNLISTED = "LINEN-APRON"


@pytest.fixture
def shops(ledger: Ledger) -> Iterator[Shops]:
    with running_shops([MUG, COASTER]) as running:
        list_in_ledger(ledger, running, {MUG: 5, COASTER: 9})
        drain(ledger, running.connectors, worker_id="setup")
        yield running


def _woo_order(shops: Shops, product_id: int, quantity: int) -> str:
    body = {"lines": [{"product_id": product_id, "quantity": quantity}]}
    answer = httpx.post(f"{shops.urls[WOO]}/_sandbox/shopper/orders", json=body, timeout=5)
    answer.raise_for_status()
    return str(answer.json()["id"])


def test_an_order_whose_webhook_never_came_is_recorded_by_the_poll(
    ledger: Ledger, shops: Shops
) -> None:
    order_id = _woo_order(shops, shops.products[MUG], 2)

    report = poll_channel(ledger, WOO, shops.connectors[WOO])

    assert report.applied == [order_id] and report.flagged == {}
    assert ledger.order(WOO, order_id).lines[0].committed == 2
    assert ledger.run(lambda s: read_cursor(s, WOO)) == report.cursor_after is not None
    assert ledger.verify() == []

    drain(ledger, shops.connectors, worker_id="w1")
    assert shops.shows(MUG) == {SHOPIFY: 3, WOO: 3}


def test_polling_again_changes_nothing(ledger: Ledger, shops: Shops) -> None:
    _woo_order(shops, shops.products[MUG], 1)
    first = poll_channel(ledger, WOO, shops.connectors[WOO])

    again = poll_channel(ledger, WOO, shops.connectors[WOO])

    assert len(first.applied) == 1 and again.applied == []
    assert again.cursor_before == first.cursor_after
    assert ledger.run(lambda s: read_cursor(s, WOO)) == again.cursor_after


def test_an_order_for_an_unknown_product_is_kept_flagged_and_the_poll_moves_on(
    ledger: Ledger, shops: Shops
) -> None:
    apron = shops.woo.add_product(UNLISTED, 4).id
    stray = _woo_order(shops, apron, 1)
    good = _woo_order(shops, shops.products[COASTER], 1)

    report = poll_channel(ledger, WOO, shops.connectors[WOO])

    assert report.applied == [good]
    assert UNLISTED in report.flagged[stray]
    flagged = ledger.run(
        lambda s: s.execute(
            select(InboxEventRow.status, InboxEventRow.topic).where(
                InboxEventRow.event_id.startswith(f"poll:{stray}:")
            )
        ).all()
    )
    assert flagged == [("flagged", POLL_TOPIC)]


def test_a_channel_that_is_down_keeps_its_cursor_and_does_not_stop_the_others(
    ledger: Ledger, shops: Shops
) -> None:
    _woo_order(shops, shops.products[MUG], 1)
    shops.woo.faults.error_rate = 1.0

    with pytest.raises(TransientChannelError):
        poll_channel(ledger, WOO, shops.connectors[WOO])
    reports = poll_channels(
        ledger, {WOO: shops.connectors[WOO], SHOPIFY: shops.connectors[SHOPIFY]}
    )

    assert ledger.run(lambda s: read_cursor(s, WOO)) is None
    assert [(r.channel, r.error is not None) for r in reports] == [(WOO, True), (SHOPIFY, False)]


def test_unheard_sales_met_by_a_push_make_the_channels_orders_read(
    ledger: Ledger, shops: Shops
) -> None:
    poll_channel(ledger, SHOPIFY, shops.connectors[SHOPIFY])  # polling keeps the cursor recent
    sale = {"lines": [{"inventory_item_id": shops.items[MUG], "quantity": 2}]}
    answer = httpx.post(f"{shops.urls[SHOPIFY]}/_sandbox/shopper/orders", json=sale, timeout=5)
    answer.raise_for_status()  # Shopify now shows 3; its webhook never reaches us
    ledger.record_order("amazon-eu", "114-1", [LineIn(MUG, 1)])
    hook = catch_up_on_conflict(ledger, shops.connectors)

    first = drain(ledger, shops.connectors, worker_id="w1", on_conflict=hook)
    drain(ledger, shops.connectors, worker_id="w1", on_conflict=hook)

    # 4 against 5 met 3: rebased at once to 2 against 3, and the hook fetched the order behind it
    outcomes = [(r.sku, r.outcome, r.quantity) for r in first.channels[SHOPIFY].records]
    assert outcomes == [(MUG, Outcome.PUSHED, 2)]
    assert shops.shows(MUG) == {SHOPIFY: 2, WOO: 2}
    [shopify_order] = [o for o in _orders(ledger) if o[0] == SHOPIFY]
    assert shopify_order[1] == 2
    assert ledger.verify() == []


def _orders(ledger: Ledger) -> list[tuple[str, int]]:
    return ledger.run(
        lambda s: s.execute(
            select(ChannelRow.name, OrderLineRow.committed)
            .join(OrderRow, OrderRow.channel_id == ChannelRow.id)
            .join(OrderLineRow, OrderLineRow.order_id == OrderRow.id)
        ).all()
    )
