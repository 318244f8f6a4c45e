"""The Shopify emulator delivers webhooks from several senders when asked, as Shopify does."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from stocksync.sandbox.shopify_state import ShopifyState


@contextmanager
def slow_endpoint(seconds: float) -> Iterator[tuple[str, dict[str, int]]]:
    """A receiver that takes ``seconds`` per delivery and counts how many were in flight at once."""
    seen = {"in_flight": 0, "most": 0, "delivered": 0}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            with lock:
                seen["in_flight"] += 1
                seen["most"] = max(seen["most"], seen["in_flight"])
            time.sleep(seconds)
            with lock:
                seen["in_flight"] -= 1
                seen["delivered"] += 1
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/webhooks", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.parametrize(("workers", "most_in_flight"), [(1, 1), (4, 4)])
def test_webhooks_go_out_from_as_many_senders_as_configured(
    workers: int, most_in_flight: int
) -> None:
    with slow_endpoint(0.2) as (url, seen):
        state = ShopifyState(webhook_url=url, webhook_workers=workers)
        for n in range(8):
            state.webhooks.publish("orders/create", {"id": n})
        state.webhooks.stop()

    assert seen["delivered"] == 8
    assert [d.status for d in state.deliveries] == [200] * 8
    assert seen["most"] == most_in_flight
