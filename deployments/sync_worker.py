"""The long-lived sync worker: wait for dirty listings, run ``sync-inventory`` in-process, repeat.

``python -m deployments.sync_worker [--database-url URL | --database-block NAME] [--channel NAME …]
[--channels-file PATH] [--use-blocks] [--worker-id ID] [--idle-timeout S] [--lease-s S]
[--retry-base-s S]``

One asyncio loop in one process. Waiting is ``wait_for_dirty`` (PostgreSQL LISTEN/NOTIFY, a short
poll on SQLite) in a thread, restricted to the channels this worker drains; each wake-up awaits
the async flow in this process (~0.2 s of Prefect overhead; a deployment run would start a new
Python process, ~2 s). Orders that arrive while a run is pushing are carried by the next run, so
a burst costs a few runs, not one per order. Connectors, pacing state and the database pool live
in ``tasks.sync``'s registry across runs. SIGINT/SIGTERM stop the worker after the current run.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass

from sqlalchemy import Engine

from flows.config import ledger_url
from flows.sync_inventory import ListingsHeldBack, sync_inventory
from stocksync.sync.reserves import ReserveReleaser
from stocksync.sync.wakeup import wait_for_dirty
from tasks.sync import (
    DEFAULT_LEASE_S,
    DEFAULT_RETRY_BASE_S,
    configured_channels,
    ledger_for,
    ledger_kinds,
    registry_held,
)

log = logging.getLogger("stocksync.worker")

SLICE_S = 1.0
"""The longest a wait lasts before the loop looks at its stop flag again."""
REFRESH_S = 30.0
"""How often an idle worker re-reads which channels are configured."""
MAX_QUIET_BACKOFF_S = 30.0
"""Runs that do nothing although listings were due, one after another, wait longer and longer
(up to this) instead of spinning; the first idle wait resets the count."""


@dataclass(frozen=True)
class WorkerOptions:
    database_url: str | None = None
    database_block: str | None = None
    channels: tuple[str, ...] = ()
    channels_file: str | None = None
    use_blocks: bool = False
    worker_id: str = ""
    idle_timeout_s: float | None = None
    """Stop after this long with nothing to push (None: run until stopped)."""
    lease_s: float = DEFAULT_LEASE_S
    """How long a listing stays claimed if this worker dies mid-push (must outlast one call)."""
    retry_base_s: float = DEFAULT_RETRY_BASE_S
    """First backoff step after a transient channel failure."""


async def run_worker(options: WorkerOptions, stop: asyncio.Event) -> int:
    """Drain on every wake-up until ``stop`` is set (or the idle timeout passes); the run count.

    The process's connectors and ledgers stay open until the last worker running in it stops.
    """
    url = await ledger_url(options.database_block, options.database_url)
    with registry_held():
        runs = await _drain_until_stopped(url, options, stop)
    log.info("stopped after %d runs", runs)
    return runs


async def _drain_until_stopped(url: str, options: WorkerOptions, stop: asyncio.Event) -> int:
    engine = ledger_for(url).engine
    worker_id = options.worker_id or f"{socket.gethostname()}:{os.getpid()}"
    runs, quiet = 0, 0
    idle_since = time.monotonic()
    watched, refreshed = _watched(url, options), time.monotonic()
    releaser = ReserveReleaser(ledger_for(url))
    while not stop.is_set():
        if time.monotonic() - refreshed > REFRESH_S:
            watched, refreshed = _watched(url, options), time.monotonic()
        if not await _wait(engine, watched, stop):
            await asyncio.to_thread(releaser.maybe)
            quiet = 0
            if _idle_too_long(options, idle_since):
                log.info("idle for %.0f s: stopping", options.idle_timeout_s)
                break
            continue
        counts = await _run_once(options, worker_id)
        runs += 1
        idle_since = time.monotonic()
        if counts is not None:  # watch what the run drained: no wake-ups for the rest
            watched, refreshed = sorted(counts), time.monotonic()
        quiet = 0 if counts and _moved(counts) else quiet + 1
        if quiet:
            await _sleep_unless_stopped(min(2.0**quiet / 4, MAX_QUIET_BACKOFF_S), stop)
    return runs


def _watched(url: str, options: WorkerOptions) -> list[str]:
    """The channels whose dirty listings wake this worker, before a run says which it drained
    (and every REFRESH_S, so a channel configured later is picked up)."""
    if options.channels:
        return list(options.channels)
    if options.use_blocks:
        return sorted(ledger_kinds(url))
    sources, _ = configured_channels(url, None, options.channels_file)
    return sorted(sources)


async def _wait(engine: Engine, channels: list[str], stop: asyncio.Event) -> bool:
    if not channels:
        await _sleep_unless_stopped(SLICE_S, stop)
        return False
    return await asyncio.to_thread(wait_for_dirty, engine, SLICE_S, channels=channels)


async def _run_once(options: WorkerOptions, worker_id: str) -> dict[str, dict[str, int]] | None:
    """One sync-inventory run; a failed run is logged and the worker carries on."""
    try:
        return await sync_inventory(
            channels=list(options.channels) or None,
            database_block=options.database_block,
            database_url=None if options.database_block else options.database_url,
            channels_file=options.channels_file,
            use_blocks=options.use_blocks,
            worker_id=worker_id,
            lease_s=options.lease_s,
            retry_base_s=options.retry_base_s,
        )
    except ListingsHeldBack as exc:  # the run did its work; a person must see to these
        log.warning("%s", exc)
        return exc.counts
    except Exception:
        log.exception("sync-inventory run failed; the listings stay dirty for the next run")
        return None


def _moved(counts: dict[str, dict[str, int]]) -> bool:
    """Whether a run did anything a channel took part in (pushed, conflicted, failed)."""
    return any(n for per in counts.values() for n in per.values())


def _idle_too_long(options: WorkerOptions, idle_since: float) -> bool:
    limit = options.idle_timeout_s
    return limit is not None and time.monotonic() - idle_since >= limit


async def _sleep_unless_stopped(seconds: float, stop: asyncio.Event) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass


class _Stoppable:
    """The worker's loop on its own thread; the main thread keeps the signals.

    Prefect's flow engine swaps in its own SIGTERM handler while a flow runs, and that handler
    crashes the run. The engine can only do so on the main thread, so running the loop on
    another thread leaves SIGTERM with us: the current run finishes, then the worker stops.
    """

    def __init__(self, options: WorkerOptions) -> None:
        self.options = options
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stop: asyncio.Event | None = None
        self.stopping = False
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported by the main thread's exit code
            log.exception("the sync worker failed")
            self.error = exc

    async def _main(self) -> None:
        self.stop = asyncio.Event()
        self.loop = asyncio.get_running_loop()
        if self.stopping:
            self.stop.set()
        log.info("sync worker %s started", self.options.worker_id or os.getpid())
        await run_worker(self.options, self.stop)

    def request_stop(self, signum: int, _frame: object) -> None:
        log.info("%s: stopping after the current run", signal.Signals(signum).name)
        self.stopping = True
        if self.loop is not None and self.stop is not None:
            self.loop.call_soon_threadsafe(self.stop.set)


def parse_args(argv: list[str] | None = None) -> WorkerOptions:
    parser = argparse.ArgumentParser(prog="python -m deployments.sync_worker", description=__doc__)
    parser.add_argument("--database-url", help="The ledger (default: STOCKSYNC_DATABASE_URL).")
    parser.add_argument("--database-block", help="A stocksync-ledger-database block name.")
    parser.add_argument(
        "--channel", action="append", default=[], help="Drain only this channel (repeatable)."
    )
    parser.add_argument("--channels-file", help="Channels file (default: STOCKSYNC_CHANNELS_FILE).")
    parser.add_argument(
        "--use-blocks", action="store_true", help="Read channels from Prefect blocks."
    )
    parser.add_argument("--worker-id", default="", help="Lease owner name (default: host:pid).")
    parser.add_argument(
        "--idle-timeout", type=float, default=None, help="Stop after S seconds with nothing to do."
    )
    parser.add_argument(
        "--lease-s", type=float, default=DEFAULT_LEASE_S,
        help="Seconds a claimed listing stays this worker's if it dies mid-push.",
    )  # fmt: skip
    parser.add_argument(
        "--retry-base-s", type=float, default=DEFAULT_RETRY_BASE_S,
        help="First backoff step after a transient channel failure.",
    )  # fmt: skip
    args = parser.parse_args(argv)
    return WorkerOptions(
        args.database_url, args.database_block, tuple(args.channel), args.channels_file,
        args.use_blocks, args.worker_id, args.idle_timeout, args.lease_s, args.retry_base_s,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(
        logging.Formatter("%(asctime)s | %(levelname)-7s | %(name)s - %(message)s")
    )
    log.addHandler(handler)  # Prefect configures logging at import; this logger is ours alone
    log.setLevel(logging.INFO)
    log.propagate = False
    worker = _Stoppable(parse_args(argv))
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, worker.request_stop)
    thread = threading.Thread(target=worker.run, name="sync-worker")
    thread.start()
    while thread.is_alive():
        thread.join(timeout=0.5)  # short joins, so the main thread runs the signal handlers
    raise SystemExit(1 if worker.error else 0)


if __name__ == "__main__":
    main()
