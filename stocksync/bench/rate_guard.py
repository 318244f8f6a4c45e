"""What the guards that grow cost the order path: the same orders recorded on three scratch
ledgers whose channels differ only in their last-units guard.

* ``fixed``: ``last_units`` alone (no sales rate is read);
* ``rate``: grown to what sells in ``last_seconds`` (the journal's sales sums are read);
* ``measured``: grown to what sells in the measured sync gap as well, with push timings and
  late orders in the ledger, so every process reads the lags once a second
  (``stocksync.ledger.sync_lag``).

Orders are recorded one after the other from one client, so the per-order time is the order
path's own cost (its statements and the Python between them), not contention.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from stocksync.bench.scratch import scratch_ledger_url
from stocksync.domain.clock import utcnow
from stocksync.domain.model import ChannelPolicy
from stocksync.ledger.catalog import import_catalog
from stocksync.ledger.config import ChannelInfo, add_channel
from stocksync.ledger.db import make_engine
from stocksync.ledger.migrate import upgrade
from stocksync.ledger.results import LineIn
from stocksync.ledger.service import Ledger
from stocksync.ledger.sync_lag import record_push_timing

__all__ = ["CASES", "RateGuardReport", "run_rate_guard_bench"]

CHANNELS = (
    ("shopify-main", "shopify", 30),
    ("amazon-eu", "amazon", 20),
    ("woo-site", "woocommerce", 10),
)
CASES = {
    "fixed": ChannelPolicy(last_units=5, measured_guard=False),
    "rate": ChannelPolicy(last_units=5, last_seconds=5.0, measured_guard=False),
    "measured": ChannelPolicy(last_units=5, last_seconds=5.0),
}
"""The three ledgers' channel policy, the baseline first."""
LATE_S = 0.8
"""How late the measured case's orders reach the ledger (their order time is this far back)."""


@dataclass(frozen=True)
class RateGuardReport:
    database: str
    orders: int
    skus: int
    ms_per_order: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        base = self.ms_per_order["fixed"]
        return {
            "database": self.database, "orders": self.orders, "skus": self.skus,
            "ms_per_order": {k: round(v, 3) for k, v in self.ms_per_order.items()},
            "ratio_to_fixed": {k: round(v / base, 3) for k, v in self.ms_per_order.items()},
        }  # fmt: skip


def run_rate_guard_bench(database_url: str | None, orders: int, skus: int) -> RateGuardReport:
    """Per-order milliseconds of each case (``CASES``, in order, in this process)."""
    with tempfile.TemporaryDirectory() as tmp:
        ms = {
            name: _time_orders(database_url, Path(tmp), f"guard_{name}", policy, orders, skus)
            for name, policy in CASES.items()
        }
    kind = "sqlite" if database_url is None or database_url.startswith("sqlite") else "postgresql"
    return RateGuardReport(kind, orders, skus, ms)


def _time_orders(
    database_url: str | None,
    workdir: Path,
    label: str,
    policy: ChannelPolicy,
    orders: int,
    skus: int,
) -> float:
    with scratch_ledger_url(database_url, workdir, label=label) as url:
        engine = make_engine(url)
        try:
            upgrade(engine)
            ledger = Ledger(engine)
            ids = {
                name: ledger.call(add_channel, ChannelInfo(name, kind, priority, policy))
                for name, kind, priority in CHANNELS
            }
            names = [f"RUSH-{n:03d}" for n in range(skus)]
            header = "sku,location,on_hand," + ",".join(f"listing:{c[0]}" for c in CHANNELS)
            rows = [
                f"{sku},berlin,1000000," + ",".join(f"{c[0]}-{sku}" for c in CHANNELS)
                for sku in names
            ]
            ledger.call(import_catalog, "\n".join([header, *rows]) + "\n")
            if policy.measured_guard:
                for channel_id in ids.values():
                    for n in range(200):  # a window's worth of push timings to read
                        ledger.call(record_push_timing, channel_id, 0.2 + n / 100,
                                    read_back=False, now=utcnow())  # fmt: skip
            for n in range(min(200, orders)):  # warm up: connections, caches, a journal to read
                _order(ledger, f"warm-{n}", names[n % skus], policy)
            started = time.perf_counter()
            for n in range(orders):
                _order(ledger, f"rush-{n}", names[n % skus], policy)
            return (time.perf_counter() - started) / orders * 1000
        finally:
            engine.dispose()


def _order(ledger: Ledger, external_id: str, sku: str, policy: ChannelPolicy) -> None:
    placed = utcnow() - timedelta(seconds=LATE_S) if policy.measured_guard else None
    ledger.record_order("woo-site", external_id, [LineIn(sku, 1)], placed_at=placed)
