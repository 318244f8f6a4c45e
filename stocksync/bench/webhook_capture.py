"""Real signed webhooks for replay: what an emulator delivers, captured on a loopback endpoint."""

from __future__ import annotations

import queue
import time
from collections.abc import Callable
from typing import Any

from stocksync.channels.base import QuantityPush
from stocksync.sandbox.webhook_endpoint import Delivered, webhook_endpoint

__all__ = ["Captured", "shopify_order_webhooks"]


Captured = Delivered
"""One delivery, with only the headers a replay should send again (see ``_DROPPED``)."""

_DROPPED = frozenset({"host", "content-length", "connection", "accept-encoding"})
"""Headers of the capture's own HTTP exchange, not of the webhook."""


def shopify_order_webhooks(fleet: Any, count: int, say: Callable[[str], None]) -> list[Captured]:
    """``count`` shopper orders on the fleet's ``shopify-main``; its ``orders/create`` deliveries."""
    shopify = fleet.emulators["shopify-main"]
    listings = shopify.listings()
    connector = shopify.connector()
    connector.push_quantities(
        [QuantityPush(lid, 100000, None, refs, sku) for sku, (lid, refs) in listings.items()]
    )
    skus = sorted(listings)
    with webhook_endpoint() as (capture_url, inbox):
        shopify.set_webhook_url(f"{capture_url}/webhooks/shopify/shopify-main")
        say(f"placing {count} Shopify orders to capture their webhooks")
        for n in range(count):
            shopify.shopper_order({skus[n % len(skus)]: 1})
        captured: list[Captured] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                captured.append(inbox.get(timeout=2))
            except queue.Empty:
                break
        shopify.set_webhook_url(None)
    return [
        Captured(c.path, {k: v for k, v in c.headers.items() if k.lower() not in _DROPPED}, c.body)
        for c in captured
        if c.headers.get("X-Shopify-Topic") == "orders/create"
    ]
