"""Tasks that check the ledger and post stock alerts to Slack.

A failed delivery raises, so Prefect retries the task; the claims the attempt took were given back,
so the retry sends the same alerts.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from stocksync.alerts.service import (
    AlertReport,
    Notifier,
    alert_held,
    alert_low_stock,
    alert_oversold,
    post_digest,
)
from stocksync.alerts.slack import AlertDeliveryError
from stocksync.ledger.db import make_engine
from stocksync.ledger.service import Ledger

RETRIES = {"retries": 3, "retry_delay_seconds": [10, 60, 300], "retry_jitter_factor": 0.5}


def _checked(report: AlertReport) -> dict[str, Any]:
    if report.error:
        raise AlertDeliveryError(f"{len(report.failed)} alerts not delivered: {report.error}")
    return {"sent": report.sent, "suppressed": report.suppressed}


def _on_ledger(database_url: str, work: Any) -> AlertReport:
    engine = make_engine(database_url)
    try:
        return work(Ledger(engine))
    finally:
        engine.dispose()


@task(name="alert-low-stock", cache_policy=NO_CACHE, **RETRIES)
def low_stock_task(
    database_url: str, notifier: Notifier, skus: list[str] | None, cooldown_minutes: int
) -> dict[str, Any]:
    """Alert SKUs at or below their reorder point, at most once per cooldown each."""
    cooldown = timedelta(minutes=cooldown_minutes)
    return _checked(
        _on_ledger(
            database_url, lambda led: alert_low_stock(led, notifier, skus, cooldown=cooldown)
        )
    )


@task(name="alert-oversold", cache_policy=NO_CACHE, **RETRIES)
def oversold_task(database_url: str, notifier: Notifier) -> dict[str, Any]:
    """Report oversold lines not reported yet, naming the order the policy cancels."""
    return _checked(_on_ledger(database_url, lambda led: alert_oversold(led, notifier)))


@task(name="alert-held-listings", cache_policy=NO_CACHE, **RETRIES)
def held_task(database_url: str, notifier: Notifier) -> dict[str, Any]:
    """Report listings the pipeline holds back (mismatched id, refused for good), once each."""
    return _checked(_on_ledger(database_url, lambda led: alert_held(led, notifier)))


@task(name="stock-digest", cache_policy=NO_CACHE, **RETRIES)
def digest_task(database_url: str, notifier: Notifier) -> dict[str, Any]:
    """Post the daily digest of SKUs at or below their reorder points."""
    return _checked(_on_ledger(database_url, lambda led: post_digest(led, notifier)))
