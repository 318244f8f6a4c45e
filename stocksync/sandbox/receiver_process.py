"""The webhook receiver in its own process, as ``stocksync up`` and a real deployment run it.

A demo or benchmark that hosts the emulators, the shoppers and the measuring in one Python process
would otherwise share one interpreter lock with the receiver; in its own process it gets a core of
its own, as it would behind a load balancer.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import httpx

from stocksync.receiver.secrets import secret_env_name

__all__ = ["serve_in_process"]


def serve_in_process(
    database_url: str,
    secrets: Mapping[str, str],
    log_path: Path,
    *,
    startup_timeout_s: float = 60.0,
) -> tuple[str, Callable[[], None]]:
    """Start ``stocksync serve``'s app under uvicorn on a free loopback port; ``(base_url, stop)``.

    ``secrets`` (channel → webhook secret) go to the child through its environment, never on its
    command line. Returns once ``/healthz`` answers 200.
    """
    port = _free_port()
    env = {
        **os.environ,
        "STOCKSYNC_DATABASE_URL": database_url,
        **{secret_env_name(channel): value for channel, value in secrets.items()},
    }
    argv = [
        sys.executable, "-m", "uvicorn", "--factory", "stocksync.receiver.app:create_app",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    with log_path.open("ab") as log:
        process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"

    def stop() -> None:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    try:
        _wait_healthy(base_url, process, startup_timeout_s, log_path)
    except BaseException:
        stop()
        raise
    return base_url, stop


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(
    base_url: str, process: subprocess.Popen[bytes], timeout_s: float, log_path: Path
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the receiver exited ({process.returncode}); see {log_path}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the receiver did not answer within {timeout_s:.0f} s; see {log_path}")
