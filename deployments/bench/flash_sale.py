"""One flash sale with everything running: Prefect, emulators, receiver and sync workers.

``stocksync demo`` and ``stocksync bench sync`` run the same sale (``stocksync.bench``); they differ
only in what they stand up (:class:`SaleStack`) and what they report. :func:`run_flash_sale`
stands it all up on a scratch ledger beside the one named, runs the sale, and stops everything,
the workers first.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from deployments.bench.prefect_server import Orchestration, flow_runs_since, prefect_server
from deployments.bench.workers import WorkerProcess, WorkerThread, stop_all
from stocksync.bench.contention import busy_processes
from stocksync.bench.fleet import CHANNELS, Fleet, start_fleet
from stocksync.bench.sale_run import SaleReport, run_sale
from stocksync.bench.scratch import scratch_ledger_url
from stocksync.bench.shoppers import SaleShape
from stocksync.bench.sync_metrics import throttle_errors_left
from stocksync.ledger.config import ChannelInfo

__all__ = ["SaleRun", "SaleStack", "run_flash_sale"]


@dataclass(frozen=True)
class SaleStack:
    """What one sale stands up."""

    label: str
    """Names the scratch ledger, its temporary directory and the sync worker."""
    catalog: str
    """A catalog CSV; its ``listing:<channel>`` cells say which emulator lists which SKU."""
    database_url: str | None = None
    """A PostgreSQL server for the scratch ledger (default: SQLite in the temporary directory)."""
    keep_ledger: bool = False
    prefect_port: int = 4200
    latency_ms: int = 0
    """Every emulated API call's latency."""
    receiver_process: bool = True
    """The receiver in its own process(es), as deployed, or on a thread of this one."""
    receiver_workers: int = 1
    worker_per_channel: bool = False
    """One sync worker per channel, or one for all."""
    worker_process: bool = False
    """Each sync worker in its own process, as deployed, or on a thread of this one."""
    channels: tuple[ChannelInfo, ...] = CHANNELS
    """The channels, their priorities and listing rules."""
    busy_processes: int = 0
    """CPU-bound processes kept running through the sale (``stocksync.bench.contention``)."""


@dataclass(frozen=True)
class SaleRun:
    """What the sale measured, and where it ran."""

    report: SaleReport
    database_url: str
    prefect: Orchestration
    flow_runs: dict[str, Any]
    """sync-inventory runs during the sale, by state (``flow_runs_since``)."""
    throttle_errors_left: int


def run_flash_sale(
    stack: SaleStack,
    shape: SaleShape,
    skus: Sequence[str] | None = None,
    *,
    threads: int,
    settle_timeout_s: float = 30.0,
    say: Callable[[str], Any],
) -> SaleRun:
    """Stand up ``stack``, sell ``skus`` (default: those every channel lists) at ``shape``'s rate
    from ``threads`` shoppers, wait for the channels to converge, and stop it all."""
    with (
        tempfile.TemporaryDirectory(prefix=f"stocksync-{stack.label}-") as tmp,
        scratch_ledger_url(
            stack.database_url, Path(tmp), label=stack.label, keep=stack.keep_ledger
        ) as url,
        prefect_server(stack.prefect_port, Path(tmp) / "prefect-server.log") as prefect,
    ):
        if stack.keep_ledger:
            say(f"scratch ledger kept: {url}")
        say(f"Prefect: {prefect.ui_url}" + ("" if prefect.started_here else " (PREFECT_API_URL)"))
        fleet = start_fleet(
            url, stack.catalog, Path(tmp), channels=stack.channels, latency_ms=stack.latency_ms,
            receiver_process=stack.receiver_process, receiver_workers=stack.receiver_workers,
        )  # fmt: skip
        try:
            say(f"ledger: {url.split('@')[-1]}; receiver: {fleet.receiver_url}")
            started = datetime.now(UTC)
            workers: list[WorkerThread | WorkerProcess] = []
            try:
                for channels in _worker_channels(stack, fleet):
                    workers.append(_worker(stack, fleet, channels, Path(tmp)).start())
                with busy_processes(stack.busy_processes) as busy:
                    if busy:
                        say(f"{len(busy)} busy processes keep the CPU loaded during the sale")
                    report = run_sale(
                        fleet, shape, fleet.skus if skus is None else skus, threads=threads,
                        progress=say, settle_timeout_s=settle_timeout_s,
                    )  # fmt: skip
            finally:
                stop_all(workers)
            runs = flow_runs_since(started)
            left = throttle_errors_left(fleet)
        finally:
            fleet.stop()
    return SaleRun(report, url, prefect, runs, left)


def _worker_channels(stack: SaleStack, fleet: Fleet) -> list[tuple[str, ...]]:
    """The channels of each sync worker (empty: every configured channel)."""
    return [(name,) for name in fleet.emulators] if stack.worker_per_channel else [()]


def _worker(
    stack: SaleStack, fleet: Fleet, channels: tuple[str, ...], workdir: Path
) -> WorkerThread | WorkerProcess:
    worker_id = "-".join(channels) or stack.label
    if not stack.worker_process:
        return WorkerThread(
            fleet.database_url, fleet.channels_file, channels=channels, worker_id=worker_id
        )
    return WorkerProcess(
        fleet.database_url, fleet.channels_file, workdir / f"worker-{worker_id}.log",
        channels=channels, worker_id=worker_id,
    )  # fmt: skip
