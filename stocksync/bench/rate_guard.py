"""What the sales-rate guard costs the order path: the same orders recorded on two scratch
ledgers, one whose channels' guards grow with the rate (``last_seconds``) and one without.

Orders are recorded one after the other from one client, so the per-order time is the order
path's own cost (its statements and the Python between them), not contention.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stocksync.bench.scratch import scratch_ledger_url
from stocksync.domain.model import ChannelPolicy
from stocksync.ledger.catalog import import_catalog
from stocksync.ledger.config import ChannelInfo, add_channel
from stocksync.ledger.db import make_engine
from stocksync.ledger.migrate import upgrade
from stocksync.ledger.results import LineIn
from stocksync.ledger.service import Ledger

__all__ = ["RateGuardReport", "run_rate_guard_bench"]

CHANNELS = (
    ("shopify-main", "shopify", 30),
    ("amazon-eu", "amazon", 20),
    ("woo-site", "woocommerce", 10),
)


@dataclass(frozen=True)
class RateGuardReport:
    database: str
    orders: int
    skus: int
    baseline_ms: float
    guarded_ms: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "database": self.database, "orders": self.orders, "skus": self.skus,
            "ms_per_order_without_guard": round(self.baseline_ms, 3),
            "ms_per_order_with_guard": round(self.guarded_ms, 3),
            "ratio": round(self.guarded_ms / self.baseline_ms, 3),
        }  # fmt: skip


def run_rate_guard_bench(database_url: str | None, orders: int, skus: int) -> RateGuardReport:
    """Per-order milliseconds without and with the guard (baseline first, same process)."""
    with tempfile.TemporaryDirectory() as tmp:
        baseline = _time_orders(database_url, Path(tmp), "rate_off", 0.0, orders, skus)
        guarded = _time_orders(database_url, Path(tmp), "rate_on", 5.0, orders, skus)
    kind = "sqlite" if database_url is None or database_url.startswith("sqlite") else "postgresql"
    return RateGuardReport(kind, orders, skus, baseline, guarded)


def _time_orders(
    database_url: str | None, workdir: Path, label: str, last_seconds: float, orders: int, skus: int
) -> float:
    with scratch_ledger_url(database_url, workdir, label=label) as url:
        engine = make_engine(url)
        try:
            upgrade(engine)
            ledger = Ledger(engine)
            for name, kind, priority in CHANNELS:
                policy = ChannelPolicy(last_units=5, last_seconds=last_seconds)
                info = ChannelInfo(name, kind, priority, policy)
                ledger.call(add_channel, info)
            names = [f"RUSH-{n:03d}" for n in range(skus)]
            header = "sku,location,on_hand," + ",".join(f"listing:{c[0]}" for c in CHANNELS)
            rows = [
                f"{sku},berlin,1000000," + ",".join(f"{c[0]}-{sku}" for c in CHANNELS)
                for sku in names
            ]
            ledger.call(import_catalog, "\n".join([header, *rows]) + "\n")
            for n in range(min(200, orders)):  # warm up: connections, caches, a journal to read
                ledger.record_order("woo-site", f"warm-{n}", [LineIn(names[n % skus], 1)])
            started = time.perf_counter()
            for n in range(orders):
                ledger.record_order("woo-site", f"rush-{n}", [LineIn(names[n % skus], 1)])
            return (time.perf_counter() - started) / orders * 1000
        finally:
            engine.dispose()
