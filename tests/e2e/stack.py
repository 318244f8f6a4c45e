"""The whole of stocksync on one machine: three emulators, a ledger, webhook receivers and sync
workers, wired the way production wires them (HTTP webhooks, a channels file, real Prefect runs).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from prefect.settings import PREFECT_API_URL
from sqlalchemy import select, update

from deployments.sync_worker import WorkerOptions, run_worker
from stocksync.ledger.service import Ledger
from stocksync.ledger.tables import (
    ChannelRow,
    ListingRow,
    OrderLineRow,
    OrderRow,
    SkuRow,
    StockRow,
)
from stocksync.receiver.app import create_app
from stocksync.sandbox.harness import RunningEmulator, SandboxClock, start_emulator
from stocksync.sandbox.server import serve_in_thread
from tests.factories import add_channels, load_catalog

ROOT = Path(__file__).resolve().parents[2]

SHOPIFY, WOO, AMAZON = "shopify-main", "woo-site", "amazon-eu"
CHANNELS = ((SHOPIFY, "shopify", 30), (AMAZON, "amazon", 20), (WOO, "woocommerce", 10))
MUG, COASTER, LAMP = "TEAL-MUG-350ML", "OAK-COASTER", "BRASS-LAMP"
STOCK = {MUG: 40, COASTER: 30, LAMP: 20}
CONNECTOR_TIMEOUT_S = 1.0
"""Short, so a hanging emulator costs a retry round quickly; the lease outlasts it."""


@dataclass(frozen=True)
class ListingState:
    channel: str
    sku: str
    desired: int
    version: int
    pushed_version: int
    dirty: bool
    attempts: int
    lease_owner: str | None


@dataclass
class Stack:
    ledger: Ledger
    database_url: str
    shops: dict[str, RunningEmulator]
    channels_file: Path
    receivers: list[str] = field(default_factory=list)
    """Receiver base URLs; each emulator delivers to one of them."""

    def shop(self, channel: str) -> RunningEmulator:
        return self.shops[channel]

    def point_webhooks(
        self, receiver: str, channels: Iterator[str] | list[str] | None = None
    ) -> None:
        for name in channels or list(self.shops):
            shop = self.shops[name]
            shop.set_webhook_url(f"{receiver}/webhooks/{shop.kind}/{name}")

    def listings(self) -> list[ListingState]:
        stmt = (
            select(
                ChannelRow.name,
                SkuRow.sku,
                ListingRow.desired_qty,
                ListingRow.version,
                ListingRow.pushed_version,
                ListingRow.dirty,
                ListingRow.attempts,
                ListingRow.lease_owner,
            )  # fmt: skip
            .join(ChannelRow, ChannelRow.id == ListingRow.channel_id)
            .join(SkuRow, SkuRow.id == ListingRow.sku_id)
            .order_by(ChannelRow.name, SkuRow.sku)
        )
        return [ListingState(*row) for row in self.ledger.run(lambda s: s.execute(stmt).all())]

    def listing(self, channel: str, sku: str) -> ListingState:
        return next(li for li in self.listings() if (li.channel, li.sku) == (channel, sku))

    def behind(self) -> list[str]:
        """Listings the channel does not show as the ledger wants (empty once converged).

        A channel's own sale leaves its listing clean without a push (it took the units off its
        own count), so ``pushed_version`` may trail ``version``; ``dirty`` says whether it may.
        """
        out = []
        for li in self.listings():
            shown = self.shops[li.channel].shown(li.sku)
            if li.dirty or shown != li.desired:
                out.append(f"{li.channel}/{li.sku}: shows {shown}, desired {li.desired} "
                           f"(v{li.version}, pushed v{li.pushed_version}, dirty={li.dirty})")  # fmt: skip
        return out

    def wait_converged(self, timeout_s: float) -> float:
        """Seconds until every channel shows every listing's desired quantity, nothing dirty."""
        return wait_until(lambda: not self.behind(), timeout_s, lambda: "\n".join(self.behind()))

    def order_committed(self, channel: str, external_id: str) -> dict[str, int]:
        """SKU → units the ledger committed for one order ({} if the ledger has no such order)."""
        stmt = (
            select(SkuRow.sku, OrderLineRow.committed)
            .join(OrderRow, OrderRow.id == OrderLineRow.order_id)
            .join(ChannelRow, ChannelRow.id == OrderRow.channel_id)
            .join(SkuRow, SkuRow.id == OrderLineRow.sku_id)
            .where(ChannelRow.name == channel, OrderRow.external_id == external_id)
        )
        rows = self.ledger.run(lambda s: s.execute(stmt).all())
        return dict(rows)

    def committed(self, sku: str) -> int:
        """Units of ``sku`` committed to orders, over every location."""
        stmt = (
            select(StockRow.committed)
            .join(SkuRow, SkuRow.id == StockRow.sku_id)
            .where(SkuRow.sku == sku)
        )
        return sum(self.ledger.run(lambda s: s.execute(stmt).scalars().all()))

    def received(self, outcome: str) -> dict[str, int]:
        """Channel → webhook events the receivers answered with ``outcome`` (their /metrics)."""
        found: dict[str, int] = {}
        for receiver in self.receivers:
            text = httpx.get(f"{receiver}/metrics", timeout=5).text
            for line in text.splitlines():
                match = re.match(r'stocksync_webhooks_total\{kind="[^"]*",channel="([^"]*)",'
                                 r'outcome="([^"]*)"\} (\d+)', line)  # fmt: skip
                if match and match[2] == outcome:
                    found[match[1]] = found.get(match[1], 0) + int(match[3])
        return found


