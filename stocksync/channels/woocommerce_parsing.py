"""Reading what WooCommerce sends: listing ids, GMT times, webhook signatures and pings, orders
(with refunds and restocks) as ChannelOrders, product stock, what a listing id holds and
per-item batch answers.

Pure functions: no I/O, so the parsing tests need no shop.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from stocksync.channels.base import ListingIdentity, PushResult, PushStatus, QuantityPush
from stocksync.domain.messages import ChannelOrder, ChannelOrderLine, ChannelQuantity

__all__ = [
    "listing_id_for",
    "parse_listing_id",
    "parse_gmt",
    "parse_order",
    "ping_id",
    "product_identity",
    "product_listing_id",
    "push_result",
    "quantity_of",
    "variation_identity",
    "webhook_signature",
]

CANCELLED_STATUSES = frozenset({"cancelled", "refunded", "failed", "trash"})
UNITS_CANCELLED = frozenset({"cancelled", "failed", "trash"})


def listing_id_for(product_id: Any, variation_id: Any = 0) -> str | None:
    """``"<product>"`` or ``"<product>/<variation>"``; None for a line whose product was deleted."""
    if not product_id:
        return None
    return f"{product_id}/{variation_id}" if variation_id else str(product_id)


def parse_listing_id(listing_id: str) -> tuple[int, int] | None:
    """(product id, variation id or 0) of ``"<product>"`` / ``"<product>/<variation>"``; None
    for anything else."""
    product, slash, variation = listing_id.partition("/")
    if not product.isdigit() or (slash and not variation.isdigit()):
        return None
    return int(product), int(variation or 0)


def parse_gmt(value: str) -> datetime:
    """WooCommerce's ``*_gmt`` fields carry no zone; they are UTC."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def webhook_signature(secret: str, body: bytes) -> str:
    """``base64(HMAC-SHA256(secret, exact body bytes))``, WooCommerce's webhook signature."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def _meta(entries: Iterable[Mapping[str, Any]], key: str) -> Any:
    return next((entry.get("value") for entry in entries if entry.get("key") == key), None)


def _refunded_units(refunds: Iterable[Mapping[str, Any]]) -> Counter[str]:
    """Line id → units refunded, from refund objects (their lines carry ``_refunded_item_id``)."""
    units: Counter[str] = Counter()
    for refund in refunds:
        for line in refund.get("line_items") or []:
            item_id = _meta(line.get("meta_data") or [], "_refunded_item_id")
            if item_id is not None:
                units[str(item_id)] += abs(int(line.get("quantity") or 0))
    return units


def _parse_line(
    item: Mapping[str, Any], status: str, refunded: Counter[str], detailed: bool
) -> ChannelOrderLine:
    """One line; without refund details a ``refunded`` order counts every unit refunded."""
    line_id, quantity = str(item["id"]), int(item.get("quantity") or 0)
    if status == "refunded" and not detailed:
        units_refunded = quantity
    else:
        units_refunded = min(quantity, refunded[line_id])
    restocked = int(_meta(item.get("meta_data") or [], "_restock_refunded_items") or 0)
    return ChannelOrderLine(
        external_line_id=line_id,
        sku=item.get("sku") or None,
        listing_id=listing_id_for(item.get("product_id"), item.get("variation_id")),
        quantity=quantity,
        cancelled=quantity - units_refunded if status in UNITS_CANCELLED else 0,
        refunded=units_refunded,
        restocked=min(restocked, quantity),
    )


def parse_order(
    channel: str, payload: Mapping[str, Any], refunds: Sequence[Mapping[str, Any]] | None = None
) -> ChannelOrder:
    """Normalise a REST v3 order (or ``order.*`` webhook body).

    ``refunds`` are the order's refund objects (``GET /orders/{id}/refunds``); the order's own
    ``refunds`` entries are used instead when they carry ``line_items``. Restocked units come from
    the ``_restock_refunded_items`` meta WooCommerce keeps on each line.
    """
    status = str(payload.get("status") or "")
    if refunds is None:
        refunds = [r for r in payload.get("refunds") or [] if "line_items" in r]
    detailed, refunded = bool(refunds), _refunded_units(refunds)
    created = parse_gmt(str(payload["date_created_gmt"]))
    modified = payload.get("date_modified_gmt")
    return ChannelOrder(
        channel=channel,
        external_id=str(payload["id"]),
        created_at=created,
        updated_at=parse_gmt(str(modified)) if modified else created,
        status=status,
        cancelled=status in CANCELLED_STATUSES,
        lines=tuple(
            _parse_line(i, status, refunded, detailed) for i in payload.get("line_items") or []
        ),
    )


def quantity_of(payload: Mapping[str, Any], listing_id: str | None) -> ChannelQuantity | None:
    """What a product or variation shows, when it manages stock."""
    quantity = payload.get("stock_quantity")
    if listing_id is None or quantity is None:
        return None
    return ChannelQuantity(
        listing_id=listing_id, sku=payload.get("sku") or None, quantity=int(quantity)
    )


def product_identity(
    channel: str, listing_id: str, product_id: int, product: Mapping[str, Any] | None
) -> ListingIdentity:
    """What a product from ``GET /products?include=`` says about listing ``"<product_id>"``.

    Found only when a pushed ``stock_quantity`` would take: the product manages its stock. A
    variable product that does not holds no stock of its own (its variations do).
    """
    if product is None:
        return ListingIdentity(listing_id, False, problem=f"no product {product_id} on {channel}")
    sku = str(product.get("sku") or "").strip() or None
    if product.get("manage_stock") is True:
        return ListingIdentity(listing_id, True, sku)
    if product.get("type") == "variable":
        problem = f"product {product_id} is variable; list its variations"
    else:
        problem = (
            f"product {product_id} does not manage stock (manage_stock is false), "
            "so a pushed stock_quantity would not take"
        )
    return ListingIdentity(listing_id, False, sku, problem)


def variation_identity(
    channel: str,
    listing_id: str,
    ids: tuple[int, int],
    variation: Mapping[str, Any] | None,
    parent_found: bool = True,
) -> ListingIdentity:
    """What a variation from ``GET /products/<id>/variations?include=`` says about listing
    ``"<product>/<variation>"``: found when it manages its own stock."""
    product_id, variation_id = ids
    if not parent_found:
        return ListingIdentity(listing_id, False, problem=f"no product {product_id} on {channel}")
    if variation is None:
        problem = f"no variation {variation_id} of product {product_id} on {channel}"
        return ListingIdentity(listing_id, False, problem=problem)
    sku = str(variation.get("sku") or "").strip() or None
    manage = variation.get("manage_stock")
    if manage is True:
        return ListingIdentity(listing_id, True, sku)
    if manage == "parent":
        problem = (
            f"variation {variation_id} follows the stock of product {product_id} "
            f"(manage_stock is parent); list product {product_id}"
        )
    else:
        problem = (
            f"variation {variation_id} of product {product_id} does not manage stock "
            "(manage_stock is false), so a pushed stock_quantity would not take"
        )
    return ListingIdentity(listing_id, False, sku, problem)


def product_listing_id(payload: Mapping[str, Any]) -> str | None:
    if payload.get("type") == "variation" and payload.get("parent_id"):
        return listing_id_for(payload["parent_id"], payload.get("id"))
    return listing_id_for(payload.get("id"))


def push_result(push: QuantityPush, item: Any) -> PushResult:
    """Read one ``update`` answer: an error object, or the product as WooCommerce saved it."""
    if not isinstance(item, dict):
        return PushResult(push.listing_id, PushStatus.REJECTED, message="no answer for this item")
    error = item.get("error")
    if isinstance(error, dict):
        return PushResult(
            push.listing_id,
            PushStatus.REJECTED,
            message=f"{error.get('code')}: {error.get('message')}",
        )
    seen = item.get("stock_quantity")
    if seen != push.quantity:
        message = f"stock_quantity is {seen} after the update (manage_stock is off?)"
        return PushResult(push.listing_id, PushStatus.REJECTED, quantity_seen=seen, message=message)
    return PushResult(push.listing_id, PushStatus.APPLIED, quantity_seen=seen)


def ping_id(body: bytes) -> str | None:
    """The ``webhook_id`` of WooCommerce's ping (form body ``webhook_id=N``), else None."""
    try:
        fields = parse_qs(body.decode("ascii"), strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        return None
    ids = fields.get("webhook_id", [])
    return ids[0] if list(fields) == ["webhook_id"] and len(ids) == 1 and ids[0].isdigit() else None
