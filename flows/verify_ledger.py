"""``verify-ledger``: check the ledger against its own journal and rules, on a schedule."""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from flows.config import ledger_url
from tasks.ledger import verify_ledger as verify_ledger_task


class LedgerMismatchError(RuntimeError):
    """The ledger's counters or listings disagree with its journal or rules."""


@flow(name="verify-ledger", log_prints=False)
async def verify_ledger(database_block: str | None = None, database_url: str | None = None) -> int:
    """Recompute every counter from the journal and every listing from the rules.

    The ledger is named by a `stocksync-ledger-database` block, or by a URL for local runs. The
    run leaves a table artifact of mismatches and fails when there is any, so the failure shows
    in the UI and can drive an automation.
    """
    url = await ledger_url(database_block, database_url)
    mismatches = verify_ledger_task(url)
    logger = get_run_logger()
    if mismatches:
        await create_table_artifact(
            mismatches, key="ledger-mismatches", description="Ledger mismatches"
        )  # type: ignore[misc]
        logger.error("ledger verify found %d mismatches", len(mismatches))
        raise LedgerMismatchError(
            f"{len(mismatches)} mismatches; see the ledger-mismatches artifact"
        )
    await create_markdown_artifact("Ledger verified: no mismatches.", key="ledger-mismatches")  # type: ignore[misc]
    logger.info("ledger verified: no mismatches")
    return 0


if __name__ == "__main__":
    import asyncio

    asyncio.run(verify_ledger())
