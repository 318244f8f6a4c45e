"""Reading what Shopify sends: webhook topics and signatures, REST and GraphQL orders as
ChannelOrders, and the parts of GraphQL answers the connector acts on (errors, throttling, counts).

Pure functions: no I/O, so the parsing tests need no shop.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from stocksync.channels.base import ListingIdentity
from stocksync.channels.errors import SignatureError
from stocksync.domain.messages import ChannelOrder, ChannelOrderLine, EventKind

__all__ = [
    "TOPIC_KINDS",
    "Json",
    "available_of",
    "error_text",
    "gid_tail",
    "is_throttled",
    "item_identity",
    "json_or_text",
    "level_gid",
    "order_from_graphql",
    "order_from_rest",
    "quantity_index",
    "refund_order_from_rest",
    "time_or_none",
    "to_gid",
    "verify_signature",
]

Json = dict[str, Any]

RESTOCKING = frozenset({"return", "cancel"})
TOPIC_KINDS = {
    "orders/create": EventKind.ORDER_CREATED,
    "orders/updated": EventKind.ORDER_UPDATED,
    "orders/cancelled": EventKind.ORDER_CANCELLED,
    "refunds/create": EventKind.REFUND,
    "inventory_levels/update": EventKind.INVENTORY,
}


def order_from_graphql(channel: str, node: Json) -> ChannelOrder:
    """An ``orders`` query node (GraphQL shape) as a ChannelOrder."""
    refunded, restocked = _refund_totals(
        (
            gid_tail(rl["lineItem"]["id"]),
            rl["quantity"],
            str(rl.get("restockType") or "").lower(),
        )
        for refund in node.get("refunds") or []
        for rl in (refund.get("refundLineItems") or {}).get("nodes") or []
    )
    cancelled = node.get("cancelledAt") is not None
    lines = tuple(
        _line(
            gid_tail(ln["id"]),
            ln.get("sku"),
            (ln.get("variant") or {}).get("id"),
            int(ln["quantity"]),
            cancelled,
            refunded,
            restocked,
        )
        for ln in (node.get("lineItems") or {}).get("nodes") or []
    )
    return ChannelOrder(
        channel=channel,
        external_id=node.get("legacyResourceId") or gid_tail(node["id"]),
        created_at=_time(node.get("createdAt")),
        updated_at=_time(node.get("updatedAt") or node.get("createdAt")),
        status=str(node.get("displayFinancialStatus") or "").lower(),
        cancelled=cancelled,
        lines=lines,
    )


def order_from_rest(channel: str, order: Json) -> ChannelOrder:
    """An ``orders/*`` webhook body (REST shape) as a ChannelOrder; ids become strings."""
    refunded, restocked = _refund_totals(
        (str(rl["line_item_id"]), rl["quantity"], _restock_type(refund, rl))
        for refund in order.get("refunds") or []
        for rl in refund.get("refund_line_items") or []
    )
    cancelled = order.get("cancelled_at") is not None
    lines = tuple(
        _line(
            str(ln["id"]),
            ln.get("sku"),
            _variant_gid(ln.get("variant_id")),
            int(ln.get("quantity") or 0),
            cancelled,
            refunded,
            restocked,
        )
        for ln in order.get("line_items") or []
    )
    created = _time(order.get("created_at"))
    return ChannelOrder(
        channel=channel,
        external_id=str(order["id"]),
        created_at=created,
        updated_at=time_or_none(order.get("updated_at")) or created,
        status=str(order.get("financial_status") or ""),
        cancelled=cancelled,
        lines=lines,
    )


def refund_order_from_rest(channel: str, refund: Json) -> ChannelOrder:
    """A ``refunds/create`` body as the order lines it refunds (and restocks).

    Accepts the webhook body and the REST resource (wrapped in ``"refund"``). A line restocks when
    its ``restock_type`` is return/cancel or, on older bodies without it, when ``restock`` is true.
    """
    refund = refund.get("refund", refund)
    created = _time(refund.get("created_at"))
    lines = tuple(
        ChannelOrderLine(
            external_line_id=str(rl["line_item_id"]),
            sku=((rl.get("line_item") or {}).get("sku") or "").strip() or None,
            listing_id=_variant_gid((rl.get("line_item") or {}).get("variant_id")),
            quantity=int((rl.get("line_item") or {}).get("quantity") or rl["quantity"]),
            refunded=int(rl["quantity"]),
            restocked=int(rl["quantity"]) if _restock_type(refund, rl) in RESTOCKING else 0,
        )
        for rl in refund.get("refund_line_items") or []
    )
    return ChannelOrder(
        channel, str(refund["order_id"]), created, created, "refunded", False, lines
    )


def _line(
    line_id: str,
    sku: str | None,
    listing_id: str | None,
    quantity: int,
    cancelled: bool,
    refunded: Mapping[str, int],
    restocked: Mapping[str, int],
) -> ChannelOrderLine:
    return ChannelOrderLine(
        external_line_id=line_id,
        sku=(sku or "").strip() or None,
        listing_id=listing_id,
        quantity=quantity,
        cancelled=quantity if cancelled else 0,
        refunded=refunded.get(line_id, 0),
        restocked=restocked.get(line_id, 0),
    )


def _refund_totals(
    entries: Iterator[tuple[str, int, str]],
) -> tuple[dict[str, int], dict[str, int]]:
    """Units refunded and restocked per line id, from (line id, quantity, restock type)."""
    refunded: dict[str, int] = {}
    restocked: dict[str, int] = {}
    for line_id, qty, restock in entries:
        refunded[line_id] = refunded.get(line_id, 0) + int(qty)
        if restock in RESTOCKING:
            restocked[line_id] = restocked.get(line_id, 0) + int(qty)
    return refunded, restocked


def _restock_type(refund: Json, refund_line: Json) -> str:
    if refund_line.get("restock_type"):
        return str(refund_line["restock_type"]).lower()
    return "return" if refund.get("restock") else "no_restock"


def verify_signature(channel: str, secret: str, signature: str | None, body: bytes) -> None:
    """Raise SignatureError unless ``signature`` is base64 HMAC-SHA256 of ``body`` with ``secret``."""
    if not secret or not signature:
        raise SignatureError(channel, "webhook signature missing or no secret configured")
    expected = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest())
    if not hmac.compare_digest(expected, signature.strip().encode("utf-8", "replace")):
        raise SignatureError(channel, "webhook signature does not match the body")


def quantity_index(error: Json) -> int | None:
    """The quantity (or change) a userError names (``["input", "quantities", "3", …]``,
    ``["input", "changes", "3", …]``), if any."""
    field = [str(f) for f in error.get("field") or []]
    if len(field) >= 3 and field[1] in ("quantities", "changes") and field[2].isdigit():
        return int(field[2])
    return None


def is_throttled(body: Json) -> bool:
    return any(
        ((e.get("extensions") or {}).get("code") == "THROTTLED")
        for e in body.get("errors") or []
        if isinstance(e, dict)
    )


def error_text(body: Json) -> str:
    errors = body.get("errors")
    if isinstance(errors, list):
        parts = [
            f"{e.get('code') or (e.get('extensions') or {}).get('code') or ''} {e.get('message')}".strip()
            for e in errors
            if isinstance(e, dict)
        ]
        return "; ".join(parts) or "no data"
    return str(errors or "no data")


def json_or_text(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


def available_of(level: Json) -> int:
    return next(
        (int(q["quantity"]) for q in level.get("quantities") or [] if q["name"] == "available"), 0
    )


def item_identity(
    channel: str, listing_id: str, item: str, location: str, node: Json | None
) -> ListingIdentity:
    """What an ``ITEMS_AT_LOCATION`` node says about the listing whose pushes set ``item`` at
    ``location``: found when the item exists and is stocked there (a push would be refused with
    ``ITEM_NOT_STOCKED_AT_LOCATION`` otherwise)."""
    if not node or node.get("id") != item:
        return ListingIdentity(listing_id, False, problem=f"no inventory item {item} on {channel}")
    sku = str(node.get("sku") or "").strip() or None
    if node.get("inventoryLevel") is None:
        problem = f"inventory item {item} is not stocked at {location}"
        return ListingIdentity(listing_id, False, sku, problem)
    return ListingIdentity(listing_id, True, sku)


def level_gid(target: tuple[str, str]) -> str:
    item, location = target
    return f"gid://shopify/InventoryLevel/{gid_tail(location)}?inventory_item_id={gid_tail(item)}"


def gid_tail(value: str) -> str:
    return str(value).rsplit("/", 1)[-1].split("?", 1)[0]


def to_gid(kind: str, value: str) -> str:
    return value if str(value).startswith("gid://") else f"gid://shopify/{kind}/{value}"


def _variant_gid(variant_id: Any) -> str | None:
    return f"gid://shopify/ProductVariant/{variant_id}" if variant_id else None


def time_or_none(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _time(value: Any) -> datetime:
    """A channel timestamp; a missing or unreadable one counts as now."""
    return time_or_none(value) or datetime.now(UTC)
