"""``stocksync up`` stopped by Ctrl-C as a terminal sends it (SIGINT to the whole foreground
process group), once everything is up and while it is still starting: no traceback, exit 0,
nothing left listening."""

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


def _start(database_url: str, port: int) -> subprocess.Popen[bytes]:
    from prefect.settings import PREFECT_API_URL

    env = dict(os.environ, PREFECT_API_URL=str(PREFECT_API_URL.value()),
               STOCKSYNC_DATABASE_URL=database_url)  # fmt: skip
    argv = [sys.executable, "-m", "deployments.up", "--port", str(port)]
    # its own process group, as a shell runs a job: the group is what Ctrl-C signals
    return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip


def _ctrl_c(up: subprocess.Popen[bytes]) -> tuple[int, str]:
    os.killpg(up.pid, signal.SIGINT)
    try:
        output, _ = up.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(up.pid, signal.SIGKILL)
        output, _ = up.communicate()
        pytest.fail(f"still running a minute after Ctrl-C:\n{output.decode()}")
    return up.returncode, output.decode()


def _answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=2)
    except httpx.TransportError:
        return False
    return True


def _descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (Linux: parents from /proc)."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_ctrl_c_once_up_stops_everything_without_a_traceback(database_url: str) -> None:
    port = _free_port()
    up = _start(database_url, port)
    lines = []
    deadline = time.monotonic() + 90
    assert up.stdout is not None
    while time.monotonic() < deadline and up.poll() is None:
        lines.append(up.stdout.readline().decode())
        if "stocksync is up" in lines[-1]:
            break
    assert any("stocksync is up" in ln for ln in lines), "".join(lines)
    time.sleep(1)  # the worker and the scheduled flows are still importing Prefect

    started = _descendants(up.pid)
    code, output = _ctrl_c(up)

    output = "".join(lines) + output
    assert "Traceback" not in output, output
    assert code == 0, output
    assert not _answers(f"http://127.0.0.1:{port}/healthz")
    assert started and not [pid for pid in started if _alive(pid)], output


def test_ctrl_c_while_starting_stops_what_started_without_a_traceback(database_url: str) -> None:
    port = _free_port()
    up = _start(database_url, port)
    deadline = time.monotonic() + 60
    while not _answers(f"http://127.0.0.1:{port}/healthz"):  # the receiver is up, not the rest
        assert time.monotonic() < deadline and up.poll() is None
        time.sleep(0.05)
    started = _descendants(up.pid)

    code, output = _ctrl_c(up)

    assert "Traceback" not in output, output
    assert code == 0, output
    assert not _answers(f"http://127.0.0.1:{port}/healthz")
    assert started and not [pid for pid in started if _alive(pid)], output
