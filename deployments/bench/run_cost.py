"""What a Prefect-tracked push costs: ``python -m deployments.bench.run_cost [--runs N]``.

The question (issue 4): how should the hot path run a drain under Prefect? Each case records one
order (so each run pushes two listings, one per shop) and times one run, wall clock:

* ``drain``: ``stocksync.sync.drain`` alone, no Prefect (the floor);
* ``async flow``: ``await sync_inventory(...)`` in this process (what the sync worker does);
* ``sync flow``: the same tasks in a sync ``@flow``, Prefect's defaults (heartbeat on);
* ``sync flow, no heartbeat``: the same with ``PREFECT_FLOWS_HEARTBEAT_FREQUENCY`` unset;
* ``subprocess``: a new ``python`` that imports the flow and runs it once (what a deployment run
  costs at least, before any worker polling);
* ``worker, order → shop``: the sync worker running; from ``record_order`` returning to both
  shops showing the new quantity;
* ``worker, burst of 50``: 50 orders back to back; time until both shops show the last one,
  and how many runs carried them.

A scratch SQLite ledger and the two emulators run in this process. Prefect: the server named by
``PREFECT_API_URL``, else a temporary one (``prefect_test_harness``, SQLite). Lives here, not in
``stocksync/bench``, because it imports Prefect.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from prefect import flow
from prefect.artifacts import create_table_artifact
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterStartTime
from prefect.settings import PREFECT_API_URL, PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

from deployments.bench.workers import WorkerThread
from flows.sync_inventory import sync_inventory
from stocksync.domain.clock import utcnow
from stocksync.ledger.catalog import import_catalog
from stocksync.ledger.config import ChannelInfo, add_channel, list_channels
from stocksync.ledger.db import make_engine
from stocksync.ledger.migrate import upgrade
from stocksync.ledger.results import LineIn
from stocksync.ledger.service import Ledger
from stocksync.sandbox.server import serve_in_thread
from stocksync.sandbox.shopify import ShopifyState
from stocksync.sandbox.shopify import create_app as shopify_app
from stocksync.sandbox.woocommerce import WooState
from stocksync.sandbox.woocommerce import create_app as woo_app
from stocksync.sync.drain import drain
from tasks.sync import close_all, configured_channels, connector_for, drain_task, orders_behind_now

SKUS = [f"BENCH-MUG-{n:02d}" for n in range(20)]


class Bench:
    """A scratch ledger listing ``SKUS`` on two emulated shops, and a channels file for them."""

    def __init__(self, where: Path, stack: ExitStack, database_url: str | None = None) -> None:
        self.shopify = ShopifyState()
        self.woo = WooState(consumer_key="ck_b", consumer_secret="cs_b")
        self.items = {sku: self.shopify.stock(sku, 0) for sku in SKUS}
        self.products = {sku: self.woo.add_product(sku, 0).id for sku in SKUS}
        shopify_url, stop_shopify = serve_in_thread(shopify_app(self.shopify))
        woo_url, stop_woo = serve_in_thread(woo_app(self.woo))
        stack.callback(stop_shopify)
        stack.callback(stop_woo)
        self.url = database_url or f"sqlite:///{where / 'ledger.db'}"
        engine = make_engine(self.url)
        upgrade(engine)
        self.ledger = Ledger(engine)
        stack.callback(engine.dispose)
        if self.ledger.run(list_channels):
            raise SystemExit(f"{self.url}: not an empty ledger; the bench needs a scratch one")
        for info in (
            ChannelInfo("shopify-main", "shopify", 2),
            ChannelInfo("woo-site", "woocommerce", 1),
            ChannelInfo("pos", "custom", 0),
        ):
            self.ledger.call(add_channel, info)
        rows = ["sku,location,on_hand,listing:shopify-main,listing:woo-site"]
        rows += [f"{s},berlin,100000,{self.items[s]},{self.products[s]}" for s in SKUS]
        self.ledger.call(import_catalog, "\n".join(rows) + "\n")
        self.channels_file = where / "stocksync-channels.json"
        channels = {
            "shopify-main": {"kind": "shopify", "shop_url": shopify_url,
                             "access_token": self.shopify.access_token, "webhook_secret": "s"},
            "woo-site": {"kind": "woocommerce", "base_url": woo_url, "consumer_key": "ck_b",
                         "consumer_secret": "cs_b", "webhook_secret": "s"},
        }  # fmt: skip
        self.channels_file.write_text(json.dumps({"channels": channels}))
        self.orders = 0

    def order(self) -> str:
        """One order of one unit from the POS: both shops must be told."""
        self.orders += 1
        sku = SKUS[self.orders % len(SKUS)]
        self.ledger.record_order("pos", f"B{self.orders}", [LineIn(sku, 1)])
        return sku

    def shows(self, sku: str) -> tuple[int | None, int | None]:
        return self.shopify.available(self.items[sku]), self.woo.stock_of(self.products[sku])

    def desired(self, sku: str) -> int:
        return 100000 - sum(1 for n in range(1, self.orders + 1) if SKUS[n % len(SKUS)] == sku)

    def params(self) -> dict[str, Any]:
        return {"database_url": self.url, "channels_file": str(self.channels_file)}


@flow(name="sync-inventory-sync-bench")
def sync_flow(database_url: str, channels_file: str) -> dict[str, dict[str, int]]:
    """The async flow's work in a sync flow, for the comparison."""
    sources, _ = configured_channels(database_url, None, channels_file)
    orders_behind_now(database_url, sorted(sources))
    report = drain_task(database_url, sources, "bench-sync")
    if report.rows():
        create_table_artifact(report.rows(), key="sync-inventory-bench")
    return report.counts()


