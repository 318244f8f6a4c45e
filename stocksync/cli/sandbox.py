"""``stocksync sandbox serve``: the channel emulators on loopback, stocked from a catalog.

Each emulator is the one the tests use (``stocksync.sandbox.harness``), serving the listing ids the
catalog names, so a ledger that imports the same catalog pushes to them. ``--write-config`` writes
the channels file ``stocksync channel read/push`` reads: ``{"channels": {name: {"kind": ...,
<connector config fields>}}}``, secrets included, so it is written readable by its owner only.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from stocksync.channels.registry import KINDS
from stocksync.cli.output import console, fail, table
from stocksync.domain.errors import NotUtf8Error

if TYPE_CHECKING:  # the emulators load only inside the commands that start them
    from stocksync.sandbox.harness import RunningEmulator

__all__ = ["sandbox_app", "serve", "start_sandbox", "write_channels_file"]

SAMPLE_CATALOG = Path(__file__).parents[1] / "samples" / "catalog.csv"
DEFAULT_KINDS = ("shopify", "amazon", "woocommerce")
CUSTOM_NAME = "b2b-portal"
KIND_HELP = f"Emulator to start (repeatable): {', '.join(KINDS)}."
"""An emulator per channel kind (``stocksync.sandbox.emulators.EMULATORS``)."""

sandbox_app = typer.Typer(
    help="Channel emulators to try stocksync against, on this machine.", no_args_is_help=True
)


def start_sandbox(
    kinds: list[str],
    catalog_text: str,
    *,
    host: str = "127.0.0.1",
    base_port: int = 0,
    latency_ms: int = 0,
    webhook_url_base: str | None = None,
) -> list[RunningEmulator]:
    """One emulator per kind, stocked as the catalog lists that kind's channel, under the listing
    ids its cells name (what the ledger imports from the same file); all share a clock.

    A kind whose channel is not in the catalog (custom, usually) gets every catalog SKU, under
    ids of its own. ValueError when an emulator cannot take a catalog's id.
    """
    from stocksync.sandbox.harness import SandboxClock, start_emulator
    from stocksync.sandbox.stocking import (
        channel_for_kind,
        listing_ids_by_channel,
        stock_by_channel,
    )

    stocks, ids = stock_by_channel(catalog_text), listing_ids_by_channel(catalog_text)
    everything = {sku: n for stock in stocks.values() for sku, n in stock.items()}
    clock, running = SandboxClock(), []
    try:
        for n, kind in enumerate(kinds):
            name = channel_for_kind(kind, list(stocks)) or (
                CUSTOM_NAME if kind == "custom" else f"{kind}-sandbox"
            )
            hook = (
                f"{webhook_url_base.rstrip('/')}/webhooks/{kind}/{name}"
                if webhook_url_base
                else None
            )
            running.append(
                start_emulator(
                    kind, name, stocks.get(name, everything), webhook_url=hook,
                    latency_ms=latency_ms, host=host, port=base_port + n if base_port else 0,
                    clock=clock, ids=ids.get(name) if name in stocks else None,
                )
            )  # fmt: skip
    except BaseException:
        for emulator in running:
            emulator.stop()
        raise
    return running


def write_channels_file(path: Path, emulators: list[RunningEmulator]) -> None:
    """The channels file for ``stocksync channel``; owner-only, since it holds the credentials."""
    doc: dict[str, Any] = {"channels": {e.name: e.connector_fields() for e in emulators}}
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(doc, handle, indent=2)
        handle.write("\n")
    os.replace(partial, path)  # whoever waits for the file never reads half of it


@sandbox_app.command("serve")
def serve(
    kind: list[str] = typer.Option(list(DEFAULT_KINDS), "--kind", help=KIND_HELP),
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    base_port: int = typer.Option(
        0, min=0, max=65535, help="Port of the first emulator, the next ones follow; 0: free ports."
    ),
    catalog: Path = typer.Option(SAMPLE_CATALOG, exists=True, dir_okay=False, help="Catalog CSV."),
    latency_ms: int = typer.Option(0, min=0, help="Added to every API call."),
    webhook_url_base: str | None = typer.Option(
        None, help="Deliver webhooks to URL/webhooks/<kind>/<channel>."
    ),
    write_config: Path | None = typer.Option(
        None, help="Write the channels JSON file for `stocksync channel` here."
    ),
) -> None:
    """Serve the chosen emulators until Ctrl-C."""
    unknown = sorted(set(kind) - set(KINDS))
    if unknown or len(set(kind)) != len(kind):
        raise fail(f"--kind takes each of {', '.join(KINDS)} at most once; got {kind}")
    try:
        emulators = start_sandbox(
            kind, NotUtf8Error.decode(catalog.read_bytes(), catalog.name), host=host,
            base_port=base_port, latency_ms=latency_ms, webhook_url_base=webhook_url_base,
        )  # fmt: skip
    except (RuntimeError, OSError, ValueError) as exc:
        raise fail(f"could not start the emulators: {exc}") from None
    try:
        rows = [(e.kind, e.name, e.base_url, len(e.listings())) for e in emulators]
        table("Sandbox channels", ["kind", "channel", "base URL", "listings"], rows)
        if write_config is not None:
            write_channels_file(write_config, emulators)
            console.print(f"channels file: {write_config}")
        console.print("Serving; press Ctrl-C to stop.")
        _wait_for_interrupt()
    finally:
        for emulator in emulators:
            emulator.stop()
        console.print("stopped")


def _wait_for_interrupt() -> None:
    """Block until Ctrl-C or SIGTERM (both end up as KeyboardInterrupt in the main thread)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        return
