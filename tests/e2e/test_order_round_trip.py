"""Issue 4, "must show" 1: a shopper's order on one channel reaches every other channel.

Shopper checkout at an emulator → its webhook (Amazon: ORDER_CHANGE notification) → the receiver
→ the ledger → the sync worker's sync-inventory run → the other emulators show the new count.
"""

from __future__ import annotations

import pytest

from tests.e2e.stack import AMAZON, MUG, SHOPIFY, STOCK, WOO, Stack, ThreadWorker, wait_until


@pytest.mark.parametrize("sold_on", [SHOPIFY, WOO, AMAZON])
def test_an_order_on_one_channel_shows_on_every_other_within_seconds(
    stack: Stack, worker: ThreadWorker, sold_on: str
) -> None:
    assert {name: shop.shown(MUG) for name, shop in stack.shops.items()} == dict.fromkeys(
        stack.shops, STOCK[MUG]
    )

    order = stack.shop(sold_on).shopper_order({MUG: 3})
    assert order.accepted
    took = stack.wait_converged(timeout_s=20)

    assert {name: shop.shown(MUG) for name, shop in stack.shops.items()} == dict.fromkeys(
        stack.shops, STOCK[MUG] - 3
    )
    assert stack.order_committed(sold_on, order.order_id or "") == {MUG: 3}
    assert stack.ledger.verify() == []
    assert took < 15, f"the order took {took:.1f} s to reach every channel"
    wait_until(lambda: True, 0)
