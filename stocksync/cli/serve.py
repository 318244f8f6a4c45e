"""``stocksync serve``: the webhook receiver under uvicorn; and the port check it shares with
``stocksync up``."""

from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import typer

from stocksync.cli.output import fail

__all__ = ["Listener", "port_problem", "serve"]


@dataclass(frozen=True, slots=True)
class Listener:
    """A port a command is going to listen on, what wants it and the option that changes it."""

    host: str
    port: int
    what: str
    option: str


def port_problem(listeners: Sequence[Listener]) -> str | None:
    """Why one of ``listeners`` cannot listen, in one line naming the port, what wanted it and
    the option to change it; None when every one can. Checked before anything starts, so a
    taken port stops a command before it has started half of its parts."""
    seen: dict[int, Listener] = {}
    for want in listeners:
        if want.port in seen:
            first = seen[want.port]
            return (
                f"port {want.port} is wanted by both {first.what} ({first.option}) and "
                f"{want.what} ({want.option}); give one of them another"
            )
        seen[want.port] = want
        problem = _bind_problem(want.host, want.port)
        if problem:
            return f"port {want.port} on {want.host} ({want.what}) {problem}; choose another with {want.option}"
    return None


def _bind_problem(host: str, port: int) -> str | None:
    """Bind every address ``host`` names as a server would (uvicorn sets SO_REUSEADDR too)."""
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        return f"cannot be opened: {host!r} is not an address here ({exc.strerror})"
    for family, kind, proto, _, address in addresses:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as exc:
                in_use = exc.errno == errno.EADDRINUSE
                return "is in use" if in_use else f"cannot be opened ({exc.strerror})"
    return None


def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="TCP port to listen on."),
    workers: int = typer.Option(
        1, min=1, help="Receiver processes sharing the port (each with its own ledger pool)."
    ),
) -> None:
    """Receive channel webhooks at POST /webhooks/{kind}/{channel} (OpenAPI at /docs).

    Each channel's secret comes from STOCKSYNC_<CHANNEL>_WEBHOOK_SECRET; the ledger from
    STOCKSYNC_DATABASE_URL. Several workers are safe: every webhook is one ledger transaction,
    and copies of one event racing in two processes are settled by the inbox's unique key.
    Ctrl-C, SIGTERM or SIGHUP stops the receiver, and it exits 0.
    """
    problem = port_problem([Listener(host, port, "the webhook receiver", "--port")])
    if problem:
        raise fail(problem, code=1)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.default_int_handler)  # as Ctrl-C
    if workers > 1:
        argv = [sys.executable, "-m", "uvicorn", "stocksync.receiver.app:create_app", "--factory",
                "--host", host, "--port", str(port), "--workers", str(workers), "--proxy-headers"]  # fmt: skip
        raise typer.Exit(_supervise(argv))
    import uvicorn

    try:
        uvicorn.run(
            "stocksync.receiver.app:create_app",
            factory=True,
            host=host,
            port=port,
            proxy_headers=True,
        )
    except KeyboardInterrupt:
        pass  # uvicorn has shut down on it, and raises it again as it returns


def _supervise(argv: list[str]) -> int:
    """Run uvicorn's supervisor of several workers in a session of its own; pass Ctrl-C on once.

    A terminal's Ctrl-C signals its whole foreground process group: uvicorn's workers would
    get it beside their supervisor, and one still importing would print a traceback. Out of
    that group, only the supervisor hears of it (from here), and it stops its workers itself.
    A second Ctrl-C kills them all.
    """
    process = subprocess.Popen(argv, start_new_session=True)
    stopping = False
    while True:
        try:
            code = process.wait()
        except KeyboardInterrupt:
            if stopping:
                os.killpg(process.pid, signal.SIGKILL)
            else:
                process.send_signal(signal.SIGINT)
            stopping = True
            continue
        return 0 if stopping else code
