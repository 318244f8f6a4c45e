"""``stocksync worker``: start the long-lived sync worker.

The worker runs Prefect flows, and ``stocksync/`` never imports Prefect, so this command only
replaces itself with ``python -m deployments.sync_worker`` (same interpreter, same options).
"""

from __future__ import annotations

import os
import sys

import typer


def worker(
    database_url: str | None = typer.Option(
        None, help="The ledger (default: STOCKSYNC_DATABASE_URL)."
    ),
    database_block: str | None = typer.Option(
        None, help="A stocksync-ledger-database block naming the ledger."
    ),
    channel: list[str] = typer.Option(
        [], "--channel", help="Drain only this channel (repeatable; default: every configured one)."
    ),
    channels_file: str | None = typer.Option(
        None, help="Channels file (default: STOCKSYNC_CHANNELS_FILE or ./stocksync-channels.toml)."
    ),
    use_blocks: bool = typer.Option(False, help="Read channel settings from Prefect blocks."),
    worker_id: str | None = typer.Option(None, help="Lease owner name (default: host:pid)."),
    idle_timeout: float | None = typer.Option(
        None, help="Stop after this many seconds with nothing to push."
    ),
) -> None:
    """Push dirty listings to their channels as soon as they change, until stopped (Ctrl-C)."""
    argv = [sys.executable, "-m", "deployments.sync_worker"]
    argv += worker_argv(
        database_url, database_block, channel, channels_file, use_blocks, worker_id, idle_timeout
    )
    os.execv(sys.executable, argv)


def worker_argv(
    database_url: str | None,
    database_block: str | None,
    channels: list[str],
    channels_file: str | None,
    use_blocks: bool,
    worker_id: str | None,
    idle_timeout: float | None,
) -> list[str]:
    """The worker module's arguments for these options."""
    args: list[str] = []
    for flag, value in (
        ("--database-url", database_url),
        ("--database-block", database_block),
        ("--channels-file", channels_file),
        ("--worker-id", worker_id),
        ("--idle-timeout", None if idle_timeout is None else str(idle_timeout)),
    ):
        if value is not None:
            args += [flag, value]
    for name in channels:
        args += ["--channel", name]
    if use_blocks:
        args.append("--use-blocks")
    return args
