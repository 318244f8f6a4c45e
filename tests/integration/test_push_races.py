"""Two drainers at once on PostgreSQL while orders keep arriving: leases keep them apart."""

from __future__ import annotations

import random
import threading
import time
from collections import defaultdict
from collections.abc import Iterator

import pytest

from stocksync.channels.base import PushStatus
from stocksync.ledger.results import LineIn
from stocksync.ledger.service import Ledger
from stocksync.sync.drain import drain
from tests.integration.push_support import (
    AMAZON,
    SHOPIFY,
    WOO,
    RecordingConnector,
    Shops,
    list_in_ledger,
    listing,
    running_shops,
)
from tests.integration.test_races import run_concurrently

SKUS = [f"OAK-COASTER-{n:02d}" for n in range(24)]
ORDERS = 60


@pytest.fixture
def shops(ledger: Ledger) -> Iterator[Shops]:
    with running_shops(SKUS) as running:
        list_in_ledger(ledger, running, dict.fromkeys(SKUS, 40))
        drain(ledger, running.connectors, worker_id="setup")
        yield running


@pytest.mark.postgres
def test_two_drainers_never_push_a_version_twice_nor_an_older_one_after_a_newer(
    ledger: Ledger, shops: Shops
) -> None:
    shops.shopify.faults.latency_ms = 15  # calls overlap the way slow channels make them
    shops.woo.faults.latency_ms = 15
    log: list[tuple[str, int, int | None, PushStatus]] = []
    lock = threading.Lock()
    drainers = [
        {name: RecordingConnector(conn, max_batch=5, log=log, lock=lock)
         for name, conn in shops.new_connectors().items()}
        for _ in range(2)
    ]  # fmt: skip
    orders_done = threading.Event()
    rng = random.Random(4)
    picks = [rng.choice(SKUS) for _ in range(ORDERS)]

    def job(i: int) -> int:
        if i == 2:
            for n, sku in enumerate(picks):
                ledger.record_order(AMAZON, f"114-{n}", [LineIn(sku, 1)])
                time.sleep(0.005)
            orders_done.set()
            return 0
        pushed = 0
        while True:
            finished = orders_done.is_set()
            report = drain(ledger, drainers[i], worker_id=f"drainer-{i}")
            pushed += sum(len(ch.pushed) for ch in report.channels.values())
            if finished and not any(ch.records for ch in report.channels.values()):
                return pushed

    pushed = run_concurrently(3, job)
    assert all(pushed[:2]), pushed  # both drainers took part
    drain(ledger, shops.connectors, worker_id="sweep")  # whatever a lease race left behind

    by_listing: dict[str, list[int]] = defaultdict(list)
    for ext, quantity, _, status in log:
        assert status is PushStatus.APPLIED
        by_listing[ext].append(quantity)
    for ext, quantities in by_listing.items():
        # desired only falls here (orders, no restocks), so each version has its own quantity:
        # strictly falling means no version went out twice and no older one after a newer one
        assert quantities == sorted(set(quantities), reverse=True), ext
    sold = {sku: picks.count(sku) for sku in SKUS}
    for sku in SKUS:
        assert shops.shows(sku) == {SHOPIFY: 40 - sold[sku], WOO: 40 - sold[sku]}
        for name in (SHOPIFY, WOO):
            view = listing(ledger, name, sku)
            assert (view.dirty, view.pushed_version, view.lease_owner) == (
                False,
                view.version,
                None,
            )
    assert sum(len(q) for q in by_listing.values()) >= len(set(picks)) * 2
    assert ledger.verify() == []
