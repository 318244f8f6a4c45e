"""Issue 4, "must show" 3 and 4: webhooks that arrive twice, out of order, or not at all.

Duplicates and reordered deliveries must not count an order twice (the inbox and the order keys
make them no-ops); a dropped webhook is caught by the next ``poll-orders`` run, which reads the
channel's orders through the same inbox. Either way every channel ends showing the same count.
"""

from __future__ import annotations

import asyncio
import time

from flows.poll_orders import poll_orders
from tests.e2e.stack import AMAZON, COASTER, LAMP, MUG, SHOPIFY, STOCK, WOO, Stack, ThreadWorker

AMAZON_LISTING_DELAY_S = 180
"""Amazon's getOrders only lists orders older than two minutes: move the sandbox clock past it."""


def test_duplicate_and_reordered_webhooks_count_each_order_once(
    stack: Stack, worker: ThreadWorker
) -> None:
    for shop in stack.shops.values():
        shop.set_faults(duplicate_webhooks=True, reorder_webhooks=True)
    lines = [{MUG: 2}, {COASTER: 1, MUG: 1}, {LAMP: 3}]
    placed = [
        (name, shop.shopper_order(line).order_id or "", line)
        for name, shop in stack.shops.items()
        for line in lines
    ]
    for shop in stack.shops.values():  # one more order each, to release a delivery held back
        shop.clear_faults()
    placed += [(name, shop.shopper_order({MUG: 1}).order_id or "", {MUG: 1})
               for name, shop in stack.shops.items()]  # fmt: skip

    stack.wait_converged(timeout_s=30)

    for channel, order_id, line in placed:
        assert stack.order_committed(channel, order_id) == line, (channel, order_id)
    for sku in (MUG, COASTER, LAMP):
        units = sum(line.get(sku, 0) for _, _, line in placed)
        assert stack.committed(sku) == units
        assert {n: s.shown(sku) for n, s in stack.shops.items()} == dict.fromkeys(
            stack.shops, STOCK[sku] - units
        )
    duplicates = stack.received("duplicate")
    assert all(duplicates.get(name, 0) > 0 for name in stack.shops), duplicates
    assert stack.ledger.verify() == []


def test_a_dropped_webhook_is_caught_by_the_next_order_poll(
    stack: Stack, worker: ThreadWorker
) -> None:
    for shop in stack.shops.values():
        shop.set_faults(drop_webhooks=True)
    sold = {SHOPIFY: {MUG: 2}, WOO: {COASTER: 3}, AMAZON: {LAMP: 1}}
    orders = {
        name: stack.shop(name).shopper_order(line).order_id or "" for name, line in sold.items()
    }
    time.sleep(1.0)  # what the webhooks would have brought by now

    assert all(stack.order_committed(name, orders[name]) == {} for name in sold)
    assert stack.shop(WOO).shown(MUG) == STOCK[MUG]
    assert stack.received("applied") == {}

    stack.shop(AMAZON).advance_clock(AMAZON_LISTING_DELAY_S)
    polled = asyncio.run(
        poll_orders(database_url=stack.database_url, channels_file=str(stack.channels_file))
    )
    stack.wait_converged(timeout_s=20)

    assert {name: polled[name]["applied"] for name in sold} == {
        name: [orders[name]] for name in sold
    }
    for name, line in sold.items():
        assert stack.order_committed(name, orders[name]) == line
        ((sku, units),) = line.items()
        assert {n: s.shown(sku) for n, s in stack.shops.items()} == dict.fromkeys(
            stack.shops, STOCK[sku] - units
        )
    assert stack.ledger.verify() == []
