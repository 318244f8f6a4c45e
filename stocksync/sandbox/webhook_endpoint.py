"""A loopback endpoint that answers every POST 200 and keeps what was delivered.

For the channel contract tests (what an emulator sends) and for benchmarks that replay real
signed webhooks (``stocksync.bench.webhook_capture``).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["Delivered", "webhook_endpoint"]


@dataclass(frozen=True)
class Delivered:
    """One delivery: the path it was posted to, its headers (as signed) and raw body."""

    path: str
    headers: dict[str, str]
    body: bytes


@contextmanager
def webhook_endpoint(path: str = "") -> Iterator[tuple[str, queue.Queue[Delivered]]]:
    """(URL to deliver to, ending in ``path``; queue of what arrived), served until the block ends."""
    inbox: queue.Queue[Delivered] = queue.Queue()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            inbox.put(Delivered(self.path, dict(self.headers.items()), body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{path}", inbox
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
