"""``low-stock-alerts``: tell the seller on Slack what is running out and what was oversold."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from flows.config import ledger_url, slack_alerts
from tasks.alerts import digest_task, held_task, low_stock_task, oversold_task


@flow(name="low-stock-alerts")
async def low_stock_alerts(
    skus: list[str] | None = None,
    digest: bool = False,
    slack_block: str | None = None,
    database_block: str | None = None,
    database_url: str | None = None,
) -> dict[str, Any]:
    """Alert oversold lines at once, listings the sync holds back (a mismatched id, pushes
    refused for good) once each, and SKUs at or below their reorder points (per-SKU cooldown);
    with ``digest``, also post the daily digest.

    Slack comes from a `stocksync-slack-alerts` block, or STOCKSYNC_SLACK_* variables; without
    either the run logs that alerts are off and succeeds.
    """
    logger = get_run_logger()
    notifier, cooldown = await slack_alerts(slack_block)
    if notifier is None:
        logger.warning("Slack alerts are off: no slack_block and no STOCKSYNC_SLACK_BOT_TOKEN")
        return {}
    url = await ledger_url(database_block, database_url)
    outcome = {
        "oversold": oversold_task(url, notifier),
        "held": held_task(url, notifier),
        "low_stock": low_stock_task(url, notifier, skus, cooldown),
    }
    if digest:
        outcome["digest"] = digest_task(url, notifier)
    logger.info("alerts: %s", outcome)
    return outcome


if __name__ == "__main__":
    import asyncio

    asyncio.run(low_stock_alerts())
