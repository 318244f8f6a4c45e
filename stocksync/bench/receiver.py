"""The webhook receiver alone: handling time of real Shopify order webhooks at a fixed rate.

The bodies are the Shopify emulator's own ``orders/create`` deliveries (signed, one per shopper
order), captured once on a loopback endpoint. Then the emulator stops, ``stocksync serve`` starts
in a process of its own on the same (scratch) ledger, and this process replays the bodies to it
open-loop at ``rate`` per second (``stocksync.bench.open_loop``), so the sender's CPU is not the
receiver's. Each is a new order: every request claims an inbox row and records an order.
Handling time is client side, from sending a request to its complete answer over loopback; the
receiver's own time (its ``Server-Timing`` header) is reported beside it.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stocksync.bench.fleet import CHANNELS, start_fleet
from stocksync.bench.open_loop import replay
from stocksync.bench.scratch import scratch_ledger_url
from stocksync.bench.sync_metrics import percentile
from stocksync.bench.webhook_capture import shopify_order_webhooks
from stocksync.sandbox.receiver_process import served_receiver

__all__ = ["print_receiver_report", "run_receiver_bench"]

TARGET_P99_S = 0.050
SKUS = 20


def _catalog() -> str:
    rows = [f"RCV-{n:03d},bench-dc,100000,x" for n in range(SKUS)]
    return "\n".join(["sku,location,on_hand,listing:shopify-main", *rows]) + "\n"


def run_receiver_bench(
    database_url: str | None,
    duration_s: float,
    rate: float,
    say: Callable[[str], None],
    *,
    workers: int = 1,
) -> dict[str, Any]:
    """Capture ``rate × duration_s`` order webhooks, then replay them at ``rate`` per second to
    ``stocksync serve --workers workers``."""
    count = int(rate * duration_s)
    with (
        tempfile.TemporaryDirectory(prefix="stocksync-bench-") as tmp,
        scratch_ledger_url(database_url, Path(tmp), label="bench_receiver") as url,
    ):
        fleet = start_fleet(url, _catalog(), Path(tmp), channels=CHANNELS[:1])
        try:
            webhooks = shopify_order_webhooks(fleet, count, say)
            secret = fleet.emulators["shopify-main"].connector_fields()["webhook_secret"]
        finally:
            fleet.stop()
        log = Path(tmp) / "receiver.log"
        with served_receiver(url, {"shopify-main": str(secret)}, log, workers=workers) as served:
            say(f"replaying {len(webhooks)} webhooks at {rate:.0f}/s ({workers} worker(s))")
            cpu_before, sender_before = served.cpu_s(), time.process_time()
            sent, took = replay(served.base_url, webhooks, rate)
            cpu_after, sender_cpu = served.cpu_s(), time.process_time() - sender_before
    statuses = Counter(s.status for s in sent)
    client = _stats([s.client_s for s in sent])
    server = _stats([s.server_s for s in sent if s.server_s is not None])
    p99 = client["p99_s"]
    return {
        "database": "sqlite" if url.startswith("sqlite") else "postgresql",
        "workers": workers,
        "requests": len(sent),
        "rate_asked_per_s": rate,
        "rate_achieved_per_s": round(len(sent) / took, 1) if took else None,
        "statuses": dict(statuses),
        "handling": client,
        "server_time": server,
        "server_cpu_ms_per_request": (
            round((cpu_after - cpu_before) * 1000 / len(sent), 2)
            if cpu_before is not None and cpu_after is not None and sent
            else None
        ),
        "sender_cpu_ms_per_request": round(sender_cpu * 1000 / len(sent), 2) if sent else None,
        "send_late_max_s": round(max((s.late_s for s in sent), default=0.0), 4),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "target_p99_s": TARGET_P99_S,
        "ok": p99 is not None and p99 <= TARGET_P99_S and set(statuses) == {200},
    }


def _stats(values: list[float]) -> dict[str, float | int | None]:
    """count, p50, p99, max (seconds, to 0.1 ms)."""

    def r(v: float | None) -> float | None:
        return None if v is None else round(v, 4)

    return {
        "count": len(values),
        "p50_s": r(percentile(values, 50)),
        "p99_s": r(percentile(values, 99)),
        "max_s": r(max(values) if values else None),
    }


def print_receiver_report(doc: dict[str, Any]) -> None:
    from rich.console import Console

    h, s = doc["handling"], doc["server_time"]
    Console(highlight=False).print(
        f"receiver on {doc['database']} ({doc['workers']} worker(s)): {doc['requests']} order "
        f"webhooks at {doc['rate_achieved_per_s']}/s (asked {doc['rate_asked_per_s']:.0f}/s), "
        f"statuses {doc['statuses']}; handling p50 {_ms(h['p50_s'])}, p99 {_ms(h['p99_s'])} "
        f"(target ≤ {doc['target_p99_s'] * 1000:.0f} ms), max {_ms(h['max_s'])}; server time "
        f"p50 {_ms(s['p50_s'])}, p99 {_ms(s['p99_s'])}; server CPU "
        f"{doc['server_cpu_ms_per_request']} ms per webhook (sender "
        f"{doc['sender_cpu_ms_per_request']} ms); sends late ≤ "
        f"{_ms(doc['send_late_max_s'])}; load {doc['load_average']}"
    )


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.1f} ms"
