"""``stocksync bench sync``: the sync gap under a sustained flash sale with a burst.

``python -m deployments.bench.sync_gap [--duration 60] [--rate 20] [--burst-factor 5] [--burst-s 5]
[--latency-ms 100] [--database-url URL] [--workers shared|per-channel] [--busy-processes N]
[--fixed-guard] [--json]``

Three emulated channels (Shopify, Amazon, WooCommerce), each answering its API after
``--latency-ms``; shoppers check out at ``--rate`` orders/s for ``--duration`` seconds, with the
rate multiplied by ``--burst-factor`` for ``--burst-s`` seconds in the middle. Two of the SKUs are
stocked to sell out during the run, so the last-units guard is exercised; the report gives the
guard's cost beside the oversells (``stocksync.bench.guard_cost``). ``--busy-processes`` keeps N
CPU-bound processes running through the sale (a loaded host); ``--fixed-guard`` makes the guards
ignore the measured sync gap, for comparison. The same fleet, worker
and measurements as ``stocksync demo`` (``deployments/bench/flash_sale.py``, ``stocksync/bench``).
The receiver and the sync worker run in their own processes, as deployed (``--receiver-in-thread``,
``--worker-in-thread``: in this one, with the emulators and the shoppers).
``--receiver-only`` measures the webhook receiver alone instead (``stocksync.bench.receiver``):
``--receiver-rate`` webhooks/s to ``stocksync serve --workers <--receiver-workers>`` in its own
process.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from typing import Any

from rich.table import Table

from deployments.bench.console import Printer, Say, out, report
from deployments.bench.flash_sale import SaleStack, run_flash_sale
from stocksync.bench.fleet import CHANNELS
from stocksync.bench.guard_cost import guard_cost
from stocksync.bench.shoppers import SaleShape
from stocksync.ledger.config import ChannelInfo

TARGETS = {"p50_s": 1.0, "p99_s": 3.0, "oversold_lines": 0, "http_429_unhandled": 0}


def bench_stock(skus: int, ample: int, scarce: int, scarce_skus: int = 2) -> dict[str, int]:
    """``skus`` SKUs and their stock; the first ``scarce_skus`` sell out."""
    return {f"FLASH-{n:03d}": scarce if n < scarce_skus else ample for n in range(skus)}


def bench_catalog(stock: dict[str, int]) -> str:
    """The SKUs in one warehouse, listed on every channel."""
    header = "sku,location,on_hand," + ",".join(f"listing:{c.name}" for c in CHANNELS)
    rows = [f"{sku},bench-dc,{qty}," + ",".join("x" * len(CHANNELS)) for sku, qty in stock.items()]
    return "\n".join([header, *rows]) + "\n"


def bench_channels(fixed_guard: bool) -> tuple[ChannelInfo, ...]:
    """The fleet's channels; with ``fixed_guard`` their guards ignore the measured sync gap."""
    if not fixed_guard:
        return CHANNELS
    return tuple(replace(c, policy=replace(c.policy, measured_guard=False)) for c in CHANNELS)


def run_bench(args: argparse.Namespace, say: Any) -> dict[str, Any]:
    shape = SaleShape(args.duration, args.rate, args.burst_factor, args.burst_s)
    expected = args.rate * (args.duration + (args.burst_factor - 1) * args.burst_s)
    ample = int(expected / args.skus * 1.5) + 10
    scarce = max(8, int(expected / args.skus * 0.4))
    stock = bench_stock(args.skus, ample, scarce)
    channels = bench_channels(args.fixed_guard)
    stack = SaleStack(
        "bench_sync", bench_catalog(stock), args.database_url,
        keep_ledger=args.keep_ledger, prefect_port=args.prefect_port, latency_ms=args.latency_ms,
        receiver_process=not args.receiver_in_thread, receiver_workers=args.receiver_workers,
        worker_per_channel=args.workers == "per-channel", worker_process=not args.worker_in_thread,
        channels=channels, busy_processes=args.busy_processes,
    )  # fmt: skip
    sale = run_flash_sale(stack, shape, threads=args.threads, settle_timeout_s=60, say=say)
    runs, left = sale.flow_runs, sale.throttle_errors_left
    doc = sale.report.to_dict()
    accepted = doc["orders_accepted"]
    doc |= {
        "latency_ms": args.latency_ms,
        "workers": args.workers,
        "database": "sqlite" if sale.database_url.startswith("sqlite") else "postgresql",
        "stock": {"ample": ample, "scarce": scarce, "scarce_skus": 2},
        "flow_runs": runs,
        "flow_runs_per_100_orders": round(100 * runs["total"] / accepted, 1) if accepted else None,
        "http_429_unhandled": left,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "busy_processes": args.busy_processes,
        "guard": "fixed" if args.fixed_guard else "measured",
        "guard_cost": guard_cost(sale.report, stock, {c.name: c.policy.buffer for c in channels}),
    }
    doc["targets"] = {
        "p50_s": _at_most(doc["sync_gap"]["p50_s"], TARGETS["p50_s"]),
        "p99_s": _at_most(doc["sync_gap"]["p99_s"], TARGETS["p99_s"]),
        "oversold_lines": _at_most(doc["oversold_lines"], 0),
        "http_429_unhandled": _at_most(left, 0),
    }
    doc["ok"] = all(t["met"] for t in doc["targets"].values()) and doc["converged"]
    return doc


