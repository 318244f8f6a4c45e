"""Tasks over the ledger."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from stocksync.ledger.db import make_engine
from stocksync.ledger.service import Ledger


@task(name="verify-ledger", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[5, 30])
def verify_ledger(database_url: str) -> list[dict[str, Any]]:
    """Every stock counter, order line and listing that disagrees with the journal and the rules."""
    engine = make_engine(database_url)
    try:
        return [m.to_dict() for m in Ledger(engine).verify()]
    finally:
        engine.dispose()
