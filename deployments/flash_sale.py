"""The Prefect half of the flash sale: a Prefect server, the sync worker in-process, run counts.

``stocksync demo`` and ``stocksync bench sync`` share this; the fleet, the shoppers and the
measurements are in ``stocksync`` (``stocksync.sandbox.flash_sale``, ``stocksync.bench``).
Nothing here imports Prefect at module level: ``PREFECT_API_URL`` must name the server before
Prefect reads its settings, so :func:`prefect_server` runs first and the worker is imported after.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from deployments.up import Stack, start_prefect
from stocksync.sandbox.flash_sale import Fleet

__all__ = ["Orchestration", "WorkerProcess", "WorkerThread", "flow_runs_since", "prefect_server"]


@dataclass(frozen=True)
class Orchestration:
    api_url: str
    ui_url: str
    started_here: bool


def _free_port(preferred: int) -> int:
    for port in (preferred, 0):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise RuntimeError("no free port")


class _QuietStack(Stack):
    """``stocksync up``'s process stack with the server's output in a log file, so the demo's
    own output (``--json`` above all) stays clean."""

    def __init__(self, log: IO[bytes]) -> None:
        super().__init__()
        self._log = log

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(argv, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        self.processes.append((name, process))
        return process


@contextmanager
def prefect_server(port: int, log_path: Path) -> Iterator[Orchestration]:
    """``PREFECT_API_URL`` if set, else a local ``prefect server`` (stopped on exit) logging to
    ``log_path``. Quiet by default: the worker's flow runs log to the server, not to this terminal.
    """
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    given = os.environ.get("PREFECT_API_URL")
    if given:
        yield Orchestration(given, given.removesuffix("/api"), False)
        return
    with log_path.open("ab") as log:
        stack = _QuietStack(log)
        try:
            api = start_prefect(stack, dict(os.environ), _free_port(port))
            os.environ["PREFECT_API_URL"] = api
            yield Orchestration(api, stack.urls["Prefect UI"], True)
        finally:
            os.environ.pop("PREFECT_API_URL", None)
            stack.stop()


class WorkerThread:
    """``deployments.sync_worker.run_worker`` on its own thread and event loop, until ``stop()``.

    The same loop ``stocksync worker`` runs (wait for dirty listings, await sync-inventory), here
    against the fleet's ledger and channels file.
    """

    def __init__(
        self, fleet: Fleet, *, channels: tuple[str, ...] = (), worker_id: str = ""
    ) -> None:
        from deployments.sync_worker import WorkerOptions

        self.options = WorkerOptions(
            database_url=fleet.database_url,
            channels=channels,
            channels_file=str(fleet.channels_file),
            worker_id=worker_id or "flash-sale",
        )
        self.runs = 0
        self.error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name=f"sync-worker-{worker_id}")

    def start(self) -> WorkerThread:
        self._thread.start()
        self._ready.wait(timeout=30)
        return self

    def _main(self) -> None:
        from deployments.sync_worker import run_worker

        async def go() -> int:
            self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
            self._ready.set()
            return await run_worker(self.options, self._stop)

        try:
            self.runs = asyncio.run(go())
        except BaseException as exc:  # reported by whoever stops the worker
            self.error = exc
            self._ready.set()

    def stop(self, timeout_s: float = 60.0) -> None:
        """Stop after the current run; raise what the worker failed with, if anything."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=timeout_s)
        if self.error is not None:
            raise RuntimeError(f"the sync worker failed: {self.error!r}") from self.error


class WorkerProcess:
    """``python -m deployments.sync_worker`` (what ``stocksync worker`` runs) in its own process
    against the fleet's ledger and channels file, as deployed, until ``stop()``; it reports its
    flow runs to the Prefect server named by ``PREFECT_API_URL``. Output goes to ``log_path``."""

    def __init__(
        self, fleet: Fleet, log_path: Path, *, channels: tuple[str, ...] = (), worker_id: str = ""
    ) -> None:
        self.argv = [sys.executable, "-m", "deployments.sync_worker",
                     "--database-url", fleet.database_url,
                     "--channels-file", str(fleet.channels_file),
                     "--worker-id", worker_id or "flash-sale"]  # fmt: skip
        for name in channels:
            self.argv += ["--channel", name]
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 60.0) -> WorkerProcess:
        """Start the worker and wait until it says it started (its imports done), so its start-up
        is not counted in the first orders' sync gap."""
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while b"started" not in self.log_path.read_bytes():
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the sync worker did not start; see {self.log_path}")
            time.sleep(0.1)
        return self

    def stop(self, timeout_s: float = 60.0) -> None:
        """Stop after the current run (SIGINT, as Ctrl-C); raise if the worker had failed."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                raise RuntimeError(f"the sync worker did not stop; see {self.log_path}") from None
        elif process.returncode != 0:
            raise RuntimeError(
                f"the sync worker exited with {process.returncode}; see {self.log_path}"
            )


def flow_runs_since(started: datetime) -> dict[str, Any]:
    """How many sync-inventory runs the server holds from ``started`` on, by state type."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowFilter,
        FlowFilterName,
        FlowRunFilter,
        FlowRunFilterStartTime,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    async def count() -> dict[str, Any]:
        flows = FlowFilter(name=FlowFilterName(any_=["sync-inventory"]))
        out: dict[str, Any] = {}
        async with get_client() as client:
            for state in (StateType.COMPLETED, StateType.FAILED, StateType.CRASHED):
                runs = FlowRunFilter(
                    start_time=FlowRunFilterStartTime(after_=started),
                    state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[state])),
                )
                out[state.value.lower()] = await client.count_flow_runs(
                    flow_filter=flows, flow_run_filter=runs
                )
        out["total"] = sum(out.values())
        return out

    return asyncio.run(count())
