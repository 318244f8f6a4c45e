"""Amazon SP-API payloads turned into stocksync's channel types, without any network.

Orders come from ``getOrders`` + ``getOrderItems`` (PascalCase, v0) or from the ``Summary`` of an
``ORDER_CHANGE`` notification. ``Pending`` orders keep their status and count as committed: Amazon
already holds their units against the listing. ``Canceled`` orders are cancelled with every unit.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from stocksync.channels.base import PushResult, PushStatus
from stocksync.domain.messages import (
    ChannelOrder,
    ChannelOrderLine,
    ChannelQuantity,
    EventKind,
    InboundEvent,
)

__all__ = ["build_event", "notification_of", "parse_order", "parse_time", "push_result"]

CANCELLED = "Canceled"


def parse_time(value: str) -> datetime:
    """Amazon's ISO 8601 dates (``2020-01-11T00:09:53.109Z``) as aware UTC datetimes."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _line(item_id: Any, sku: Any, quantity: Any, cancelled: bool) -> ChannelOrderLine:
    """One line; Amazon's listing key is the SKU, so ``listing_id`` is the SKU too."""
    units = int(quantity or 0)
    return ChannelOrderLine(
        external_line_id=str(item_id),
        sku=str(sku) if sku else None,
        listing_id=str(sku) if sku else None,
        quantity=units,
        cancelled=units if cancelled else 0,
    )


def parse_order(
    channel: str, order: Mapping[str, Any], items: Sequence[Mapping[str, Any]]
) -> ChannelOrder:
    """Normalise a v0 ``Order`` and its ``OrderItems``."""
    status = str(order.get("OrderStatus") or "")
    created = parse_time(str(order["PurchaseDate"]))
    updated = order.get("LastUpdateDate")
    cancelled = status == CANCELLED
    return ChannelOrder(
        channel=channel,
        external_id=str(order["AmazonOrderId"]),
        created_at=created,
        updated_at=parse_time(str(updated)) if updated else created,
        status=status,
        cancelled=cancelled,
        lines=tuple(
            _line(i.get("OrderItemId"), i.get("SellerSKU"), i.get("QuantityOrdered"), cancelled)
            for i in items
        ),
    )


def push_result(listing_id: str, answer: Mapping[str, Any]) -> PushResult:
    """Read a ``patchListingsItem`` answer: ACCEPTED is applied (it goes live minutes later)."""
    status = answer.get("status")
    issues = [i for i in answer.get("issues") or [] if isinstance(i, dict)]
    if status == "ACCEPTED":
        message = f"accepted as submission {answer.get('submissionId')}; live within minutes"
        return PushResult(listing_id, PushStatus.APPLIED, message=message)
    errors = [i for i in issues if i.get("severity", "ERROR") == "ERROR"] or issues
    detail = "; ".join(f"{i.get('code')}: {i.get('message')}" for i in errors)
    return PushResult(listing_id, PushStatus.REJECTED, message=detail or f"status {status}")


def notification_of(message: Any) -> dict[str, Any] | None:
    """The notification in an SQS message body, an EventBridge event (``detail``) or an SQS
    ``ReceiveMessage`` entry (``Body`` as a JSON string); None when it is none of those."""
    if isinstance(message, dict) and isinstance(message.get("Body"), str):
        try:
            message = json.loads(message["Body"])
        except ValueError:
            return None
    if isinstance(message, dict) and isinstance(message.get("detail"), dict):
        message = message["detail"]
    if isinstance(message, dict) and "NotificationType" in message:
        return message
    return None


def _order_from_change(channel: str, change: Mapping[str, Any]) -> ChannelOrder | None:
    """The order an ORDER_CHANGE ``Summary`` describes; None without a summary."""
    summary = change.get("Summary")
    if not isinstance(summary, dict) or not summary.get("PurchaseDate"):
        return None
    status = str(summary.get("OrderStatus") or "")
    trigger = change.get("OrderChangeTrigger") or {}
    created = parse_time(str(summary["PurchaseDate"]))
    changed = trigger.get("TimeOfOrderChange")
    cancelled = status == CANCELLED
    return ChannelOrder(
        channel=channel,
        external_id=str(change["AmazonOrderId"]),
        created_at=created,
        updated_at=parse_time(str(changed)) if changed else created,
        status=status,
        cancelled=cancelled,
        lines=tuple(
            _line(i.get("OrderItemId"), i.get("SellerSKU"), i.get("Quantity"), cancelled)
            for i in summary.get("OrderItems") or []
        ),
    )


def build_event(channel: str, notification: Mapping[str, Any]) -> InboundEvent:
    """One event per notification; ``event_id`` is ``NotificationId``, stable across redeliveries."""
    kind_of = notification.get("NotificationType", "")
    metadata = notification.get("NotificationMetadata") or {}
    payload = notification.get("Payload") or {}
    when = notification.get("EventTime")
    common: dict[str, Any] = {
        "event_id": str(metadata.get("NotificationId") or ""),
        "topic": str(kind_of),
        "occurred_at": parse_time(str(when)) if when else None,
        "payload": dict(notification),
    }
    if kind_of == "ORDER_CHANGE" and isinstance(payload.get("OrderChangeNotification"), dict):
        order = _order_from_change(channel, payload["OrderChangeNotification"])
        cancelled = order is not None and order.cancelled
        kind = EventKind.ORDER_CANCELLED if cancelled else EventKind.ORDER_UPDATED
        return InboundEvent(kind=kind, order=order, **common)
    if kind_of == "LISTINGS_ITEM_MFN_QUANTITY_CHANGE" and payload.get("Sku"):
        sku = str(payload["Sku"])
        quantity = ChannelQuantity(sku, sku, int(payload.get("Quantity") or 0))
        return InboundEvent(kind=EventKind.INVENTORY, quantity=quantity, **common)
    return InboundEvent(kind=EventKind.UNKNOWN, **common)
