"""Ledger write throughput: concurrent writer processes recording one-line orders.

Everything runs in scratch space beside the configured database and is removed afterwards, also
on an error or Ctrl-C: a schema ``stocksync_bench_<pid>`` on PostgreSQL (the writers reach it
through ``search_path``), a temporary file in the SQLite database's directory. On PostgreSQL,
``pgbench -N`` in a scratch database ``stocksync_pgbench_<pid>`` gives a yardstick for the
server itself. Nothing here prints: the CLI turns the returned report into a table or JSON.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import queue
import random
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import URL, create_engine, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool
from sqlmodel import Session

from stocksync.domain.errors import StockSyncError
from stocksync.ledger.catalog import import_catalog
from stocksync.ledger.config import ChannelInfo, LocationInfo, add_channel, add_location
from stocksync.ledger.db import make_engine
from stocksync.ledger.migrate import upgrade
from stocksync.ledger.results import LineIn
from stocksync.ledger.service import Ledger
from stocksync.ledger.sql import stock_table

__all__ = [
    "BenchError",
    "BenchOptions",
    "BenchReport",
    "CaseResult",
    "PgbenchResult",
    "run_ledger_bench",
    "run_pgbench",
    "scratch_ledger_url",
    "setup_ledger",
]

TARGETS = {"spread_orders_per_s": 1000, "hot_orders_per_s": 400}
CHANNELS = ("shopify", "amazon", "woocommerce")
"""Channel names; each channel's kind is its name."""
LOCATIONS = ("bench-east", "bench-west")
STOCK_PER_LOCATION = 1_000_000
STARTUP_TIMEOUT_S = 120.0
PGBENCH_SCALE, PGBENCH_CLIENTS, PGBENCH_THREADS = 10, 8, 2

Progress = Callable[[str], None]


class BenchError(StockSyncError):
    """The benchmark could not run: a writer failed, or pgbench did."""


@dataclass(frozen=True, slots=True)
class BenchOptions:
    writers: int = 8
    duration_s: int = 10
    skus: int = 1000
    pgbench: bool = True
    busy_timeout_ms: int = 30_000
    """SQLite only: how long a writer waits for the write lock."""


@dataclass(frozen=True, slots=True)
class CaseResult:
    orders: int
    orders_per_s: float
    p50_ms: float
    p99_ms: float
    verify_mismatches: int
    committed_units: int
    """Units the stock counters committed during the case; equals ``orders`` when sound."""

    @property
    def ok(self) -> bool:
        """The ledger verified, and committed exactly one unit per order recorded."""
        return self.verify_mismatches == 0 and self.committed_units == self.orders


@dataclass(frozen=True, slots=True)
class PgbenchResult:
    tps: float
    spread_ratio: float
    hot_ratio: float


@dataclass(frozen=True, slots=True)
class BenchReport:
    database: str
    writers: int
    duration_s: int
    cases: dict[str, CaseResult]
    pgbench: PgbenchResult | None

    @property
    def ok(self) -> bool:
        """Every case left a ledger that verifies and commits exactly the orders recorded."""
        return all(case.ok for case in self.cases.values())

    def to_dict(self) -> dict[str, Any]:
        """The report as ``--json`` prints it, with the targets the cases are measured against."""
        return {
            "database": self.database,
            "writers": self.writers,
            "duration_s": self.duration_s,
            "cases": {name: asdict(case) for name, case in self.cases.items()},
            "pgbench": asdict(self.pgbench) if self.pgbench else None,
            "targets": dict(TARGETS),
        }


@dataclass(frozen=True, slots=True)
class WriterJob:
    """What one writer process needs; plain values, so it crosses the process boundary."""

    url: str
    case: str
    worker: int
    skus: tuple[str, ...]
    duration_s: int
    busy_timeout_ms: int


@dataclass(frozen=True, slots=True)
class WriterRun:
    worker: int
    latencies_ms: list[float] = field(default_factory=list)
    elapsed_s: float = 0.0
    error: str | None = None


def run_ledger_bench(
    url: str, options: BenchOptions, progress: Progress | None = None
) -> BenchReport:
    """Run the spread and hot cases in scratch space, then pgbench when asked and available."""
    say = progress or (lambda _message: None)
    backend = make_url(url).get_backend_name()
    if backend not in ("postgresql", "sqlite"):
        raise BenchError(f"cannot benchmark a {backend} database")
    skus = [f"BENCH-{i:06d}" for i in range(options.skus)]
    cases: dict[str, CaseResult] = {}
    with scratch_ledger_url(url) as scratch:
        ledger = Ledger(make_engine(scratch, busy_timeout_ms=options.busy_timeout_ms))
        try:
            say(f"setting up {len(skus)} SKUs, {len(LOCATIONS)} locations, 3 channels")
            setup_ledger(ledger, skus)
            for case, pick in (("spread", skus), ("hot", skus[:1])):
                say(f"case {case}: {options.writers} writers for {options.duration_s}s")
                cases[case] = run_case(ledger, scratch, case, pick, options)
        finally:
            ledger.engine.dispose()
    pgbench = None
    if backend == "postgresql" and options.pgbench and shutil.which("pgbench"):
        say(f"pgbench -N -c {PGBENCH_CLIENTS} -j {PGBENCH_THREADS} -T {options.duration_s}")
        tps = round(run_pgbench(url, options.duration_s), 1)
        pgbench = PgbenchResult(
            tps, _ratio(cases["spread"].orders_per_s, tps), _ratio(cases["hot"].orders_per_s, tps)
        )
    return BenchReport(backend, options.writers, options.duration_s, cases, pgbench)


