"""``stocksync demo``: the README's main job, a flash sale over the channel emulators.

The demo runs the sync worker, a Prefect flow, and ``stocksync/`` never imports Prefect, so this
command only replaces itself with ``python -m deployments.bench.demo`` (same interpreter, same
options).
"""

from __future__ import annotations

import os
import sys

import typer

from stocksync.cli.output import JsonOpt


def demo(
    duration: float = typer.Option(20.0, min=1, help="Seconds of shopping."),
    rate: float = typer.Option(5.0, min=0.1, help="Checkouts per second over all channels."),
    threads: int = typer.Option(6, min=1, help="Concurrent shoppers."),
    database_url: str | None = typer.Option(
        None,
        help="A PostgreSQL server URL: the demo ledger is a scratch database beside it "
        "(default: SQLite in a temporary directory).",
    ),
    prefect_port: int = typer.Option(
        4200, help="Port of the local Prefect server (unless PREFECT_API_URL names one)."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Flash sale: shoppers on emulated Shopify, Amazon and WooCommerce race for scarce SKUs while
    the webhook receiver and the sync worker keep every channel in step with the ledger."""
    argv = [sys.executable, "-m", "deployments.bench.demo", "--duration", str(duration),
            "--rate", str(rate), "--threads", str(threads), "--prefect-port", str(prefect_port)]  # fmt: skip
    if database_url:
        argv += ["--database-url", database_url]
    if as_json:
        argv.append("--json")
    os.execv(sys.executable, argv)
