"""Checking the ledger and alerting: low stock (with a cooldown per SKU), oversold lines (once
each, at once) and the daily digest. Delivery failures never lose an alert: claims are released
and the next check sends it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from stocksync.alerts.low_stock import DEMAND_WINDOW_DAYS, LowStock, assess
from stocksync.alerts.oversold import CancelPolicy, oversold_lines
from stocksync.alerts.slack import AlertDeliveryError
from stocksync.alerts.slack_messages import (
    SlackMessage,
    digest_messages,
    held_message,
    low_stock_messages,
    oversold_message,
)
from stocksync.domain.clock import utcnow
from stocksync.ledger.alert_claims import claim_alerts, release_alerts
from stocksync.ledger.held_listings import held_listings
from stocksync.ledger.oversold_orders import lines_recorded_short
from stocksync.ledger.service import Ledger
from stocksync.ledger.stock_position import stock_positions

__all__ = [
    "AlertReport",
    "Notifier",
    "alert_held",
    "alert_low_stock",
    "alert_oversold",
    "low_stock",
    "post_digest",
    "stock_position",
]

OVERSOLD_LOOKBACK = timedelta(days=2)
"""How far back a check looks for oversold lines it has not reported yet."""


class Notifier(Protocol):
    def post(self, message: SlackMessage) -> str: ...


@dataclass
class AlertReport:
    sent: list[str] = field(default_factory=list)
    """Alert keys delivered (``low:<sku>``, ``oversold:<channel>:<order>:<sku>``,
    ``held:<listing>:<state>:<id>``, ``digest``)."""
    suppressed: list[str] = field(default_factory=list)
    """Low-stock alerts held back by the cooldown, or oversold lines already reported."""
    failed: list[str] = field(default_factory=list)
    error: str | None = None


def alert_low_stock(
    ledger: Ledger,
    notifier: Notifier,
    skus: Sequence[str] | None = None,
    *,
    cooldown: timedelta,
    now: datetime | None = None,
) -> AlertReport:
    """Alert the SKUs among ``skus`` (all when None) now at or below their reorder points."""
    items = low_stock(ledger, skus, now=now)
    by_key = {f"low:{i.sku}": i for i in items}
    claimed = ledger.call(claim_alerts, list(by_key), cooldown=cooldown, now=now)
    report = AlertReport(suppressed=sorted(set(by_key) - set(claimed)))
    messages = low_stock_messages([by_key[k] for k in claimed])
    return _deliver(ledger, notifier, messages, claimed, report)


def alert_oversold(
    ledger: Ledger,
    notifier: Notifier,
    *,
    policy: CancelPolicy = CancelPolicy.LATER,
    now: datetime | None = None,
) -> AlertReport:
    """Report every oversold line of the last two days that has not been reported yet."""
    since = (now or utcnow()) - OVERSOLD_LOOKBACK
    lines = oversold_lines(ledger.call(lines_recorded_short, since=since), policy=policy)
    by_key = {f"oversold:{ln.order.channel}:{ln.order.external_id}:{ln.sku}": ln for ln in lines}
    claimed = ledger.call(claim_alerts, list(by_key), cooldown=None, now=now)
    report = AlertReport(suppressed=sorted(set(by_key) - set(claimed)))
    messages = [oversold_message([by_key[k] for k in claimed])] if claimed else []
    return _deliver(ledger, notifier, messages, claimed, report)


def alert_held(ledger: Ledger, notifier: Notifier, *, now: datetime | None = None) -> AlertReport:
    """Report every listing the push pipeline holds back (mismatched id, refused for good) that
    has not been reported in that state under that id yet."""
    held = ledger.call(held_listings)
    by_key = {h.alert_key: h for h in held}
    claimed = ledger.call(claim_alerts, list(by_key), cooldown=None, now=now)
    report = AlertReport(suppressed=sorted(set(by_key) - set(claimed)))
    messages = [held_message([by_key[k] for k in claimed])] if claimed else []
    return _deliver(ledger, notifier, messages, claimed, report)


def post_digest(ledger: Ledger, notifier: Notifier, *, now: datetime | None = None) -> AlertReport:
    """The daily digest of every SKU at or below its reorder point."""
    positions = stock_position(ledger, now=now)
    low = [p for p in positions if p.low]
    messages = digest_messages(low, total_skus=len(positions))
    report = AlertReport()
    try:
        for message in messages:
            notifier.post(message)
    except AlertDeliveryError as exc:
        report.failed, report.error = ["digest"], str(exc)
    else:
        report.sent = ["digest"]
    return report


def stock_position(
    ledger: Ledger,
    skus: Sequence[str] | None = None,
    *,
    window_days: int = DEMAND_WINDOW_DAYS,
    now: datetime | None = None,
) -> list[LowStock]:
    """Every stock-holding SKU (or those named), with availability, demand and reorder advice."""
    since = (now or utcnow()) - timedelta(days=window_days)
    found = ledger.call(stock_positions, skus, since=since)
    return [assess(position, window_days=window_days) for position in found]


def low_stock(
    ledger: Ledger,
    skus: Sequence[str] | None = None,
    *,
    window_days: int = DEMAND_WINDOW_DAYS,
    now: datetime | None = None,
) -> list[LowStock]:
    """The SKUs among ``skus`` (all when None) whose available units are at or below reorder point."""
    return [p for p in stock_position(ledger, skus, window_days=window_days, now=now) if p.low]


def _deliver(
    ledger: Ledger,
    notifier: Notifier,
    messages: list[SlackMessage],
    claimed: list[str],
    report: AlertReport,
) -> AlertReport:
    try:
        for message in messages:
            notifier.post(message)
    except AlertDeliveryError as exc:
        ledger.call(release_alerts, claimed)
        report.failed, report.error = claimed, str(exc)
    else:
        report.sent = claimed
    return report