def _at_most(value: float | None, target: float) -> dict[str, Any]:
    return {"value": value, "target": target, "met": value is not None and value <= target}


def print_report(doc: dict[str, Any]) -> None:
    gap = doc["sync_gap"]
    t = Table(title="Sync benchmark", title_justify="left")
    for col in ("measure", "value", "target"):
        t.add_column(col, justify="left" if col == "measure" else "right")
    rows = [
        ("orders accepted / refused", f"{doc['orders_accepted']} / {doc['orders_refused']}", ""),
        ("sync gap p50 s", _s(gap["p50_s"]), "≤ 1"),
        ("sync gap p99 s", _s(gap["p99_s"]), "≤ 3"),
        ("sync gap max s", _s(gap["max_s"]), ""),
        ("oversold order lines", str(doc["oversold_lines"]), "0"),
        ("refused while in stock", str(doc["guard_cost"]["refused_in_stock"]), ""),
        ("units withheld × s", f"{doc['guard_cost']['withheld_unit_s']:.0f}", ""),
        ("push calls per order", str(doc["push_calls_per_order"]), ""),
        ("429s received / unhandled", f"{doc['http_429_received']} / {doc['http_429_unhandled']}",
         "- / 0"),
        ("flow runs per 100 orders", str(doc["flow_runs_per_100_orders"]), ""),
        ("converged", "yes" if doc["converged"] else "NO", "yes"),
    ]  # fmt: skip
    for row in rows:
        t.add_row(*row)
    out.print(t)
    per = Table(title="Per selling channel", title_justify="left")
    for col in ("channel", "accepted", "refused", "gap p50", "gap p99", "gap max", "push calls",
                "429s"):  # fmt: skip
        per.add_column(col, justify="left" if col == "channel" else "right")
    for name, ch in doc["channels"].items():
        g = ch["sync_gap"]
        per.add_row(name, str(ch["orders_accepted"]), str(ch["orders_refused"]), _s(g["p50_s"]),
                    _s(g["p99_s"]), _s(g["max_s"]), str(ch["push_calls"]), str(ch["http_429"]))  # fmt: skip
    out.print(per)
    out.print(f"{doc['duration_s']:.0f} s at {doc['rate_per_s']} orders/s, burst ×"
              f"{doc['burst']['factor']} for {doc['burst']['seconds']} s; API latency "
              f"{doc['latency_ms']} ms; ledger on {doc['database']}; {doc['guard']} guard; "
              f"{doc['busy_processes']} busy processes; load {doc['load_average']}")  # fmt: skip


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="stocksync bench sync", description=__doc__)
    p.add_argument("--duration", type=float, default=60.0, help="Seconds of shopping.")
    p.add_argument("--rate", type=float, default=20.0, help="Orders per second, sustained.")
    p.add_argument("--burst-factor", type=float, default=5.0)
    p.add_argument("--burst-s", type=float, default=5.0, help="Burst length, mid-run.")
    p.add_argument("--latency-ms", type=int, default=100, help="Every channel API call's latency.")
    p.add_argument("--skus", type=int, default=8, help="SKUs on sale (2 of them sell out).")
    p.add_argument("--threads", type=int, default=16, help="Concurrent shoppers.")
    p.add_argument("--workers", choices=("shared", "per-channel"), default="shared",
                   help="One sync worker for all channels, or one per channel.")  # fmt: skip
    p.add_argument(
        "--database-url", help="PostgreSQL server for a scratch ledger (default SQLite)."
    )
    p.add_argument("--prefect-port", type=int, default=4200)
    p.add_argument(
        "--keep-ledger", action="store_true",
        help="Leave the scratch PostgreSQL ledger for exploring (its URL goes to stderr).",
    )  # fmt: skip
    p.add_argument(
        "--receiver-in-thread", action="store_true",
        help="Host the receiver in this process (default: its own process, as deployed).",
    )  # fmt: skip
    p.add_argument(
        "--worker-in-thread", action="store_true",
        help="Run the sync worker in this process (default: its own process, as deployed).",
    )  # fmt: skip
    p.add_argument("--busy-processes", type=int, default=0,
                   help="CPU-bound processes kept running through the sale (a loaded host).")  # fmt: skip
    p.add_argument("--fixed-guard", action="store_true",
                   help="Guards ignore the measured sync gap (last_units and last_seconds only).")  # fmt: skip
    p.add_argument("--receiver-only", action="store_true", help="Benchmark the receiver alone.")
    p.add_argument("--receiver-rate", type=float, default=100.0, help="Webhooks per second.")
    p.add_argument("--receiver-workers", type=int, default=1,
                   help="Receiver processes (stocksync serve --workers).")  # fmt: skip
    p.add_argument("--json", action="store_true", help="Print one JSON document.")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return report(args.json, lambda say: _run(args, say), "the benchmark failed")


def _run(args: argparse.Namespace, say: Say) -> tuple[dict[str, Any], Printer]:
    """The receiver alone (``--receiver-only``) or the whole flash sale, and its printer."""
    if args.receiver_only:
        from stocksync.bench.receiver import print_receiver_report, run_receiver_bench

        doc = run_receiver_bench(
            args.database_url, args.duration, args.receiver_rate, say,
            workers=args.receiver_workers,
        )  # fmt: skip
        return doc, print_receiver_report
    return run_bench(args, say), print_report


if __name__ == "__main__":
    sys.exit(main())
