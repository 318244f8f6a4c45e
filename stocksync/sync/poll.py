"""Order polling: every order a channel changed since our cursor, through the webhooks' path.

Amazon sends no order webhooks worth trusting, so polling is its main path; for everyone else it is
the safety net for dropped webhooks. Each polled order goes through the inbox like a webhook event,
keyed by the order and its update time: a version already seen (by a webhook or an earlier poll)
changes nothing, an unmappable one is kept and flagged, and the cursor moves only after every order
it covers is stored.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from stocksync.channels.base import ChannelConnector, ChannelOrder, EventKind, InboundEvent
from stocksync.channels.errors import ChannelError
from stocksync.ledger.cursors import cursor_age_s, read_cursor, save_cursor
from stocksync.ledger.inbox import InboxStatus, ingest_event
from stocksync.ledger.service import Ledger
from stocksync.sync.drain import ConflictedListing, ConflictHook
from stocksync.sync.leases import record_seen

__all__ = ["PollReport", "catch_up_on_conflict", "poll_channel", "poll_channels"]

log = logging.getLogger(__name__)

POLL_TOPIC = "poll/orders"
MAX_PAGES = 20
"""Pages one poll reads from a channel; the rest waits for the next poll (the cursor holds)."""


@dataclass
class PollReport:
    channel: str
    cursor_before: str | None = None
    cursor_after: str | None = None
    pages: int = 0
    orders: int = 0
    applied: list[str] = field(default_factory=list)
    """Orders this poll changed in the ledger: ones the webhooks missed or have not brought yet."""
    flagged: dict[str, str] = field(default_factory=dict)
    """Order id → why it could not be applied (kept in the inbox for a person)."""
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def poll_channels(
    ledger: Ledger, connectors: Mapping[str, ChannelConnector], *, max_pages: int = MAX_PAGES
) -> list[PollReport]:
    """Poll each channel; one channel's failure is reported and never stops the others."""
    reports = []
    for name, connector in connectors.items():
        try:
            reports.append(poll_channel(ledger, name, connector, max_pages=max_pages))
        except Exception as exc:
            log.warning("polling %s failed: %s", name, exc)
            reports.append(PollReport(name, error=f"{type(exc).__name__}: {exc}"))
    return reports


def poll_channel(
    ledger: Ledger, channel: str, connector: ChannelConnector, *, max_pages: int = MAX_PAGES
) -> PollReport:
    """Read ``channel``'s orders updated since its cursor and apply them, page by page.

    Channel errors propagate after the pages already read are stored and their cursor saved, so a
    retry resumes where this call stopped.
    """
    report = PollReport(channel, cursor_before=ledger.run(lambda s: read_cursor(s, channel)))
    cursor = report.cursor_before
    for _ in range(max_pages):
        page = connector.orders_since(cursor)
        report.pages += 1
        report.orders += len(page.orders)
        for order in page.orders:
            _ingest(ledger, channel, order, report)
        if page.cursor is not None and page.cursor != cursor:
            cursor = page.cursor
            ledger.run(lambda s, c=cursor: save_cursor(s, channel, c))
        if not page.more:
            break
    # Saved even when unchanged: its time says order polling is keeping up with this channel.
    ledger.run(lambda s: save_cursor(s, channel, cursor))
    report.cursor_after = cursor
    return report


def _ingest(ledger: Ledger, channel: str, order: ChannelOrder, report: PollReport) -> None:
    event = InboundEvent(
        event_id=f"poll:{order.external_id}:{order.updated_at.isoformat()}",
        topic=POLL_TOPIC,
        kind=EventKind.ORDER_UPDATED,
        occurred_at=order.updated_at,
        order=order,
    )
    body = json.dumps(asdict(order), default=str, sort_keys=True).encode()
    [outcome] = ledger.run(lambda s: ingest_event(s, channel, {}, body, [event]))
    if outcome.status is InboxStatus.APPLIED:
        report.applied.append(order.external_id)
    elif outcome.status is InboxStatus.FLAGGED:
        report.flagged[order.external_id] = outcome.error or "flagged"


def catch_up_on_conflict(
    ledger: Ledger,
    connectors: Mapping[str, ChannelConnector],
    *,
    recent_s: float = 180.0,
    settle_s: float = 0.25,
) -> ConflictHook:
    """The drain's conflict hook: the channel sold something we have not heard of yet.

    Most often its webhook is in flight, so the hook first gives in-flight webhooks ``settle_s``
    to land. When order polling keeps the channel's cursor recent (saved within ``recent_s``), it
    also reads one page of orders since that cursor into the ledger (which recomputes every
    channel's quantity); an old or missing cursor means a backlog that the poll-orders flow reads,
    not a push. Then it expects what the channel shows now, and the listings go out again in the
    same drain.

    The counts are read after the orders are in: ingesting the channel's own sale lowers what we
    expect it to show, and the count it shows already includes that sale.
    """

    def hook(channel: str, conflicted: Sequence[ConflictedListing]) -> None:
        connector = connectors[channel]
        time.sleep(settle_s)
        age = ledger.run(lambda s: cursor_age_s(s, channel))
        ingested = False
        if age is not None and age <= recent_s:
            try:
                ingested = bool(poll_channel(ledger, channel, connector, max_pages=1).applied)
            except ChannelError as exc:
                log.warning("catching up on %s orders after a conflict failed: %s", channel, exc)
        # The conflict answer carries the channel's count (Shopify's does); read again only where
        # it did not, or where ingested orders moved what we expect since that answer. A read is
        # dear on a cost-metered API (Shopify: ~500 points, five seconds of its bucket).
        stale = [c for c in conflicted if ingested or c.quantity_seen is None]
        if not stale:
            return
        shown = connector.read_quantities([c.external_id for c in stale])
        seen = {q.listing_id: q.quantity for q in shown}
        ledger.run(lambda s: record_seen(s, stale[0].channel_id, seen))

    return hook
