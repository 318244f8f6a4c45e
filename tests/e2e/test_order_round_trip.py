"""Issue 4, "must show" 1: a shopper's order on one channel reaches every other channel.

Shopper checkout at an emulator → its webhook (Amazon: ORDER_CHANGE notification) → the receiver
→ the ledger → the sync worker's sync-inventory run → the other emulators show the new count.
"""

from __future__ import annotations

from tests.e2e.stack import AMAZON, MUG, SHOPIFY, STOCK, WOO, Stack, ThreadWorker


def test_an_order_on_each_channel_shows_on_every_other_within_seconds(
    stack: Stack, worker: ThreadWorker
) -> None:
    left = STOCK[MUG]
    assert {name: shop.shown(MUG) for name, shop in stack.shops.items()} == dict.fromkeys(
        stack.shops, left
    )
    for sold_on, units in ((SHOPIFY, 3), (WOO, 2), (AMAZON, 4)):
        order = stack.shop(sold_on).shopper_order({MUG: units})
        assert order.accepted
        stack.wait_converged(timeout_s=30)  # a bound so a stuck sync ends; speed is benchmarked
        left -= units

        shown = {name: shop.shown(MUG) for name, shop in stack.shops.items()}
        assert shown == dict.fromkeys(stack.shops, left), f"after the order on {sold_on}"
        assert stack.order_committed(sold_on, order.order_id or "") == {MUG: units}
    assert stack.committed(MUG) == STOCK[MUG] - left
    assert stack.ledger.verify() == []
