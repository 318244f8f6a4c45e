"""``stocksync up``: everything one machine needs, started together and stopped together.

A local Prefect server (unless ``PREFECT_API_URL`` names one), the webhook receiver, the sync
worker and the scheduled flows (order polling, alerts, the nightly ledger check), each its own
process so one crash shows in its own output. Every port they will listen on is checked before
the first starts. Ctrl-C (or SIGTERM, SIGHUP) stops them all in reverse order and exits 0; a
second Ctrl-C kills what is left. ``python -m deployments.up`` (what ``stocksync up`` runs).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from rich.console import Console

from stocksync.cli.serve import Listener, port_problem

BIN = Path(sys.executable).parent
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@dataclass
class Stack:
    """The processes started, in start order, and the URLs to print.

    Each runs in a session of its own, out of the terminal's process group: a Ctrl-C there
    reaches this process only, which stops the others one at a time with one SIGTERM each
    (every one of them stops cleanly on it, and one still importing ends without a traceback).
    """

    processes: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)
    urls: dict[str, str] = field(default_factory=dict)
    _starting: bool = False
    _interrupted: bool = False
    _stopping: bool = False
    _hurry: bool = False

    def catch_signals(self) -> None:
        """Ctrl-C, SIGTERM and SIGHUP stop the stack (KeyboardInterrupt), never halfway through
        starting a process: one started is one recorded, so stopped too."""
        for sig in _STOP_SIGNALS:
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, _frame: object) -> None:
        if self._stopping:
            self._hurry = True
        elif self._starting:
            self._interrupted = True
        else:
            raise KeyboardInterrupt

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        self._starting = True
        try:
            process = subprocess.Popen(argv, env=env, start_new_session=True)
            self.processes.append((name, process))
        finally:
            self._starting = False
        if self._interrupted:
            raise KeyboardInterrupt
        return process

    def run_to_end(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        """Run one step before the rest (stopped with them on Ctrl-C); raise if it fails."""
        process = self.start(name, argv, env)
        if process.wait() != 0:
            raise RuntimeError(f"{name} exited with code {process.returncode}")
        self.processes.remove((name, process))

    def failed(self) -> str | None:
        """The name of a process that exited on its own, if any."""
        for name, process in self.processes:
            if process.poll() is not None:
                return f"{name} exited with code {process.returncode}"
        return None

    def stop(self, announce: str = "", grace_s: float = 10.0) -> None:
        """Stop the processes newest first, each before the next, so the Prefect server goes last;
        another Ctrl-C meanwhile kills the rest at once."""
        self._stopping = True
        if announce:
            out.print(announce)
        for _, process in reversed(self.processes):
            if process.poll() is None and not self._hurry:
                process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + grace_s
            while process.poll() is None and not self._hurry and time.monotonic() < deadline:
                time.sleep(0.05)
            if process.poll() is None:
                _kill_group(process)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """The process and whatever it started (a session of its own is its own process group)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def wait_healthy(url: str, timeout_s: float, stack: Stack) -> None:
    """Poll ``url`` until it answers 2xx; fail early when a started process died."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(url, timeout=2.0).is_success:
                return
        except httpx.TransportError:
            pass
        problem = stack.failed()
        if problem or time.monotonic() > deadline:
            raise RuntimeError(problem or f"{url} did not answer within {timeout_s:.0f} s")
        time.sleep(0.3)


def listeners(args: argparse.Namespace, env: dict[str, str]) -> list[Listener]:
    """Every port the stack will listen on, with the option that moves it."""
    wanted = [Listener(args.host, args.port, "the webhook receiver", "--port")]
    if not env.get("PREFECT_API_URL"):
        wanted.append(Listener("127.0.0.1", args.prefect_port, "the local Prefect server",
                               "--prefect-port (or PREFECT_API_URL, for a server already running)"))  # fmt: skip
    if not args.no_schedules and _truthy(env.get("PREFECT_RUNNER_SERVER_ENABLE")):
        port = int(env.get("PREFECT_RUNNER_SERVER_PORT") or 8080)
        host = env.get("PREFECT_RUNNER_SERVER_HOST") or "localhost"
        wanted.append(Listener(host, port, "the scheduled flows' runner webserver",
                               "PREFECT_RUNNER_SERVER_PORT"))  # fmt: skip
    return wanted


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def start_prefect(stack: Stack, env: dict[str, str], port: int) -> str:
    if env.get("PREFECT_API_URL"):
        return env["PREFECT_API_URL"]
    api = f"http://127.0.0.1:{port}/api"
    argv = [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    stack.start("prefect server", argv, env | {"PREFECT_UI_API_URL": api})
    wait_healthy(f"{api}/health", 120, stack)
    stack.urls["Prefect UI"] = f"http://127.0.0.1:{port}"
    return api


def run(args: argparse.Namespace, stack: Stack, env: dict[str, str]) -> int:
    """Start everything, print where it answers, and wait until one part exits."""
    env["PREFECT_API_URL"] = start_prefect(stack, env, args.prefect_port)
    stack.run_to_end("stocksync db upgrade", [str(BIN / "stocksync"), "db", "upgrade"], env)
    receiver = f"http://{args.host}:{args.port}"
    stack.start("receiver", [str(BIN / "stocksync"), "serve", "--host", args.host, "--port", str(args.port)], env)  # fmt: skip
    wait_healthy(f"{receiver}/healthz", 60, stack)
    stack.urls["Webhooks"] = f"{receiver}/webhooks/<kind>/<channel>"
    stack.urls["Receiver API"] = f"{receiver}/docs"
    stack.start("sync worker", [sys.executable, "-m", "deployments.sync_worker"], env)
    if not args.no_schedules:
        stack.start("scheduled flows", [sys.executable, "-m", "deployments.scheduled"], env)
    width = max(map(len, stack.urls))
    for label, url in stack.urls.items():
        out.print(f"{label:<{width}}  {url}", soft_wrap=True)
    out.print("stocksync is up; Ctrl-C stops it.")
    while (problem := stack.failed()) is None:
        time.sleep(0.5)
    err.print(f"stopping: {problem}")
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="Where the receiver listens.")
    parser.add_argument("--port", type=int, default=8080, help="The receiver's port.")
    parser.add_argument("--prefect-port", type=int, default=4200)
    parser.add_argument("--no-schedules", action="store_true", help="Skip the scheduled flows.")
    args = parser.parse_args(argv)

    env = dict(os.environ)
    problem = port_problem(listeners(args, env))
    if problem:
        err.print(f"stocksync up: {problem}", soft_wrap=True)
        return 1
    stack = Stack()
    stack.catch_signals()
    interrupted = False
    try:
        return run(args, stack, env)
    except KeyboardInterrupt:
        interrupted = True
        return 0
    except RuntimeError as exc:
        err.print(f"stocksync up failed: {exc}", soft_wrap=True)
        return 1
    finally:
        stack.stop("stopping…" if interrupted else "")


if __name__ == "__main__":
    sys.exit(main())
