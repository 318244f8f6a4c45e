"""``sync-inventory``: push every dirty listing's desired quantity to its channel, once.

The sync worker (``deployments/sync_worker.py``) awaits this flow in-process each time listings
turn dirty, so one run carries a burst of orders. Each run is named for the channels it drained
and the orders it carried, and leaves a table of every push outcome. A run that had to hold
listings back for a person (an id the channel holds another SKU under, pushes refused for good)
ends Failed, saying which, after pushing everything else: the runs list shows it, and Slack is
told once per listing.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact
from prefect.client.orchestration import get_client
from prefect.runtime import flow_run

from flows.config import channel_sources, ledger_url, slack_alerts
from stocksync.sync.report import DrainReport, Outcome, PushRecord
from tasks.alerts import held_task, low_stock_task, oversold_task
from tasks.sync import DEFAULT_LEASE_S, DEFAULT_RETRY_BASE_S, drain_task, orders_behind_now


class ListingsHeldBack(Exception):
    """The run pushed what it could, and held these listings back until a person acts."""

    def __init__(self, held: list[PushRecord], counts: dict[str, dict[str, int]]) -> None:
        shown = "; ".join(f"{r.channel}/{r.sku} ({r.external_id}): {r.message}" for r in held[:5])
        more = f"; and {len(held) - 5} more" if len(held) > 5 else ""
        super().__init__(
            f"{len(held)} listing{'s' if len(held) != 1 else ''} held back, not synced until "
            f"fixed: {shown}{more}"
        )
        self.held = held
        self.counts = counts


@flow(name="sync-inventory", log_prints=False)
async def sync_inventory(
    channels: list[str] | None = None,
    database_block: str | None = None,
    database_url: str | None = None,
    channels_file: str | None = None,
    use_blocks: bool = False,
    slack_block: str | None = None,
    worker_id: str | None = None,
    lease_s: float = DEFAULT_LEASE_S,
    retry_base_s: float = DEFAULT_RETRY_BASE_S,
) -> dict[str, dict[str, int]]:
    """Push the latest desired quantity of every due dirty listing to its channel.

    Channels: the ones named, or every channel in the ledger that has a configuration (in the
    channels file / STOCKSYNC_<NAME>_* variables, or with `use_blocks` a channel block named as
    the channel). A failing channel never fails the run: its listings back off in the ledger and
    a later run pushes them. SKUs pushed get a low-stock check when Slack is configured.
    ``lease_s`` bounds how long a listing stays claimed by a run that died mid-push;
    ``retry_base_s`` is the first backoff step after a transient failure.
    Returns channel → outcome → count; raises ListingsHeldBack (the run ends Failed) when the
    drain held listings back for a person, once everything else was pushed.
    """
    logger = get_run_logger()
    url = await ledger_url(database_block, database_url)
    sources = await channel_sources(url, channels, channels_file, use_blocks)
    names = sorted(sources)
    behind = orders_behind_now(url, names)
    owner = worker_id or f"{socket.gethostname()}:{os.getpid()}"
    report = drain_task(url, sources, owner, lease_s, retry_base_s)
    title = f"{','.join(names) or 'no channels'}: {behind.label() or _summary(report)}"
    await asyncio.gather(_rename(title), _publish(report))  # two API calls, one wait
    _warn(report, logger)
    pushed = sorted({r.sku for ch in report.channels.values() for r in ch.pushed})
    held = report.held()
    if pushed or held:
        await _check_alerts(url, pushed, bool(held), slack_block, logger)
    if held:
        raise ListingsHeldBack(held, report.counts())
    return report.counts()


def _summary(report: DrainReport) -> str:
    pushed = sum(len(ch.pushed) for ch in report.channels.values())
    return f"{pushed} listings" if pushed else "nothing due"


async def _rename(name: str) -> None:
    """Name the current run for what it carried, so the runs list reads as a sync log."""
    run_id = flow_run.get_id()
    if run_id is None:  # called through .fn(): there is no run to name
        return
    async with get_client() as client:
        await client.update_flow_run(uuid.UUID(run_id), name=name[:200])


async def _publish(report: DrainReport) -> None:
    rows = report.rows()
    if rows:
        await create_table_artifact(  # type: ignore[misc]
            rows, key="sync-inventory", description=f"Pushes of drain {report.worker_id}"
        )


def _warn(report: DrainReport, logger: Any) -> None:
    """A warning per listing the channel refused, could not take now or that is held back, and
    per stopped channel."""
    for channel in report.channels.values():
        if channel.error:
            logger.warning("channel %s stopped early: %s", channel.channel, channel.error)
        for r in channel.records:
            if r.outcome in (Outcome.REJECTED, Outcome.RETRY, Outcome.MISMATCHED, Outcome.REFUSED):
                retry = f"; next try in {r.retry_in_s:.0f} s" if r.retry_in_s is not None else ""
                logger.warning(
                    "%s %s %s (%s → %d): %s%s",
                    channel.channel, r.outcome.value, r.sku, r.external_id, r.quantity,
                    r.message, retry,
                )  # fmt: skip


async def _check_alerts(
    url: str, skus: list[str], held: bool, slack_block: str | None, logger: Any
) -> None:
    """Kick the low-stock and oversold alerts for the SKUs just pushed, and the held-listing
    alert when the drain held some back; never fails the sync."""
    try:
        notifier, cooldown = await slack_alerts(slack_block)
        if notifier is None:
            return
        if held:
            held_task.with_options(retries=0)(url, notifier)
        if skus:
            oversold_task.with_options(retries=0)(url, notifier)
            low_stock_task.with_options(retries=0)(url, notifier, skus, cooldown)
    except Exception as exc:  # alerts are a courtesy; the scheduled low-stock-alerts run retries
        logger.warning("low-stock check after the sync failed: %s", exc)


if __name__ == "__main__":
    asyncio.run(sync_inventory())
