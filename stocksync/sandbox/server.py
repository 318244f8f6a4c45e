"""Run an ASGI emulator on a loopback port in a daemon thread, for tests, the demo and benchmarks."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import uvicorn

__all__ = ["serve_in_thread"]


def serve_in_thread(
    app: Any, *, host: str = "127.0.0.1", port: int = 0, startup_timeout_s: float = 10.0
) -> tuple[str, Callable[[], None]]:
    """Serve ``app`` with uvicorn on ``host``:``port`` (0: a free port); return ``(base_url, stop)``.

    The call returns once the server answers HTTP; ``stop()`` asks uvicorn to exit (running the
    app's lifespan shutdown) and joins the thread.
    """
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", ws="none", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="sandbox-uvicorn", daemon=True)
    thread.start()
    base_url = _wait_until_started(server, thread, startup_timeout_s)
    _wait_until_answering(base_url, startup_timeout_s)

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=startup_timeout_s)

    return base_url, stop


def _wait_until_started(server: uvicorn.Server, thread: threading.Thread, timeout_s: float) -> str:
    """Wait for uvicorn to bind its socket and return the URL it listens on."""
    deadline = time.monotonic() + timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the sandbox server did not start")
        time.sleep(0.01)
    host, port = server.servers[0].sockets[0].getsockname()[:2]
    return f"http://{host}:{port}"


def _wait_until_answering(base_url: str, timeout_s: float) -> None:
    """Poll the server until any HTTP answer comes back (a 404 counts)."""
    deadline = time.monotonic() + timeout_s
    with httpx.Client(base_url=base_url, timeout=1.0) as client:
        while True:
            try:
                client.get("/_sandbox/health")
                return
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
