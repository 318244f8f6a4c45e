"""Real signed webhooks for replay: what an emulator delivers, captured on a loopback endpoint."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from stocksync.channels.base import QuantityPush

__all__ = ["Captured", "shopify_order_webhooks"]


@dataclass(frozen=True)
class Captured:
    """One delivery: the path it was posted to, its headers (as signed) and raw body."""

    path: str
    headers: dict[str, str]
    body: bytes


def shopify_order_webhooks(fleet: Any, count: int, say: Callable[[str], None]) -> list[Captured]:
    """``count`` shopper orders on the fleet's ``shopify-main``; its ``orders/create`` deliveries."""
    shopify = fleet.emulators["shopify-main"]
    listings = shopify.listings()
    connector = shopify.connector()
    connector.push_quantities(
        [QuantityPush(lid, 100000, None, refs, sku) for sku, (lid, refs) in listings.items()]
    )
    skus = sorted(listings)
    with _capture() as (capture_url, inbox):
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
    return [c for c in captured if c.headers.get("X-Shopify-Topic") == "orders/create"]


@contextmanager
def _capture() -> Iterator[tuple[str, queue.Queue[Captured]]]:
    """A loopback endpoint that answers 200 and keeps what was posted."""
    inbox: queue.Queue[Captured] = queue.Queue()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            skip = {"host", "content-length", "connection", "accept-encoding"}
            headers = {k: v for k, v in self.headers.items() if k.lower() not in skip}
            inbox.put(Captured(self.path, headers, body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", inbox
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
