"""Issue 4, "must show" 6: two sync workers and two receivers at once, on PostgreSQL.

Shoppers order on all three channels from several threads; Shopify and Amazon deliver to one
receiver, WooCommerce to the other. Two sync workers (each on its own thread and event loop,
with its own connectors) drain the same ledger. Every push either makes is recorded in the order
the channels accepted them. Orders only take units away, so each listing's desired quantity only
falls from version to version: a count pushed twice is a version pushed twice, and a count
higher than the one before it is a push out of order. Neither may happen, and all converges.
"""

from __future__ import annotations

import random
import threading
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

import tasks.sync
from stocksync.channels.base import ChannelConnector, PushStatus, QuantityPush
from stocksync.channels.registry import build_connector
from stocksync.sync.drain import drain as real_drain
from stocksync.sync.report import DrainReport, Outcome, PushRecord
from tasks.sync import ChannelSource
from tests.e2e.stack import (
    AMAZON,
    COASTER,
    LAMP,
    MUG,
    STOCK,
    WOO,
    Stack,
    ThreadWorker,
    running_receiver,
    worker_options,
)
from tests.integration.push_support import RecordingConnector

ORDERS = 36
SHOPPERS = 4


class PushLog:
    """Every quantity the channels accepted, per (channel, listing), in the order they did."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: dict[str, list[tuple[str, int, int | None, PushStatus]]] = defaultdict(list)
        self._local = threading.local()
        self.opened: list[ChannelConnector] = []
        self.pushers: defaultdict[str, int] = defaultdict(int)
        """Thread name → pushes it made (both workers must have taken part)."""
        self.trace: list[tuple[float, str, str, int, int | None]] = []
        self.records: list[PushRecord] = []

    def connector_for(self, source: ChannelSource) -> ChannelConnector:
        """A recording connector per channel and thread: the workers share nothing but the log."""
        held = self._local.__dict__.setdefault("connectors", {})
        if source.name not in held:
            inner = build_connector(source.kind, source.name, source.fields)
            self.opened.append(inner)
            held[source.name] = RecordingConnector(
                inner, self._count, log=self.entries[source.name], lock=self.lock
            )
        return held[source.name]  # type: ignore[no-any-return]

    def _count(self, pushes: Sequence[QuantityPush]) -> None:
        with self.lock:
            name = threading.current_thread().name
            self.pushers[name] += len(pushes)
            self.trace.extend((round(time.monotonic(), 3), name, p.listing_id, p.quantity, p.expected)
                              for p in pushes)  # fmt: skip

    def drain(self, *args: Any, **kwargs: Any) -> DrainReport:
        """The real drain; every push outcome it reports (with the listing's version) kept."""
        report = real_drain(*args, **kwargs)
        with self.lock:
            self.records.extend(r for ch in report.channels.values() for r in ch.records)
        return report

    def applied(self) -> dict[tuple[str, str], list[int]]:
        out: dict[tuple[str, str], list[int]] = defaultdict(list)
        with self.lock:
            for channel, entries in self.entries.items():
                for external_id, quantity, _, status in entries:
                    if status is PushStatus.APPLIED:
                        out[(channel, external_id)].append(quantity)
        return out


@pytest.fixture
def push_log(monkeypatch: pytest.MonkeyPatch) -> Iterator[PushLog]:
    log = PushLog()
    monkeypatch.setattr(tasks.sync, "connector_for", log.connector_for)
    monkeypatch.setattr(tasks.sync, "drain", log.drain)
    yield log
    for connector in log.opened:
        connector.close()


@pytest.mark.postgres
def test_two_workers_and_two_receivers_push_each_version_once_and_in_order(
    stack: Stack, push_log: PushLog
) -> None:
    workers = [ThreadWorker(worker_options(stack, f"w-{n}")) for n in (1, 2)]
    try:
        with running_receiver(stack.ledger, stack.shops) as second:
            stack.receivers.append(second)
            stack.point_webhooks(second, [WOO])
            stack.wait_converged(timeout_s=30)

            rng = random.Random(7)  # one unit each, SKUs in turn: no SKU can sell out
            skus = [MUG, COASTER, LAMP]
            wanted = [(rng.choice(list(stack.shops)), skus[n % 3], 1) for n in range(ORDERS)]

            def place(order: tuple[str, str, int]) -> tuple[str, str, int, bool]:
                channel, sku, units = order
                return channel, sku, units, stack.shop(channel).shopper_order({sku: units}).accepted

            stack.shop(WOO).set_faults(latency_ms=200)  # one worker busy there, the other free
            with ThreadPoolExecutor(SHOPPERS) as shoppers:
                placed = list(shoppers.map(place, wanted))
            stack.wait_converged(timeout_s=40)
            received = stack.received("applied")
    finally:
        for worker in workers:  # both at once, so neither waits for the other to stop
            worker.request_stop()
        for worker in workers:
            worker.stop()

    sold = {sku: sum(u for _, s, u, ok in placed if ok and s == sku) for sku in STOCK}
    assert all(ok for *_, ok in placed)
    assert len(push_log.pushers) >= 2, push_log.pushers  # both workers pushed
    assert received.get(WOO, 0) > 0 and received.get(AMAZON, 0) > 0  # both receivers worked
    for sku, units in sold.items():
        assert stack.committed(sku) == units
        assert {n: s.shown(sku) for n, s in stack.shops.items()} == dict.fromkeys(
            stack.shops, STOCK[sku] - units
        )
    listings = {name: shop.listings() for name, shop in stack.shops.items()}
    for (channel, external_id), quantities in push_log.applied().items():
        sku = next(s for s, (ext, _) in listings[channel].items() if ext == external_id)
        assert all(a >= b for a, b in zip(quantities, quantities[1:], strict=False)), (
            f"{channel}/{sku} received {quantities}: out of order; "
            f"trace: {[t for t in push_log.trace if t[2] == external_id]}"
        )
        assert quantities[-1] == stack.listing(channel, sku).desired
    assert not [r for r in push_log.records if r.outcome is Outcome.LOST_LEASE]
    pushed: dict[tuple[str, str], dict[int, set[int]]] = defaultdict(lambda: defaultdict(set))
    for r in push_log.records:
        if r.outcome is Outcome.PUSHED:
            pushed[(r.channel, r.sku)][r.version].add(r.quantity)
    for (channel, sku), versions in pushed.items():
        by_version = [min(versions[v]) for v in sorted(versions)]
        assert all(len(q) == 1 for q in versions.values()), f"{channel}/{sku}: {dict(versions)}"
        assert by_version == sorted(by_version, reverse=True), f"{channel}/{sku}: {by_version}"
    assert stack.ledger.verify() == []
