"""What channels tell the ledger: orders, events and counts, normalised across channels.

These values come in through the connectors (``stocksync.channels``) and the webhook receiver and
are taken in by the ledger; both import them from here, so neither depends on the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

__all__ = ["ChannelOrder", "ChannelOrderLine", "ChannelQuantity", "EventKind", "InboundEvent"]


@dataclass(frozen=True, slots=True)
class ChannelQuantity:
    """What the channel shows for one listing right now."""

    listing_id: str
    sku: str | None
    quantity: int


@dataclass(frozen=True, slots=True)
class ChannelOrderLine:
    external_line_id: str
    sku: str | None
    """May be empty or unknown; ``listing_id`` maps the line then."""
    listing_id: str | None
    quantity: int
    cancelled: int = 0
    refunded: int = 0
    restocked: int = 0


@dataclass(frozen=True, slots=True)
class ChannelOrder:
    """An order normalised across channels; ids are strings (Shopify's are 64-bit)."""

    channel: str
    external_id: str
    created_at: datetime
    updated_at: datetime
    status: str
    """The channel's own status word, kept for people."""
    cancelled: bool
    lines: tuple[ChannelOrderLine, ...]


class EventKind(StrEnum):
    ORDER_CREATED = "order_created"
    ORDER_UPDATED = "order_updated"
    ORDER_CANCELLED = "order_cancelled"
    REFUND = "refund"
    INVENTORY = "inventory"
    """The channel's count changed (often the echo of our own push)."""
    PING = "ping"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class InboundEvent:
    """One verified webhook or notification, parsed; ``payload`` keeps the channel's own JSON."""

    event_id: str
    """The channel's id for the event, unique per channel: the inbox deduplicates on it."""
    topic: str
    kind: EventKind
    occurred_at: datetime | None = None
    order: ChannelOrder | None = None
    quantity: ChannelQuantity | None = None
    payload: Any = None
