"""The scripted flash-sale scenario behind ``stocksync demo`` (the README's main job).

A fresh SQLite ledger, the sample catalog, three channels, and then every channel's shoppers
buying the last units of one SKU at the same moment. The report shows who got them and that
nothing was oversold or lost.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from stocksync.domain.model import ChannelPolicy
from stocksync.ledger.catalog import import_catalog
from stocksync.ledger.config import ChannelInfo, add_channel
from stocksync.ledger.db import make_engine
from stocksync.ledger.migrate import upgrade
from stocksync.ledger.queries import stock_report
from stocksync.ledger.results import LineIn, OrderResult
from stocksync.ledger.service import Ledger
from stocksync.ledger.tables import OrderRow

__all__ = ["DemoReport", "run_demo"]

SCARCE_SKU = "TEAL-MUG-350ML"
CHANNELS = (
    ChannelInfo("shopify-main", "shopify", 30),
    ChannelInfo("amazon-eu", "amazon", 20),
    ChannelInfo("woo-site", "woocommerce", 10, ChannelPolicy(max_listed=50)),
)


@dataclass
class DemoReport:
    database: str
    sku: str
    units_before: int
    orders: list[OrderResult] = field(default_factory=list)
    listings_before: dict[str, int] = field(default_factory=dict)
    listings_after: dict[str, int] = field(default_factory=dict)
    stock_after: dict[str, tuple[int, int]] = field(default_factory=dict)
    orders_in_ledger: int = 0
    mismatches: int = 0

    @property
    def committed(self) -> int:
        return sum(o.lines[0].committed for o in self.orders)

    @property
    def oversold_units(self) -> int:
        """Units committed beyond what was on hand: must be 0."""
        return max(0, self.committed - self.units_before)

    @property
    def short_orders(self) -> int:
        """Orders recorded short: kept, flagged for the seller to cancel, never dropped."""
        return sum(1 for o in self.orders if o.lines[0].short)

    def per_channel(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for o in self.orders:
            row = out.setdefault(o.channel, {"orders": 0, "got_units": 0, "recorded_short": 0})
            row["orders"] += 1
            row["got_units"] += o.lines[0].committed
            row["recorded_short"] += o.lines[0].short
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "sku": self.sku,
            "units_before": self.units_before,
            "orders_placed": len(self.orders),
            "orders_in_ledger": self.orders_in_ledger,
            "units_committed": self.committed,
            "oversold_units": self.oversold_units,
            "short_orders": self.short_orders,
            "per_channel": self.per_channel(),
            "winners": [
                f"{o.channel}/{o.external_id}" for o in self.orders if o.lines[0].committed
            ],
            "listings_before": self.listings_before,
            "listings_after": self.listings_after,
            "stock_after": {
                k: {"on_hand": v[0], "committed": v[1]} for k, v in self.stock_after.items()
            },
            "ledger_mismatches": self.mismatches,
        }


def run_demo(db_path: Path, *, shoppers_per_channel: int = 4) -> DemoReport:
    """Build a fresh ledger at ``db_path`` and race every channel for the scarce SKU's last units."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{db_path}")
    upgrade(engine)
    ledger = Ledger(engine)
    for info in CHANNELS:
        ledger.run(lambda s, i=info: add_channel(s, i))
    catalog = (files("stocksync") / "samples" / "catalog.csv").read_text(encoding="utf-8")
    ledger.run(lambda s: import_catalog(s, catalog))
    before = _snapshot(ledger)
    report = DemoReport(
        str(db_path), SCARCE_SKU, before.available, listings_before=_listings(before)
    )
    report.orders = _flash_sale(ledger, shoppers_per_channel)
    after = _snapshot(ledger)
    report.listings_after = _listings(after)
    report.stock_after = {loc.location: (loc.on_hand, loc.committed) for loc in after.locations}
    report.orders_in_ledger = ledger.run(
        lambda s: s.execute(select(func.count()).select_from(OrderRow)).scalar_one()
    )
    report.mismatches = len(ledger.verify())
    engine.dispose()
    return report


def _flash_sale(ledger: Ledger, per_channel: int) -> list[OrderResult]:
    shoppers = [(ch.name, n) for n in range(per_channel) for ch in CHANNELS]
    barrier = threading.Barrier(len(shoppers))
    results: list[OrderResult | None] = [None] * len(shoppers)

    def shop(i: int, channel: str, n: int) -> None:
        barrier.wait()
        results[i] = ledger.record_order(
            channel, f"{channel}-flash-{n + 1}", [LineIn(SCARCE_SKU, 1)]
        )

    threads = [threading.Thread(target=shop, args=(i, ch, n)) for i, (ch, n) in enumerate(shoppers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [r for r in results if r is not None]


def _snapshot(ledger: Ledger) -> Any:
    [report] = ledger.run(lambda s: stock_report(s, [SCARCE_SKU]))
    return report


def _listings(report: Any) -> dict[str, int]:
    return {li.channel: li.desired for li in report.listings}
