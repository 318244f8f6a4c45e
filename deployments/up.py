"""``stocksync up``: everything one machine needs, started together and stopped together.

A local Prefect server (unless ``PREFECT_API_URL`` names one), the webhook receiver, the sync
worker and the scheduled flows (order polling, alerts, the nightly ledger check), each its own
process so one crash shows in its own output and Ctrl-C stops them all in reverse order.
``python -m deployments.up`` (what ``stocksync up`` runs).
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

BIN = Path(sys.executable).parent
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


@dataclass
class Stack:
    """The processes started, in start order, and the URLs to print."""

    processes: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)
    urls: dict[str, str] = field(default_factory=dict)

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(argv, env=env)
        self.processes.append((name, process))
        return process

    def failed(self) -> str | None:
        """The name of a process that exited on its own, if any."""
        for name, process in self.processes:
            if process.poll() is not None:
                return f"{name} exited with code {process.returncode}"
        return None

    def stop(self, grace_s: float = 10.0) -> None:
        """Stop the processes newest first, each before the next, so the Prefect server goes last."""
        for _, process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                process.kill()
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


def start_prefect(stack: Stack, env: dict[str, str], port: int) -> str:
    if env.get("PREFECT_API_URL"):
        return env["PREFECT_API_URL"]
    api = f"http://127.0.0.1:{port}/api"
    argv = [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    stack.start("prefect server", argv, env | {"PREFECT_UI_API_URL": api})
    wait_healthy(f"{api}/health", 120, stack)
    stack.urls["Prefect UI"] = f"http://127.0.0.1:{port}"
    return api


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="Where the receiver listens.")
    parser.add_argument("--port", type=int, default=8080, help="The receiver's port.")
    parser.add_argument("--prefect-port", type=int, default=4200)
    parser.add_argument("--no-schedules", action="store_true", help="Skip the scheduled flows.")
    args = parser.parse_args(argv)

    env = dict(os.environ)
    stack = Stack()
    try:
        env["PREFECT_API_URL"] = start_prefect(stack, env, args.prefect_port)
        subprocess.run([str(BIN / "stocksync"), "db", "upgrade"], env=env, check=True)
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
    except KeyboardInterrupt:
        out.print("stopping…")
        return 0
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        err.print(f"stocksync up failed: {exc}")
        return 1
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
