"""``stocksync demo``: a flash sale over emulated Shopify, Amazon and WooCommerce, synced live.

``python -m deployments.bench.demo [--duration S] [--rate N] [--database-url URL] [--json]``

Everything is started here and stopped at the end: a local Prefect server (unless
``PREFECT_API_URL`` names one), the three channel emulators, a fresh ledger (SQLite in a temp
dir; on PostgreSQL a scratch database beside the one named), the webhook receiver and the sync
worker (the same loop ``stocksync worker`` runs). Shoppers then buy the scarce SKUs on all three
channels at once; orders reach the ledger by webhook, and the worker pushes the new quantities
to the other channels. The report: per channel orders accepted and refused, oversells (order
lines the ledger had to record short) and the sync gap (``stocksync/bench/sync_metrics.py``).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rich.table import Table

from deployments.bench.console import out, report
from deployments.bench.flash_sale import SaleStack, run_flash_sale
from stocksync.bench.fleet import LAST_SECONDS, LAST_UNITS, sample_catalog_text, scarce_catalog
from stocksync.bench.shoppers import SaleShape

SCARCE = {"TEAL-MUG-350ML": 30, "SLATE-TRAY-L": 30, "OAK-COASTER": 30}
"""Units of each SKU on sale; the shoppers buy only these."""


def run_demo(args: argparse.Namespace, say: Any) -> dict[str, Any]:
    """The whole demo; the report as a JSON-ready dict."""
    shape = SaleShape(args.duration, args.rate)
    catalog = scarce_catalog(sample_catalog_text(), SCARCE)
    stack = SaleStack("demo", catalog, args.database_url, prefect_port=args.prefect_port)
    sale = run_flash_sale(stack, shape, list(SCARCE), threads=args.threads, say=say)
    url, prefect = sale.database_url, sale.prefect
    doc = sale.report.to_dict() | {"flow_runs": sale.flow_runs}
    doc["prefect_ui"] = prefect.ui_url
    doc["prefect_server_started_here"] = prefect.started_here
    doc["database"] = "sqlite (temporary)" if url.startswith("sqlite") else url.split("@")[-1]
    doc["policy"] = {
        "last_units": LAST_UNITS,
        "last_seconds": {"amazon-eu": LAST_SECONDS, "woo-site": LAST_SECONDS},
        "buffer": {"amazon-eu": 1, "woo-site": 1},
        "measured_guard": "the guards also cover the measured sync gap",
    }
    doc["ok"] = doc["oversold_lines"] == 0 and doc["converged"]
    return doc


def print_report(doc: dict[str, Any]) -> None:
    t = Table(title="Flash sale, per channel", title_justify="left")
    for col in ("channel", "accepted", "refused", "oversold", "gap p50 s", "gap p99 s",
                "gap max s", "push calls"):  # fmt: skip
        t.add_column(col, justify="left" if col == "channel" else "right")
    for name, ch in doc["channels"].items():
        gap = ch["sync_gap"]
        t.add_row(name, str(ch["orders_accepted"]), str(ch["orders_refused"]),
                  str(ch["oversold_lines"]), _s(gap["p50_s"]), _s(gap["p99_s"]), _s(gap["max_s"]),
                  str(ch["push_calls"]))  # fmt: skip
    out.print(t)
    gap, runs = doc["sync_gap"], doc["flow_runs"]
    out.print(
        f"{doc['orders_placed']} checkouts in {doc['duration_s']:.0f} s for {', '.join(doc['skus'])}: "
        f"{doc['orders_accepted']} accepted, {doc['orders_refused']} refused (the channel showed 0)\n"
        f"sync gap (order accepted on one channel → every other channel shows the ledger's new "
        f"quantity): p50 {_s(gap['p50_s'])} s, p99 {_s(gap['p99_s'])} s, max {_s(gap['max_s'])} s "
        f"over {gap['count']} orders\n"
        f"oversold order lines: [bold]{doc['oversold_lines']}[/bold] — at or below "
        f"{doc['policy']['last_units']} units (or what the SKU sells in {LAST_SECONDS:g} s at its "
        "current rate, if more) only shopify-main (top priority) lists a SKU, and Amazon and "
        "WooCommerce hold one unit back, so two channels can only sell the same unit if more "
        "than that sells while a push is in flight\n"
        f"every channel shows the ledger's desired quantities: "
        f"{'yes' if doc['converged'] else 'NO: ' + json.dumps(doc['mismatches'])}\n"
        f"Prefect: {runs['total']} sync-inventory flow runs ({runs['completed']} completed, "
        f"{runs['failed']} failed, {runs['crashed']} crashed) at {doc['prefect_ui']}/runs"
        + ("" if not doc["prefect_server_started_here"] else " (server stopped with the demo)"),
        soft_wrap=True,
    )


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="stocksync demo", description=__doc__)
    parser.add_argument("--duration", type=float, default=20.0, help="Seconds of shopping.")
    parser.add_argument(
        "--rate", type=float, default=5.0, help="Checkouts per second, all channels."
    )
    parser.add_argument("--threads", type=int, default=6, help="Concurrent shoppers.")
    parser.add_argument("--database-url", help="PostgreSQL server for a scratch ledger.")
    parser.add_argument("--prefect-port", type=int, default=4200)
    parser.add_argument("--json", action="store_true", help="Print one JSON document.")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return report(
        args.json, lambda say: (run_demo(args, say), print_report), "stocksync demo failed"
    )


if __name__ == "__main__":
    sys.exit(main())