@contextmanager
def scratch_ledger_url(url: str) -> Iterator[str]:
    """The URL of a new, migrated ledger beside ``url``'s database; removed on exit."""
    parsed = make_url(url)
    scratch = _postgres_schema if parsed.get_backend_name() == "postgresql" else _sqlite_file
    with scratch(parsed) as target:
        engine = make_engine(target)
        try:
            upgrade(engine)
        finally:
            engine.dispose()
        yield target


@contextmanager
def _postgres_schema(url: URL) -> Iterator[str]:
    """A scratch schema on ``url``'s server; the URL yielded puts it alone on ``search_path``."""
    schema = f"stocksync_bench_{os.getpid()}"
    admin = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        try:
            given = url.query.get("options", "")
            given = given if isinstance(given, str) else " ".join(given)
            options = f"{given} -csearch_path={schema}".strip()
            yield url.update_query_dict({"options": options}).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        admin.dispose()


@contextmanager
def _sqlite_file(url: URL) -> Iterator[str]:
    """A temporary SQLite file in the configured database's directory, deleted with its WAL."""
    db = url.database
    folder = Path(db).resolve().parent if db and db != ":memory:" else Path(tempfile.gettempdir())
    fd, name = tempfile.mkstemp(prefix="stocksync_bench_", suffix=".db", dir=folder)
    os.close(fd)
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(name + suffix).unlink(missing_ok=True)


def setup_ledger(ledger: Ledger, skus: Sequence[str]) -> None:
    """Two locations feeding three channels; every SKU stocked at both and listed on all three."""

    def work(session: Session) -> None:
        for location in LOCATIONS:
            add_location(session, LocationInfo(location, "warehouse"))
        for channel in CHANNELS:
            add_channel(session, ChannelInfo(channel, channel, locations=LOCATIONS))
        import_catalog(session, catalog_csv(skus))

    ledger.run(work)


def catalog_csv(skus: Sequence[str]) -> str:
    """A catalog file: one row per SKU x location, with the SKU's listing id on every channel."""
    lines = [",".join(["sku", "location", "on_hand", *(f"listing:{c}" for c in CHANNELS)])]
    for sku in skus:
        listings = [f"{channel}-{sku}" for channel in CHANNELS]
        lines += [",".join([sku, loc, str(STOCK_PER_LOCATION), *listings]) for loc in LOCATIONS]
    return "\n".join(lines) + "\n"


def run_case(
    ledger: Ledger, url: str, case: str, skus: Sequence[str], options: BenchOptions
) -> CaseResult:
    """Run the writers on ``skus``, then verify the ledger and count what the case committed."""
    before = committed_units(ledger)
    runs = run_writers(url, case, skus, options)
    latencies = sorted(ms for run in runs for ms in run.latencies_ms)
    elapsed = max(run.elapsed_s for run in runs)
    return CaseResult(
        orders=len(latencies),
        orders_per_s=round(len(latencies) / elapsed, 1) if elapsed else 0.0,
        p50_ms=round(percentile(latencies, 50), 2),
        p99_ms=round(percentile(latencies, 99), 2),
        verify_mismatches=len(ledger.verify()),
        committed_units=committed_units(ledger) - before,
    )


def run_writers(url: str, case: str, skus: Sequence[str], options: BenchOptions) -> list[WriterRun]:
    """Start one process per writer, release them together at a barrier, gather their runs."""
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(options.writers + 1)
    results = ctx.Queue()
    procs = [
        ctx.Process(
            target=_writer,
            args=(
                WriterJob(url, case, n, tuple(skus), options.duration_s, options.busy_timeout_ms),
                barrier,
                results,
            ),
            daemon=True,
        )
        for n in range(options.writers)
    ]
    try:
        for proc in procs:
            proc.start()
        try:
            barrier.wait(timeout=STARTUP_TIMEOUT_S)
        except threading.BrokenBarrierError:
            _gather(results, len(procs), timeout_s=10)  # raises the writers' own errors
            raise BenchError("the writers did not start") from None
        return _gather(results, len(procs), timeout_s=options.duration_s + STARTUP_TIMEOUT_S)
    finally:
        _stop(procs)


