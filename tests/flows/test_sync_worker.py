"""The sync worker as it runs in production: ``stocksync worker`` in its own process, against the
session's Prefect server, pushing new orders to the emulators within seconds."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowFilter,
    FlowFilterName,
)
from prefect.settings import PREFECT_API_URL

from stocksync.cli.worker import worker_argv
from stocksync.domain.clock import utcnow
from stocksync.ledger.results import LineIn
from stocksync.ledger.service import Ledger
from tasks.sync import close_all
from tests.flows.test_sync_inventory import COASTER, MUG, write_channels_file
from tests.integration.push_support import (
    AMAZON,
    SHOPIFY,
    WOO,
    Shops,
    list_in_ledger,
    running_shops,
)

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.filterwarnings(
        "ignore:Exception ignored in. <socket.socket:pytest.PytestUnraisableExceptionWarning"
    ),
    pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning"),
]


@pytest.fixture
def shops(ledger: Ledger) -> Iterator[Shops]:
    with running_shops([MUG, COASTER]) as running:
        list_in_ledger(ledger, running, {MUG: 10, COASTER: 40})
        yield running
        close_all()


def start_worker(database_url: str, channels_file: Path, log: Path) -> subprocess.Popen[bytes]:
    """``stocksync worker …`` (which execs the worker module) in a new process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    args = worker_argv(database_url, None, [], str(channels_file), False, "w-test", None)
    command = [sys.executable, "-c", "from stocksync.cli import main; main()", "worker", *args]
    with log.open("wb") as out:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def sync_runs_since(since: datetime) -> int:
    """Sync runs that were at work at or after ``since``: started then, or started earlier and still
    running or ended after it (a run in progress keeps taking new changes, so it can carry a burst)."""

    async def count() -> int:
        async with get_client() as client:
            runs = await client.read_flow_runs(
                flow_filter=FlowFilter(name=FlowFilterName(any_=["sync-inventory"]))
            )
        return sum(1 for run in runs if run.end_time is None or run.end_time >= since)

    return asyncio.run(count())


def wait_until(check: Callable[[], bool], timeout_s: float) -> float:
    """Seconds until ``check()`` held; fails after ``timeout_s``."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout_s:
            pytest.fail(f"not reached within {timeout_s} s")
        time.sleep(0.05)
    return time.monotonic() - start


def test_the_worker_pushes_a_new_order_within_seconds_and_stops_cleanly_on_sigterm(
    ledger: Ledger, database_url: str, shops: Shops, tmp_path: Path
) -> None:
    log = tmp_path / "worker.log"
    proc = start_worker(database_url, write_channels_file(shops, tmp_path), log)
    try:
        # starting Python and Prefect takes seconds; then the catalog's listings go out
        wait_until(lambda: shops.shows(MUG) == {SHOPIFY: 10, WOO: 10}, timeout_s=60)

        ledger.record_order(AMAZON, "114-8", [LineIn(MUG, 2)])
        # a bound so a stuck worker ends the test; how fast is benchmarked, not asserted
        wait_until(lambda: shops.shows(MUG) == {SHOPIFY: 8, WOO: 8}, timeout_s=20)

        since = utcnow()
        for n in range(20):
            ledger.record_order(AMAZON, f"114-b{n}", [LineIn(COASTER, 1)])
        wait_until(lambda: shops.shows(COASTER) == {SHOPIFY: 20, WOO: 20}, timeout_s=15)
        assert 1 <= sync_runs_since(since) < 10  # a burst costs a few runs, not one per order

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "stopped after" in log.read_text()
