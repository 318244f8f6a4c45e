"""Concurrent writers on real connections: nothing committed twice, nothing lost."""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, text

from stocksync.ledger.db import make_engine
from stocksync.ledger.results import LineIn, OrderResult
from stocksync.ledger.service import Ledger
from tests.factories import load_catalog, shop_with
from tests.integration.test_orders import stock_of

CHANNELS = ["shopify-main", "amazon-eu", "woo-site"]


def run_concurrently(workers: int, job: Callable[[int], object]) -> list[object]:
    """Start ``workers`` threads at one barrier; return their results, re-raising any error."""
    barrier = threading.Barrier(workers)
    results: list[object] = [None] * workers
    errors: list[BaseException] = []

    def body(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = job(i)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    if errors:
        raise errors[0]
    return results


class AvailabilityWatch:
    """Samples the lowest available count in the stock table while writers run."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.lowest: int | None = None
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        while not self._stop.is_set():
            with self.engine.connect() as conn:
                low = conn.execute(text("SELECT MIN(on_hand - committed) FROM stock")).scalar()
                conn.rollback()
            self.samples += 1
            if low is not None and (self.lowest is None or low < self.lowest):
                self.lowest = low

    def __enter__(self) -> AvailabilityWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def test_thirty_orders_for_the_last_three_units_commit_exactly_three(
    ledger: Ledger, engine: Engine, database_url: str, backend: str
) -> None:
    shop_with(ledger, {"TEAL-MUG-350ML": {"berlin": 3}, "OAK-COASTER": {"berlin": 50}})
    # ten writers, each on a connection of its own (an engine with a pool of one)
    writers = [make_engine(database_url, pool_size=1) for _ in range(10)]
    sessions: set[object] = set()

    def place_three(worker: int) -> list[OrderResult]:
        mine = Ledger(writers[worker])
        placed = []
        for n in range(3):
            channel = CHANNELS[(worker + n) % 3]
            placed.append(
                mine.record_order(channel, f"W{worker}-{n}", [LineIn("TEAL-MUG-350ML", 1)])
            )
        if backend == "postgres":
            sessions.add(
                mine.run(lambda s: s.execute(text("SELECT pg_backend_pid()")).scalar_one())
            )
        return placed

    try:
        with AvailabilityWatch(engine) as watch:
            results = [r for batch in run_concurrently(10, place_three) for r in batch]  # type: ignore[union-attr]
    finally:
        for w in writers:
            w.dispose()

    lines = [r.lines[0] for r in results]
    assert len(results) == 30
    assert sum(ln.committed for ln in lines) == 3
    assert sum(ln.short for ln in lines) == 27
    assert Counter(r.status.value for r in results) == {"committed": 3, "oversold": 27}
    assert stock_of(ledger, "TEAL-MUG-350ML") == {"berlin": (3, 3)}
    assert ledger.verify() == []
    assert watch.samples > 0 and watch.lowest is not None and watch.lowest >= 0
    if backend == "postgres":
        assert len(sessions) == 10, "each writer should have had a server session of its own"


def test_one_order_delivered_five_times_at_once_commits_once(ledger: Ledger) -> None:
    shop_with(ledger, {"TEAL-MUG-350ML": {"berlin": 10}})

    results = run_concurrently(
        5,
        lambda _: ledger.record_order(
            "shopify-main", "820982911946154508", [LineIn("TEAL-MUG-350ML", 2)]
        ),
    )

    assert sorted(r.duplicate for r in results) == [False, True, True, True, True]  # type: ignore[union-attr]
    assert {r.lines[0].committed for r in results} == {2}  # type: ignore[union-attr]
    assert stock_of(ledger, "TEAL-MUG-350ML") == {"berlin": (10, 2)}
    assert ledger.verify() == []


def test_a_cancel_racing_its_own_duplicates_releases_once(ledger: Ledger) -> None:
    shop_with(ledger, {"TEAL-MUG-350ML": {"berlin": 10}})
    ledger.record_order("amazon-eu", "114-1", [LineIn("TEAL-MUG-350ML", 4)])

    results = run_concurrently(4, lambda _: ledger.cancel_order("amazon-eu", "114-1"))

    assert sum(not r.duplicate for r in results) == 1  # type: ignore[union-attr]
    assert stock_of(ledger, "TEAL-MUG-350ML") == {"berlin": (10, 0)}


def test_mixed_concurrent_traffic_keeps_every_invariant(ledger: Ledger, engine: Engine) -> None:
    skus = ["TEAL-MUG-350ML", "OAK-COASTER", "LINEN-NAPKIN", "SLATE-TRAY"]
    shop_with(ledger, {sku: {"berlin": 6, "leeds": 4} for sku in skus})
    load_catalog(
        ledger,
        "sku,location,on_hand,components,listing:shopify-main,listing:amazon-eu\n"
        "TABLE-SET,,,TEAL-MUG-350ML*1;OAK-COASTER*2;LINEN-NAPKIN*2,gid-ts,B0TS\n",
    )

    def traffic(worker: int) -> int:
        rnd = random.Random(worker)
        done = 0
        for n in range(12):
            channel, order_id = rnd.choice(CHANNELS), f"W{worker}-{n}"
            lines = [
                LineIn(rnd.choice([*skus, "TABLE-SET"]), rnd.randint(1, 3))
                for _ in range(rnd.randint(1, 3))
            ]
            ledger.record_order(channel, order_id, lines)
            roll = rnd.random()
            if roll < 0.25:
                ledger.cancel_order(channel, order_id)
            elif roll < 0.4:
                ledger.ship_order(channel, order_id)
            elif roll < 0.5:
                ledger.receive(rnd.choice(skus), rnd.randint(1, 4), rnd.choice(["berlin", "leeds"]))
            elif roll < 0.55:
                ledger.set_stock(
                    rnd.choice(skus), rnd.randint(0, 5), rnd.choice(["berlin", "leeds"])
                )
            done += 1
        return done

    with AvailabilityWatch(engine) as watch:
        assert sum(run_concurrently(8, traffic)) == 96  # type: ignore[arg-type]

    assert ledger.verify() == []
    assert watch.lowest is None or watch.lowest >= 0


@pytest.mark.postgres
def test_writers_lock_stock_rows_in_one_order_so_crossing_orders_never_deadlock(
    ledger: Ledger,
) -> None:
    shop_with(ledger, {"TEAL-MUG-350ML": {"berlin": 500}, "OAK-COASTER": {"berlin": 500}})

    def crossing(worker: int) -> None:
        first, second = ("TEAL-MUG-350ML", "OAK-COASTER")[:: 1 if worker % 2 else -1]
        for n in range(25):
            ledger.record_order(
                CHANNELS[worker % 3], f"X{worker}-{n}", [LineIn(first, 1), LineIn(second, 1)]
            )

    run_concurrently(8, crossing)

    assert stock_of(ledger, "TEAL-MUG-350ML") == {"berlin": (500, 200)}
    assert ledger.verify() == []
