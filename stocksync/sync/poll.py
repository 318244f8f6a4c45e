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
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

from stocksync.channels.base import ChannelConnector
from stocksync.domain.clock import utcnow
from stocksync.domain.messages import ChannelOrder, EventKind, InboundEvent
from stocksync.ledger.cursors import cursor_age_s, read_cursor, save_cursor
from stocksync.ledger.inbox import InboxStatus, ingest_event
from stocksync.ledger.push_leases import channel_ids
from stocksync.ledger.push_outcomes import forget_unheard
from stocksync.ledger.service import Ledger
from stocksync.sync.drain import ConflictedListing, ConflictHook, read_back

__all__ = ["PollReport", "catch_up_on_conflict", "poll_channel", "poll_channels"]

log = logging.getLogger(__name__)

POLL_TOPIC = "poll/orders"
MAX_PAGES = 20
"""Pages one poll reads from a channel; the rest waits for the next poll (the cursor holds)."""
CATCH_UP_EVERY_S = 30.0
"""How often a conflict may read a channel's orders ahead of the poll-orders flow."""
UNHEARD_TTL_S = 30.0
"""Unheard units (see :func:`stocksync.ledger.push_outcomes.forget_unheard`) that a complete
poll started this long after they appeared has not explained are given up on: a channel lists an
order as soon as the shopper has it, so such a poll would have read it. (Amazon's orders show up
two minutes late, but Amazon has no compare-and-set and so never has unheard units.)"""


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
    unheard_forgotten: int = 0
    """Listings whose unheard units no order explained in time (someone changed the count)."""

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
    ledger: Ledger,
    channel: str,
    connector: ChannelConnector,
    *,
    max_pages: int = MAX_PAGES,
    unheard_ttl_s: float = UNHEARD_TTL_S,
) -> PollReport:
    """Read ``channel``'s orders updated since its cursor and apply them, page by page.

    A poll that read to the end gives up on unheard units older than ``unheard_ttl_s`` that no
    order explained (:func:`stocksync.ledger.push_outcomes.forget_unheard`).

    Channel errors propagate after the pages already read are stored and their cursor saved, so a
    retry resumes where this call stopped.
    """
    report = PollReport(channel, cursor_before=ledger.call(read_cursor, channel))
    cursor = report.cursor_before
    started = utcnow()
    caught_up = False
    for _ in range(max_pages):
        page = connector.orders_since(cursor)
        report.pages += 1
        report.orders += len(page.orders)
        for order in page.orders:
            _ingest(ledger, channel, order, report)
        if page.cursor is not None and page.cursor != cursor:
            cursor = page.cursor
            ledger.call(save_cursor, channel, cursor)
        if not page.more:
            caught_up = True
            break
    # Saved even when unchanged: its time says order polling is keeping up with this channel.
    ledger.call(save_cursor, channel, cursor)
    report.cursor_after = cursor
    if caught_up:
        before = started - timedelta(seconds=unheard_ttl_s)
        ids = ledger.call(channel_ids, [channel])
        if channel in ids:
            report.unheard_forgotten = ledger.call(forget_unheard, ids[channel], before)
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
    [outcome] = ledger.call(ingest_event, channel, {}, body, [event])
    if outcome.status is InboxStatus.APPLIED:
        report.applied.append(order.external_id)
    elif outcome.status is InboxStatus.FLAGGED:
        report.flagged[order.external_id] = outcome.error or "flagged"


def catch_up_on_conflict(
    ledger: Ledger,
    connectors: Mapping[str, ChannelConnector],
    *,
    recent_s: float = 180.0,
    every_s: float = CATCH_UP_EVERY_S,
    background: bool = True,
) -> ConflictHook:
    """The drain's conflict hook: the channel sold something we have not heard of yet.

    The push path does not wait for those orders. A conflict's own count is taken in as unheard
    units (:mod:`stocksync.ledger.push_outcomes`), which the next push holds back, so the listing goes
    out again at once with the right quantity; only a conflict that came without a count has the
    channel's count read here. Then, so that the ledger hears of the orders behind a conflict
    without waiting for their webhooks, one page of the channel's orders since its cursor is read
    into the ledger: in a background thread (``background``), at most once per ``every_s`` per
    channel (an orders page is dear on a cost-metered API: Shopify's takes ~8 s of its bucket),
    and only when order polling keeps the cursor recent (saved within ``recent_s``; an old or
    missing cursor means a backlog that the poll-orders flow reads, not a push).
    """
    lock = threading.Lock()
    last: dict[str, float] = {}
    read_counts = read_back(ledger, connectors)

    def catch_up(channel: str) -> None:
        age = ledger.call(cursor_age_s, channel)
        if age is None or age > recent_s:
            return
        try:
            poll_channel(ledger, channel, connectors[channel], max_pages=1)
        except Exception as exc:  # the poll-orders flow will read them; never fail a push
            log.warning("catching up on %s orders after a conflict failed: %s", channel, exc)

    def hook(channel: str, conflicted: Sequence[ConflictedListing]) -> None:
        read_counts(channel, conflicted)
        with lock:
            now = time.monotonic()
            if now - last.get(channel, -every_s) < every_s:
                return
            last[channel] = now
        if background:
            threading.Thread(
                target=catch_up, args=(channel,), name=f"catch-up-{channel}", daemon=True
            ).start()
        else:
            catch_up(channel)

    return hook