def wait_until(
    check: Callable[[], bool], timeout_s: float, why: Callable[[], str] = lambda: ""
) -> float:
    """Seconds until ``check()`` held; fails the test after ``timeout_s`` with ``why()``."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout_s:
            pytest.fail(f"not reached within {timeout_s} s\n{why()}")
        time.sleep(0.1)
    return time.monotonic() - start


@contextmanager
def running_stack(ledger: Ledger, database_url: str, where: Path) -> Iterator[Stack]:
    """Three emulators listing every SKU at 0, the ledger's catalog stocked with ``STOCK``, and a
    channels file configuring all three; the first drain sets the channels to the ledger's counts."""
    clock = SandboxClock()
    shops: dict[str, RunningEmulator] = {}
    try:
        for name, kind, _ in CHANNELS:
            shops[name] = start_emulator(kind, name, dict.fromkeys(STOCK, 0), clock=clock)
        register(ledger, shops)
        channels_file = where / "stocksync-channels.json"
        entries = {
            n: s.connector_fields() | {"timeout_s": CONNECTOR_TIMEOUT_S} for n, s in shops.items()
        }
        channels_file.write_text(json.dumps({"channels": entries}))
        yield Stack(ledger, database_url, shops, channels_file)
    finally:
        for shop in shops.values():
            shop.set_webhook_url(None)
            shop.stop()


def register(ledger: Ledger, shops: dict[str, RunningEmulator]) -> None:
    """Channels and catalog in the ledger, listings keyed as each emulator keys them."""
    add_channels(ledger, *CHANNELS)
    names = [name for name, _, _ in CHANNELS]
    listed = {name: shops[name].listings() for name in names}
    header = "sku,location,on_hand," + ",".join(f"listing:{n}" for n in names)
    rows = [f"{sku},berlin,{qty}," + ",".join(listed[n][sku][0] for n in names)
            for sku, qty in STOCK.items()]  # fmt: skip
    load_catalog(ledger, "\n".join([header, *rows]) + "\n")
    ledger.run(lambda s: _set_refs(s, listed))


def _set_refs(session: Any, listed: dict[str, dict[str, tuple[str, dict[str, str]]]]) -> None:
    ids = dict(session.execute(select(ChannelRow.name, ChannelRow.id)).all())
    for name, by_sku in listed.items():
        for external_id, refs in by_sku.values():
            if refs:
                session.execute(
                    update(ListingRow)
                    .where(
                        ListingRow.channel_id == ids[name], ListingRow.external_id == external_id
                    )
                    .values(external_refs=refs)
                )


@contextmanager
def running_receiver(ledger: Ledger, shops: dict[str, RunningEmulator]) -> Iterator[str]:
    """A webhook receiver on loopback, knowing each channel's webhook secret; its base URL."""
    fields = {name: shop.connector_fields() for name, shop in shops.items()}

    def secret(channel: str) -> str | None:
        entry = fields.get(channel, {})
        return entry.get("webhook_secret") or entry.get("notification_secret")

    url, stop = serve_in_thread(create_app(ledger, secrets=secret))
    try:
        yield url
    finally:
        stop()


class ThreadWorker:
    """``run_worker`` on its own thread and event loop, as ``deployments.sync_worker`` runs it."""

    def __init__(self, options: WorkerOptions) -> None:
        self.options = options
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"worker-{options.worker_id}")
        self._thread.start()
        self._ready.wait(10)

    def _run(self) -> None:
        async def main() -> None:
            self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
            self._ready.set()
            await run_worker(self.options, self._stop)

        try:
            asyncio.run(main())
        except BaseException as exc:
            self.error = exc

    def request_stop(self) -> None:
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)

    def stop(self) -> None:
        self.request_stop()
        self._thread.join(60)
        assert not self._thread.is_alive(), "the worker did not stop"
        assert self.error is None, self.error


def worker_options(stack: Stack, worker_id: str, **overrides: Any) -> WorkerOptions:
    base = WorkerOptions(
        database_url=stack.database_url, channels_file=str(stack.channels_file),
        worker_id=worker_id, lease_s=10.0, retry_base_s=0.25,
    )  # fmt: skip
    return WorkerOptions(**{**base.__dict__, **overrides})


def start_process_worker(
    stack: Stack, worker_id: str, log: Path, *extra: str
) -> subprocess.Popen[bytes]:
    """``python -m deployments.sync_worker`` in a new process, against the session's Prefect."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    command = [sys.executable, "-m", "deployments.sync_worker", "--database-url", stack.database_url,
               "--channels-file", str(stack.channels_file), "--worker-id", worker_id, *extra]  # fmt: skip
    with log.open("ab") as out:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
