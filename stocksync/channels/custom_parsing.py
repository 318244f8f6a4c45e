"""Reading and writing a custom channel's JSON: dot paths, webhook signatures, orders normalised
to ChannelOrders and per-item push answers mapped onto push statuses.

Pure functions driven by the config, so they serve the connector and the emulator alike.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from stocksync.channels.base import PushResult, PushStatus, QuantityPush
from stocksync.channels.custom_config import (
    OrderLineFields,
    OrdersConfig,
    PushResults,
    WebhookConfig,
)
from stocksync.domain.messages import ChannelOrder, ChannelOrderLine

__all__ = [
    "build",
    "get_field",
    "parse_order",
    "parse_time",
    "push_result",
    "set_field",
    "text_or_none",
    "webhook_signature",
]


def get_field(data: Any, path: str | None, default: Any = None) -> Any:
    """The value at dot path ``path`` (``"event.id"``) in nested dicts, or ``default``."""
    if path is None:
        return default
    for part in path.split("."):
        if not isinstance(data, Mapping) or part not in data:
            return default
        data = data[part]
    return data


def set_field(data: dict[str, Any], path: str, value: Any) -> None:
    """Store ``value`` at dot path ``path``, creating the dicts on the way."""
    *parents, last = path.split(".")
    for part in parents:
        data = data.setdefault(part, {})
    data[last] = value


def build(fields: Mapping[str | None, Any]) -> dict[str, Any]:
    """A nested dict from ``{dot path: value}``; pairs without a path or a value are left out."""
    data: dict[str, Any] = {}
    for path, value in fields.items():
        if path is not None and value is not None:
            set_field(data, path, value)
    return data


def webhook_signature(config: WebhookConfig, body: bytes) -> str:
    """The header value the channel sends: prefix + HMAC-SHA256 of the raw body, hex or base64."""
    digest = hmac.new(config.secret.get_secret_value().encode(), body, hashlib.sha256).digest()
    encoded = digest.hex() if config.encoding == "hex" else base64.b64encode(digest).decode()
    return config.signature_prefix + encoded


def parse_time(value: Any) -> datetime:
    """An ISO 8601 string (naive means UTC) or epoch seconds."""
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def text_or_none(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _line(fields: OrderLineFields, item: Any, cancelled_order: bool) -> ChannelOrderLine:
    quantity = int(get_field(item, fields.quantity_field, 0))
    cancelled = get_field(item, fields.cancelled_field)
    return ChannelOrderLine(
        external_line_id=str(get_field(item, fields.id_field)),
        sku=text_or_none(get_field(item, fields.sku_field)),
        listing_id=text_or_none(get_field(item, fields.listing_id_field)),
        quantity=quantity,
        cancelled=int(cancelled) if cancelled is not None else quantity * cancelled_order,
    )


def parse_order(config: OrdersConfig, channel: str, payload: Any) -> ChannelOrder:
    """Normalise one order; without a cancelled-quantity field a cancelled order cancels every unit."""
    status = str(get_field(payload, config.status_field, ""))
    cancelled = status in config.cancelled_statuses
    created = parse_time(get_field(payload, config.created_field))
    updated = get_field(payload, config.updated_field)
    return ChannelOrder(
        channel=channel,
        external_id=str(get_field(payload, config.id_field)),
        created_at=created,
        updated_at=parse_time(updated) if updated is not None else created,
        status=status,
        cancelled=cancelled,
        lines=tuple(
            _line(config.line, item, cancelled)
            for item in get_field(payload, config.lines_key) or []
        ),
    )


def push_result(config: PushResults, push: QuantityPush, item: Any) -> PushResult:
    """Map one per-item answer onto APPLIED / CONFLICT / REJECTED."""
    if item is None:
        return PushResult(push.listing_id, PushStatus.REJECTED, message="no answer for this item")
    status = str(get_field(item, config.status_field, ""))
    seen = get_field(item, config.quantity_field)
    seen = int(seen) if seen is not None else None
    message = str(get_field(item, config.message_field, ""))
    if status in config.ok:
        return PushResult(push.listing_id, PushStatus.APPLIED, quantity_seen=seen, message=message)
    if status in config.conflict:
        return PushResult(push.listing_id, PushStatus.CONFLICT, quantity_seen=seen, message=message)
    message = message or f"status {status!r}"
    return PushResult(push.listing_id, PushStatus.REJECTED, quantity_seen=seen, message=message)
