"""``stocksync serve`` stopped by Ctrl-C as a terminal sends it (SIGINT to the whole foreground
process group) as soon as it answers: with several workers, some are still importing then."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.flows.test_up_signals import _alive, _answers, _descendants
from tests.integration.test_ports import free_port
from tests.integration.test_receiver import wait_until

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_serve_stops_on_ctrl_c_or_sigterm_without_a_traceback(
    sqlite_template: Path, tmp_path: Path, workers: int, sig: signal.Signals
) -> None:
    shutil.copy(sqlite_template, tmp_path / "ledger.db")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STOCKSYNC_")}
    env |= {"PYTHONPATH": str(ROOT), "STOCKSYNC_DATABASE_URL": f"sqlite:///{tmp_path}/ledger.db"}
    command = "from stocksync.cli import app; app()"
    argv = [sys.executable, "-c", command, "serve", "--port", str(port), "--workers", str(workers)]
    server = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              start_new_session=True)  # fmt: skip
    try:
        wait_until(lambda: _answers(f"http://127.0.0.1:{port}/healthz"), timeout_s=30)
        started = _descendants(server.pid) | {server.pid}

        if sig is signal.SIGINT:
            os.killpg(server.pid, sig)  # the terminal's Ctrl-C: the whole group
        else:
            server.send_signal(sig)  # a service manager: the process
        output, _ = server.communicate(timeout=30)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.communicate()

    text = output.decode()
    assert "Traceback" not in text, text
    assert server.returncode == 0, text
    assert not [pid for pid in started if _alive(pid)], text
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