def timed(bench: Bench, runs: int, one: Callable[[], Any]) -> list[float]:
    times = []
    for _ in range(runs):
        sku = bench.order()
        start = time.perf_counter()
        one()
        times.append(time.perf_counter() - start)
        assert bench.shows(sku) == (bench.desired(sku),) * 2, "the run did not push the order"
    return times


async def _async_runs(bench: Bench, runs: int, params: dict[str, Any]) -> list[float]:
    """Runs awaited one after another on one event loop, as the sync worker does."""
    times = []
    for _ in range(runs):
        sku = bench.order()
        start = time.perf_counter()
        await sync_inventory(**params)
        times.append(time.perf_counter() - start)
        assert bench.shows(sku) == (bench.desired(sku),) * 2, "the run did not push the order"
    return times


def cases(bench: Bench, runs: int, subprocess_runs: int) -> dict[str, list[float]]:
    params = bench.params()
    sources, _ = configured_channels(bench.url, None, params["channels_file"])
    connectors = {name: connector_for(src) for name, src in sources.items()}
    asyncio.run(sync_inventory(**params))  # first pushes of the catalog, warm-up
    out = {
        "drain (no Prefect)": timed(
            bench, runs, lambda: drain(bench.ledger, connectors, worker_id="bench")
        ),
        "async flow, in-process": asyncio.run(_async_runs(bench, runs, params)),
        "sync flow, in-process": timed(bench, runs, lambda: sync_flow(**params)),
    }
    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        out["sync flow, no heartbeat"] = timed(bench, runs, lambda: sync_flow(**params))
    out["subprocess python, 1 run"] = timed(bench, subprocess_runs, lambda: _subprocess_run(params))
    return out


def _subprocess_run(params: dict[str, Any]) -> None:
    code = (
        "import asyncio, sys, json; from flows.sync_inventory import sync_inventory; "
        "asyncio.run(sync_inventory(**json.loads(sys.argv[1])))"
    )
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root), "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    subprocess.run(
        [sys.executable, "-c", code, json.dumps(params)],
        cwd=root, env=env, check=True, capture_output=True,
    )  # fmt: skip


@contextmanager
def worker_running(bench: Bench) -> Iterator[None]:
    """The sync worker's loop on a thread of this process (as in production, minus signals)."""
    worker = WorkerThread(bench.url, bench.channels_file, worker_id="bench").start()
    try:
        time.sleep(1.0)
        yield
    finally:
        worker.stop()


def worker_cases(bench: Bench, runs: int) -> tuple[dict[str, list[float]], int]:
    latencies = []
    with worker_running(bench):
        for _ in range(runs):
            time.sleep(0.3)  # let the previous run finish, so each order starts from idle
            sku = bench.order()
            latencies.append(_until_shown(bench, sku))
        since = utcnow()
        start = time.perf_counter()
        for _ in range(50):
            last = bench.order()
        burst = _until_shown(bench, last, start)
    return {"worker, order → shop": latencies, "worker, burst of 50": [burst]}, _runs_since(since)


def _until_shown(bench: Bench, sku: str, start: float | None = None) -> float:
    start = time.perf_counter() if start is None else start
    want = (bench.desired(sku),) * 2
    while bench.shows(sku) != want:
        if time.perf_counter() - start > 60:
            raise RuntimeError(f"{sku} not pushed within 60 s")
        time.sleep(0.01)
    return time.perf_counter() - start


def _runs_since(since: Any) -> int:
    async def count() -> int:
        async with get_client() as client:
            runs = await client.read_flow_runs(
                flow_run_filter=FlowRunFilter(start_time=FlowRunFilterStartTime(after_=since))
            )
        return len(runs)

    return asyncio.run(count())


def _print(results: dict[str, list[float]], burst_runs: int, server: str, ledger: str) -> None:
    out = sys.stdout
    out.write(f"Prefect server: {server}\n")
    out.write(f"ledger: {ledger.split(':')[0]}\n")
    out.write(f"{'case':<28}{'runs':>5}{'p50 ms':>9}{'min ms':>9}{'max ms':>9}\n")
    for name, times in results.items():
        ms = [t * 1000 for t in times]
        out.write(
            f"{name:<28}{len(ms):>5}{statistics.median(ms):>9.0f}{min(ms):>9.0f}{max(ms):>9.0f}\n"
        )
    out.write(f"flow runs that carried the burst of 50 orders: {burst_runs}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="Runs per in-process case.")
    parser.add_argument(
        "--database-url", help="An empty scratch ledger (default: a temporary SQLite file)."
    )
    parser.add_argument("--subprocess-runs", type=int, default=3, help="Subprocess runs.")
    args = parser.parse_args()
    with ExitStack() as stack:
        if not os.environ.get("PREFECT_API_URL"):
            from prefect.testing.utilities import prefect_test_harness

            stack.enter_context(prefect_test_harness(server_startup_timeout=60))
        where = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        bench = Bench(where, stack, args.database_url)
        stack.callback(close_all)
        results = cases(bench, args.runs, args.subprocess_runs)
        worker, burst_runs = worker_cases(bench, args.runs)
        _print({**results, **worker}, burst_runs, str(PREFECT_API_URL.value()), bench.url)


if __name__ == "__main__":
    main()
