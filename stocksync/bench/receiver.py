"""The webhook receiver alone: handling time of real Shopify order webhooks at a fixed rate.

The bodies are the Shopify emulator's own ``orders/create`` deliveries (signed, one per shopper
order), captured once on a loopback endpoint and then replayed to the receiver at ``rate`` per
second from several threads. Each is a new order, so every request claims an inbox row and
records an order in the ledger. Handling time is the client-side time from sending a request to
its complete answer, over loopback.
"""

from __future__ import annotations

import queue
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from stocksync.bench.scratch import scratch_ledger_url
from stocksync.bench.sync_metrics import stats
from stocksync.channels.base import QuantityPush
from stocksync.sandbox.flash_sale import CHANNELS, start_fleet

__all__ = ["print_receiver_report", "run_receiver_bench"]

TARGET_P99_S = 0.050
SKUS = 20


@dataclass(frozen=True)
class _Captured:
    path: str
    headers: dict[str, str]
    body: bytes


@contextmanager
def _capture() -> Iterator[tuple[str, queue.Queue[_Captured]]]:
    """A loopback endpoint that answers 200 and keeps what was posted."""
    inbox: queue.Queue[_Captured] = queue.Queue()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            skip = {"host", "content-length", "connection", "accept-encoding"}
            headers = {k: v for k, v in self.headers.items() if k.lower() not in skip}
            inbox.put(_Captured(self.path, headers, body))
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


def _catalog() -> str:
    rows = [f"RCV-{n:03d},bench-dc,100000,x" for n in range(SKUS)]
    return "\n".join(["sku,location,on_hand,listing:shopify-main", *rows]) + "\n"


def run_receiver_bench(
    database_url: str | None, duration_s: float, rate: float, say: Callable[[str], None]
) -> dict[str, Any]:
    """Capture ``rate × duration_s`` order webhooks, then replay them at ``rate`` per second."""
    count = int(rate * duration_s)
    with (
        tempfile.TemporaryDirectory(prefix="stocksync-bench-") as tmp,
        scratch_ledger_url(database_url, Path(tmp), label="bench_receiver") as url,
    ):
        fleet = start_fleet(url, _catalog(), Path(tmp), channels=CHANNELS[:1])
        try:
            webhooks = _orders_as_webhooks(fleet, count, say)
            say(f"replaying {len(webhooks)} webhooks at {rate:.0f}/s to {fleet.receiver_url}")
            timings, statuses, took = _replay(fleet.receiver_url, webhooks, rate)
        finally:
            fleet.stop()
    result = stats(timings)
    p99 = result["p99_s"]
    return {
        "database": "sqlite" if url.startswith("sqlite") else "postgresql",
        "requests": len(timings),
        "rate_asked_per_s": rate,
        "rate_achieved_per_s": round(len(timings) / took, 1) if took else None,
        "statuses": dict(statuses),
        "handling": result,
        "target_p99_s": TARGET_P99_S,
        "ok": p99 is not None and p99 <= TARGET_P99_S and set(statuses) == {200},
    }


def _orders_as_webhooks(fleet: Any, count: int, say: Callable[[str], None]) -> list[_Captured]:
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
        captured: list[_Captured] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                captured.append(inbox.get(timeout=2))
            except queue.Empty:
                break
        shopify.set_webhook_url(None)
    return [c for c in captured if c.headers.get("X-Shopify-Topic") == "orders/create"]


def _replay(
    base_url: str, webhooks: list[_Captured], rate: float, threads: int = 16
) -> tuple[list[float], Counter[int], float]:
    timings: list[float] = []
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    start = time.monotonic() + 0.2
    jobs: queue.Queue[tuple[float, _Captured] | None] = queue.Queue()
    for n, hook in enumerate(webhooks):
        jobs.put((start + n / rate, hook))

    def send() -> None:
        with httpx.Client(base_url=base_url, timeout=10.0) as client:
            client.get("/healthz")  # open the connection before the clock starts
            while True:
                try:
                    job = jobs.get_nowait()
                except queue.Empty:
                    return
                at, hook = job  # type: ignore[misc]
                if (delay := at - time.monotonic()) > 0:
                    time.sleep(delay)
                sent = time.monotonic()
                answer = client.post(hook.path, content=hook.body, headers=hook.headers)
                done = time.monotonic()
                with lock:
                    timings.append(done - sent)
                    statuses[answer.status_code] += 1

    workers = [threading.Thread(target=send) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return timings, statuses, time.monotonic() - start


def print_receiver_report(doc: dict[str, Any]) -> None:
    from rich.console import Console

    h = doc["handling"]
    Console(highlight=False).print(
        f"receiver on {doc['database']}: {doc['requests']} order webhooks at "
        f"{doc['rate_achieved_per_s']}/s (asked {doc['rate_asked_per_s']:.0f}/s), statuses "
        f"{doc['statuses']}; handling p50 {h['p50_s'] * 1000:.1f} ms, p99 "
        f"{h['p99_s'] * 1000:.1f} ms (target ≤ {doc['target_p99_s'] * 1000:.0f} ms), max "
        f"{h['max_s'] * 1000:.1f} ms"
    )
