"""``stocksync serve`` in a process of its own, as deployed: for the demo and the benchmarks."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

__all__ = ["Served", "served_receiver"]


class Served:
    """A running receiver: its base URL, and the CPU its processes have used so far."""

    def __init__(self, base_url: str, pid: int) -> None:
        self.base_url, self.pid = base_url, pid

    def cpu_s(self) -> float | None:
        """User + system CPU seconds of the server and its worker processes (None off Linux)."""
        try:
            pids = [self.pid, *_children(self.pid)]
            return sum(_cpu_of(p) for p in pids)
        except OSError:
            return None


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def _cpu_of(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def served_receiver(
    database_url: str,
    secrets: Mapping[str, str],
    log_path: Path,
    *,
    workers: int = 1,
    startup_timeout_s: float = 30.0,
) -> Iterator[Served]:
    """Run ``stocksync serve`` on a free loopback port until the block ends.

    ``secrets`` maps channel name → webhook secret (passed as ``STOCKSYNC_<CHANNEL>_WEBHOOK_SECRET``).
    Its output goes to ``log_path``. Returns once ``/healthz`` answers 200 (the ledger is reachable).
    """
    port = _free_port()
    env = dict(os.environ, STOCKSYNC_DATABASE_URL=database_url)
    for name, secret in secrets.items():
        env[f"STOCKSYNC_{name.upper().replace('-', '_')}_WEBHOOK_SECRET"] = secret
    command = [sys.executable, "-m", "stocksync", "serve", "--port", str(port),
               "--workers", str(workers)]  # fmt: skip
    with log_path.open("ab") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(base_url, process, startup_timeout_s)
        yield Served(base_url, process.pid)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(base_url: str, process: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"stocksync serve exited with {process.returncode} at startup")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"stocksync serve did not answer /healthz within {timeout_s:.0f} s")
