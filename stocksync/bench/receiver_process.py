"""``stocksync serve`` in a process of its own, for a benchmark that must not share its CPU."""

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

__all__ = ["served_receiver"]


@contextmanager
def served_receiver(
    database_url: str,
    secrets: Mapping[str, str],
    log_path: Path,
    *,
    workers: int = 1,
    startup_timeout_s: float = 30.0,
) -> Iterator[str]:
    """Run ``stocksync serve`` on a free loopback port until the block ends; yield its base URL.

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
        yield base_url
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