def _gather(results: Any, count: int, timeout_s: float) -> list[WriterRun]:
    """Every writer's run from the queue; BenchError if one failed or did not report."""
    runs: list[WriterRun] = []
    deadline = time.monotonic() + timeout_s
    while len(runs) < count:
        try:
            runs.append(results.get(timeout=max(0.1, deadline - time.monotonic())))
        except queue.Empty:
            raise BenchError(f"{count - len(runs)} writer(s) did not report back") from None
    errors = [f"writer {run.worker}: {run.error}" for run in runs if run.error]
    if errors:
        raise BenchError("; ".join(errors))
    return runs


def _stop(procs: Sequence[Any]) -> None:
    """Join the writers, ending any that are still running (after an error or Ctrl-C)."""
    for proc in procs:
        if proc.pid is None:
            continue
        proc.join(timeout=5)
        if proc.is_alive():
            proc.terminate()
            proc.join()


def _writer(job: WriterJob, barrier: Any, results: Any) -> None:
    """One writer process: its own engine and ledger; waits at the barrier, then writes orders."""
    engine = None
    try:
        engine = make_engine(job.url, pool_size=1, busy_timeout_ms=job.busy_timeout_ms)
        engine.connect().close()  # connect before the clock starts
        barrier.wait(timeout=STARTUP_TIMEOUT_S)
        latencies, elapsed = write_orders(Ledger(engine), job)
        results.put(WriterRun(job.worker, latencies, elapsed))
    except BaseException as exc:  # anything, Ctrl-C included, goes back to the parent
        barrier.abort()
        results.put(WriterRun(job.worker, error=f"{type(exc).__name__}: {exc}"))
    finally:
        if engine is not None:
            engine.dispose()


def write_orders(ledger: Ledger, job: WriterJob) -> tuple[list[float], float]:
    """Record 1-unit orders until time is up; return each order's latency (ms) and seconds run."""
    rng = random.Random(f"{job.case}:{job.worker}")
    latencies: list[float] = []
    start = time.perf_counter()
    end = start + job.duration_s
    while (began := time.perf_counter()) < end:
        order_id = f"{job.case}-{job.worker}-{len(latencies)}"
        ledger.record_order(rng.choice(CHANNELS), order_id, [LineIn(rng.choice(job.skus), 1)])
        latencies.append((time.perf_counter() - began) * 1000)
    return latencies, time.perf_counter() - start


def committed_units(ledger: Ledger) -> int:
    """The sum of the committed counters over all stock rows."""
    total = select(func.coalesce(func.sum(stock_table.c.committed), 0))
    return int(ledger.run(lambda session: session.execute(total).scalar_one()))


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of already sorted values; 0.0 when there are none."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def run_pgbench(url: str, duration_s: int) -> float:
    """``pgbench -N`` (TPC-B-like, no branch/teller updates) in a scratch database; its tps."""
    server = make_url(url)
    name = f"stocksync_pgbench_{os.getpid()}"
    admin = create_engine(server, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            _pgbench(server, name, ["-i", "-q", "-s", str(PGBENCH_SCALE)], timeout_s=600)
            clients = ["-c", str(PGBENCH_CLIENTS), "-j", str(PGBENCH_THREADS)]
            run = ["-N", *clients, "-T", str(duration_s)]
            return parse_tps(_pgbench(server, name, run, timeout_s=duration_s + 120))
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


def _pgbench(server: URL, database: str, args: Sequence[str], timeout_s: float) -> str:
    """Run pgbench against ``database`` on ``server``'s host, port and user; its output."""
    cmd = ["pgbench", *args]
    if server.host:
        cmd += ["-h", server.host]
    if server.port:
        cmd += ["-p", str(server.port)]
    if server.username:
        cmd += ["-U", server.username]
    env = dict(os.environ)
    if server.password:
        env["PGPASSWORD"] = str(server.password)
    done = subprocess.run(
        [*cmd, database], capture_output=True, text=True, env=env, timeout=timeout_s, check=False
    )
    if done.returncode != 0:
        raise BenchError(f"pgbench {' '.join(args)} failed: {done.stderr.strip()[-500:]}")
    return done.stdout + done.stderr


def parse_tps(output: str) -> float:
    """The ``tps = ...`` pgbench reports without connection set-up (older versions print two)."""
    for match in re.finditer(r"^tps = ([0-9.]+)(.*)$", output, re.MULTILINE):
        if "including" not in match[2]:
            return float(match[1])
    raise BenchError("pgbench printed no tps line")


def _ratio(rate: float, tps: float) -> float:
    """``rate`` as a fraction of pgbench's tps."""
    return round(rate / tps, 3) if tps else 0.0
