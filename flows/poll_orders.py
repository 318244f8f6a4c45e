"""``poll-orders``: read every channel's recent orders into the ledger, every minute.

Amazon's main path, and everyone else's safety net for webhooks that were dropped: the orders go
through the same inbox and ledger path as webhooks, so what a webhook already brought changes
nothing, and the listings they change are pushed by the sync worker. Each run also lists again
what a last-units guard grown by a rush hid (``stocksync.ledger.velocity``) once the rush is over.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact

from flows.config import channel_sources, ledger_url
from tasks.sync import poll_task, refresh_rate_guards_task


@flow(name="poll-orders", log_prints=False)
async def poll_orders(
    channels: list[str] | None = None,
    database_block: str | None = None,
    database_url: str | None = None,
    channels_file: str | None = None,
    use_blocks: bool = False,
) -> dict[str, dict[str, Any]]:
    """Poll each channel (all configured ones by default) from its cursor.

    A channel that stays down after its task's retries is reported and fails nothing else; the
    run then ends failed so the UI shows it, and the next poll starts from the same cursor.
    Returns channel → what the poll did.
    """
    logger = get_run_logger()
    url = await ledger_url(database_block, database_url)
    sources = await channel_sources(url, channels, channels_file, use_blocks)
    futures = {name: poll_task.submit(url, source) for name, source in sorted(sources.items())}
    outcome: dict[str, dict[str, Any]] = {}
    failed = []
    for name, future in futures.items():
        try:
            report = future.result()
        except Exception as exc:
            failed.append(name)
            outcome[name] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        outcome[name] = {
            "orders": report.orders,
            "applied": report.applied,
            "flagged": report.flagged,
        }
        for order_id, why in report.flagged.items():
            logger.warning("%s order %s kept for inspection: %s", name, order_id, why)
        if report.applied:
            logger.info("%s: %d orders the webhooks had not brought", name, len(report.applied))
    relisted = refresh_rate_guards_task(url)
    if relisted:
        logger.info("%d listings shown again now that their rush is over", relisted)
    await create_table_artifact(  # type: ignore[misc]
        [{"channel": n, **{k: str(v) for k, v in o.items()}} for n, o in outcome.items()],
        key="poll-orders",
        description="Orders polled per channel",
    )
    if failed:
        raise RuntimeError(f"polling failed for {', '.join(failed)}; see the poll-orders artifact")
    return outcome


if __name__ == "__main__":
    import asyncio

    asyncio.run(poll_orders())
