"""``stocksync up`` against the session's Prefect server: everything starts, answers and stops."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_up_starts_the_receiver_and_the_worker_and_stops_on_ctrl_c(
    database_url: str, tmp_path: Path
) -> None:
    from prefect.settings import PREFECT_API_URL

    port = _free_port()
    env = dict(os.environ, PREFECT_API_URL=str(PREFECT_API_URL.value()),
               STOCKSYNC_DATABASE_URL=database_url)  # fmt: skip
    argv = [sys.executable, "-m", "deployments.up", "--port", str(port), "--no-schedules"]
    up = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = up.stdout.readline().decode() if up.stdout else ""
            lines.append(line)
            if "stocksync is up" in line or up.poll() is not None:
                break
        assert any("stocksync is up" in ln for ln in lines), "".join(lines)
        assert any(f"http://127.0.0.1:{port}/webhooks/<kind>/<channel>" in ln for ln in lines)
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json() == {"status": "ok"}

        up.send_signal(signal.SIGINT)
        assert up.wait(timeout=30) == 0
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()
        if up.stdout:
            up.stdout.close()
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
