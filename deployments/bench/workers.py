"""The sync worker a benchmark runs: on a thread of this process, or in its own, as deployed.

Both run the loop ``stocksync worker`` runs (``deployments.sync_worker``: wait for dirty listings,
await sync-inventory) against one ledger and channels file, until ``stop()``. The worker is
imported only when one starts, after ``PREFECT_API_URL`` names the server
(``deployments.bench.prefect_server``).
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

__all__ = ["WorkerProcess", "WorkerThread", "stop_all"]


class WorkerThread:
    """``deployments.sync_worker.run_worker`` on its own thread and event loop, until ``stop()``."""

    def __init__(
        self,
        database_url: str,
        channels_file: Path,
        *,
        channels: tuple[str, ...] = (),
        worker_id: str,
    ) -> None:
        from deployments.sync_worker import WorkerOptions

        self.options = WorkerOptions(
            database_url=database_url,
            channels=channels,
            channels_file=str(channels_file),
            worker_id=worker_id,
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
    """``python -m deployments.sync_worker`` (what ``stocksync worker`` runs) in its own process,
    as deployed, until ``stop()``; it reports its flow runs to the Prefect server named by
    ``PREFECT_API_URL``. Output goes to ``log_path``."""

    def __init__(
        self,
        database_url: str,
        channels_file: Path,
        log_path: Path,
        *,
        channels: tuple[str, ...] = (),
        worker_id: str,
    ) -> None:
        self.argv = [sys.executable, "-m", "deployments.sync_worker",
                     "--database-url", database_url,
                     "--channels-file", str(channels_file),
                     "--worker-id", worker_id]  # fmt: skip
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


def stop_all(workers: Sequence[WorkerThread | WorkerProcess]) -> None:
    """Stop every worker, then raise the first failure."""
    failures = []
    for worker in workers:
        try:
            worker.stop()
        except Exception as exc:
            failures.append(exc)
    if failures:
        raise failures[0]
