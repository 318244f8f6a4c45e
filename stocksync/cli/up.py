"""``stocksync up``: the receiver, the sync worker and the scheduled flows on one machine.

They run Prefect flows, and ``stocksync/`` never imports Prefect, so this command only replaces
itself with ``python -m deployments.up`` (same interpreter, same options).
"""

from __future__ import annotations

import os
import sys

import typer


def up(
    host: str = typer.Option("127.0.0.1", help="Where the webhook receiver listens."),
    port: int = typer.Option(8080, help="The webhook receiver's port."),
    prefect_port: int = typer.Option(
        4200, help="Port of the local Prefect server (unless PREFECT_API_URL names one)."
    ),
    no_schedules: bool = typer.Option(False, help="Do not serve the scheduled flows."),
) -> None:
    """Start a local Prefect server (unless PREFECT_API_URL is set), the webhook receiver, the
    sync worker and the scheduled flows; print their URLs; Ctrl-C stops them all (exit 0).

    Every port they will listen on is checked first: a taken one stops the command before
    anything starts, naming the option that moves it."""
    argv = [sys.executable, "-m", "deployments.up", "--host", host, "--port", str(port),
            "--prefect-port", str(prefect_port)]  # fmt: skip
    if no_schedules:
        argv.append("--no-schedules")
    os.execv(sys.executable, argv)
