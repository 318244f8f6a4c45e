"""Commands that measure stocksync on this machine and database."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from stocksync.cli.output import JsonOpt, console, err_console, errors_to_exit, fail, print_json

bench_app = typer.Typer(
    help="Benchmarks, run in scratch space beside the ledger.", no_args_is_help=True
)
PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True}
"""Commands that exec a ``deployments`` module hand it every option, ``--help`` included."""
COLUMNS = ("case", "orders", "orders/s", "target", "p50 ms", "p99 ms", "checks", "vs pgbench")
PUSH_COLUMNS = ("kind", "changes", "calls", "seconds", "floor s", "ratio", "throttled", "checks")


@bench_app.command("ledger")
def bench_ledger(
    as_json: bool = JsonOpt,
    writers: int = typer.Option(8, min=1, help="Concurrent writer processes."),
    duration: int = typer.Option(10, min=1, help="Seconds per case (and for pgbench)."),
    skus: int = typer.Option(1000, min=1, help="SKUs in the scratch catalog."),
    pgbench: bool = typer.Option(
        True, "--pgbench/--no-pgbench", help="On PostgreSQL, also run pgbench -N as a yardstick."
    ),
) -> None:
    """Orders/s and latency of concurrent order recording, spread over SKUs and on one hot SKU."""
    from stocksync.bench.ledger import BenchOptions, run_ledger_bench
    from stocksync.settings import get_settings

    settings = get_settings()
    options = BenchOptions(writers, duration, skus, pgbench, settings.sqlite_busy_timeout_ms)
    with errors_to_exit():
        report = run_ledger_bench(settings.database_url, options, progress=_progress)
    doc = report.to_dict()
    if as_json:
        print_json(doc)
    else:
        _print_report(doc)
    if not report.ok:
        raise fail("the ledger failed its checks: mismatches, or committed units != orders", 1)


def _print_report(doc: dict[str, Any]) -> None:
    """The cases as a table, with the pgbench yardstick under it."""
    pg = doc["pgbench"]
    title = f"Ledger benchmark: {doc['database']}, {doc['writers']} writers, {doc['duration_s']}s"
    t = Table(title=title, title_justify="left")
    for col in COLUMNS:
        t.add_column(col, justify="left" if col == "case" else "right")
    for name, case in doc["cases"].items():
        ratio = f"{pg[f'{name}_ratio']:.1%}" if pg else "-"
        t.add_row(
            name,
            str(case["orders"]),
            f"{case['orders_per_s']:.1f}",
            str(doc["targets"][f"{name}_orders_per_s"]),
            f"{case['p50_ms']:.2f}",
            f"{case['p99_ms']:.2f}",
            _checks(case),
            ratio,
        )
    console.print(t)
    console.print(f"pgbench -N: {pg['tps']:.1f} tps" if pg else "pgbench: not run")


def _checks(case: dict[str, Any]) -> str:
    """``ok`` when the ledger verified and committed one unit per order, else what went wrong."""
    if case["verify_mismatches"] == 0 and case["committed_units"] == case["orders"]:
        return "ok"
    return f"{case['verify_mismatches']} mismatches, {case['committed_units']} committed"


def _progress(message: str) -> None:
    """Progress goes to stderr, so ``--json`` output stays one document."""
    err_console.print(f"[dim]{message}[/dim]")


@bench_app.command("push")
def bench_push(
    as_json: bool = JsonOpt,
    changes: int = typer.Option(10_000, min=1, help="Quantity changes pushed to each emulator."),
    latency_ms: int = typer.Option(50, min=0, help="Emulated latency of every API call."),
    kinds: list[str] = typer.Option(
        ["shopify", "woocommerce", "amazon", "custom"], "--kind", help="Emulator kind (repeat)."
    ),
    baseline: bool = typer.Option(
        True, "--baseline/--no-baseline", help="Also run every kind with no latency."
    ),
) -> None:
    """Time N quantity changes through each connector into its emulator, against the floor its
    limits, batch sizes and latency allow."""
    from stocksync.bench.push import PushOptions, run_push_bench

    options = PushOptions(changes, latency_ms, tuple(kinds), baseline)
    with errors_to_exit():
        report = run_push_bench(options, progress=_progress)
    doc = report.to_dict()
    if as_json:
        print_json(doc)
    else:
        _print_push(f"Push benchmark: {changes} changes, {latency_ms} ms latency", doc["results"])
        if doc["baseline"]:
            _print_push(f"Baseline: {changes} changes, no latency", doc["baseline"])
        console.print(f"target: within {doc['target_ratio']}x of the floor")
    if not report.ok:
        raise fail("some changes did not arrive: see the checks column", 1)


def _print_push(title: str, results: list[dict[str, Any]]) -> None:
    """One row per kind, then how each floor was computed."""
    t = Table(title=title, title_justify="left")
    for col in PUSH_COLUMNS:
        justify = "left" if col in ("kind", "checks") else "right"
        t.add_column(col, justify=justify, no_wrap=True, min_width=len(col))
    for r in results:
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.2f}"
        throttled = "n/a" if r["throttled"] is None else str(r["throttled"])
        checks = "ok" if r["ok"] else f"{r['arrived']} arrived, {r['statuses']}"
        t.add_row(r["kind"], str(r["changes"]), str(r["calls"]), f"{r['seconds']:.2f}",
                  f"{r['floor_s']:.2f}", ratio, throttled, checks)  # fmt: skip
    console.print(t)
    for r in results:
        console.print(f"  floor {r['kind']}: {r['floor_how']}", soft_wrap=True)


@bench_app.command("rate-guard")
def bench_rate_guard(
    as_json: bool = JsonOpt,
    orders: int = typer.Option(3000, min=1, help="Orders recorded on each scratch ledger."),
    skus: int = typer.Option(8, min=1, help="SKUs the orders go round."),
) -> None:
    """What the last-units guards that grow (with the sales rate, and with the measured sync gap)
    cost an order (one client, orders one after the other), against a fixed guard."""
    from stocksync.bench.rate_guard import run_rate_guard_bench
    from stocksync.settings import get_settings

    with errors_to_exit():
        doc = run_rate_guard_bench(get_settings().database_url, orders, skus).to_dict()
    if as_json:
        print_json(doc)
        return
    ms, ratio = doc["ms_per_order"], doc["ratio_to_fixed"]
    console.print(
        f"{doc['database']}, {orders} orders over {skus} SKUs, ms an order: "
        + "; ".join(f"{case} {ms[case]} ({ratio[case]}x)" for case in ms)
    )


@bench_app.command("sync", context_settings=PASS_THROUGH, add_help_option=False)
def bench_sync(ctx: typer.Context) -> None:
    """Sync gap, oversells, API calls, 429s and flow runs under a flash sale over the emulators.

    Runs the sync worker (Prefect), so it replaces itself with
    ``python -m deployments.bench.sync_gap``; every option goes there (``stocksync bench sync
    --help`` lists them).
    """
    _exec("deployments.bench.sync_gap", ctx.args)


@bench_app.command("receiver", context_settings=PASS_THROUGH, add_help_option=False)
def bench_receiver(ctx: typer.Context) -> None:
    """Handling time of the webhook receiver alone at a fixed rate (default 100 requests/s).

    Same as ``stocksync bench sync --receiver-only``; options as there (--duration, --receiver-rate,
    --receiver-workers, --database-url, --json). The receiver runs as ``stocksync serve`` in its
    own process.
    """
    _exec("deployments.bench.sync_gap", ["--receiver-only", *ctx.args])


def _exec(module: str, args: list[str]) -> None:
    import os
    import sys

    os.execv(sys.executable, [sys.executable, "-m", module, *args])
