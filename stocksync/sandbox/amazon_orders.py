"""The emulated seller's orders: shopper checkout, ``getOrders`` rules, shipment confirmation.

Every function here runs with ``state.lock`` held by its caller and raises ``AmazonError``.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from stocksync.sandbox.amazon import TWO_MINUTES, AmazonError, AmazonState, amazon_time

__all__ = [
    "cancel_order",
    "confirm_shipment",
    "find_order",
    "order_change_notification",
    "page_of_orders",
    "place_order",
]

MAX_PER_PAGE = 100
ORDER_STATUSES = frozenset({"Pending", "Unshipped"})


def _invalid(message: str) -> AmazonError:
    return AmazonError(400, "InvalidInput", message)


def _parse_date(name: str, raw: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise _invalid(f"{name} is not a valid ISO 8601 date: {raw}") from exc
    if parsed.tzinfo is None:
        raise _invalid(f"{name} must carry a time zone: {raw}")
    return parsed


# -- shopper checkout and cancellation -------------------------------------------------------------


def place_order(
    state: AmazonState, lines: Sequence[Mapping[str, Any]], status: str = "Unshipped"
) -> dict[str, Any]:
    """A shopper buys ``[{"sku", "quantity"}]``: every line must be covered by what is shown."""
    if status not in ORDER_STATUSES:
        raise _invalid(f"a new order is Pending or Unshipped, not {status}")
    wanted: Counter[str] = Counter()
    for line in lines:
        wanted[str(line["sku"])] += int(line["quantity"])
    state.settle()
    for sku, quantity in wanted.items():
        listing = state.listings.get(sku)
        if listing is None or listing.quantity < quantity:
            raise AmazonError(
                409, "OutOfStock", f"Only {listing.quantity if listing else 0} of {sku} left."
            )
    for sku, quantity in wanted.items():
        state.listings[sku].quantity -= quantity
    order_id, now = state.order_id(), amazon_time(state.clock())
    state.order_items[order_id] = [_order_item(state, sku, q) for sku, q in wanted.items()]
    state.orders[order_id] = {
        "AmazonOrderId": order_id, "PurchaseDate": now, "LastUpdateDate": now,
        "OrderStatus": status, "FulfillmentChannel": "MFN", "SalesChannel": "Amazon.com",
        "NumberOfItemsShipped": 0, "NumberOfItemsUnshipped": sum(wanted.values()),
        "MarketplaceId": state.marketplace_id, "OrderType": "StandardOrder",
        "ShipmentServiceLevelCategory": "Standard", "IsPrime": False, "IsBusinessOrder": False,
    }  # fmt: skip
    return state.orders[order_id]


def _order_item(state: AmazonState, sku: str, quantity: int) -> dict[str, Any]:
    listing = state.listings[sku]
    return {
        "ASIN": listing.asin, "SellerSKU": sku, "OrderItemId": state.item_id(),
        "Title": listing.item_name, "QuantityOrdered": quantity, "QuantityShipped": 0,
    }  # fmt: skip


def find_order(state: AmazonState, order_id: str) -> dict[str, Any]:
    order = state.orders.get(order_id)
    if order is None:
        raise AmazonError(404, "NotFound", f"Order {order_id} was not found.")
    return order


def cancel_order(state: AmazonState, order_id: str) -> dict[str, Any]:
    """Cancel an unshipped order: its units go back on the listings."""
    order = find_order(state, order_id)
    if order["OrderStatus"] not in ORDER_STATUSES:
        raise _invalid(f"An order in status {order['OrderStatus']} cannot be cancelled.")
    for item in state.order_items[order_id]:
        listing = state.listings.get(item["SellerSKU"])
        if listing is not None:
            listing.quantity += item["QuantityOrdered"] - item["QuantityShipped"]
    order.update(OrderStatus="Canceled", NumberOfItemsUnshipped=0)
    order["LastUpdateDate"] = amazon_time(state.clock())
    return order


# -- getOrders -----------------------------------------------------------------------------------


def page_of_orders(state: AmazonState, params: Mapping[str, str]) -> dict[str, Any]:
    """Answer ``getOrders``: validate like Amazon, then one page and maybe a ``NextToken``."""
    if not params.get("MarketplaceIds"):
        raise _invalid("MarketplaceIds is required.")
    token = params.get("NextToken")
    if token:
        if token not in state.next_tokens:
            raise _invalid("Invalid NextToken.")
        ids, per_page, bound = state.next_tokens.pop(token)
    else:
        per_page = _per_page(params)
        ids, bound = _query(state, params)
    page, rest = ids[:per_page], ids[per_page:]
    payload: dict[str, Any] = {"Orders": [copy.deepcopy(state.orders[i]) for i in page], **bound}
    if rest:
        next_token = state.uuid().replace("-", "")
        state.next_tokens[next_token] = (rest, per_page, bound)
        payload["NextToken"] = next_token
    return {"payload": payload}


def _per_page(params: Mapping[str, str]) -> int:
    raw = params.get("MaxResultsPerPage", str(MAX_PER_PAGE))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PER_PAGE:
        raise _invalid(f"MaxResultsPerPage must be between 1 and {MAX_PER_PAGE}.")
    return int(raw)


def _query(state: AmazonState, params: Mapping[str, str]) -> tuple[list[str], dict[str, str]]:
    """Order ids matching the window, oldest change first, and the window's upper bound."""
    created, updated = params.get("CreatedAfter"), params.get("LastUpdatedAfter")
    if bool(created) == bool(updated):
        raise _invalid("Exactly one of CreatedAfter and LastUpdatedAfter is required.")
    if created and (params.get("LastUpdatedAfter") or params.get("LastUpdatedBefore")):
        raise _invalid("LastUpdatedAfter and LastUpdatedBefore cannot be set with CreatedAfter.")
    if updated and params.get("CreatedBefore"):
        raise _invalid("CreatedBefore cannot be set with LastUpdatedAfter.")
    prefix, field_name = (
        ("Created", "PurchaseDate") if created else ("LastUpdated", "LastUpdateDate")
    )
    after = _parse_date(f"{prefix}After", str(created or updated))
    before = _upper_bound(state, prefix, params.get(f"{prefix}Before"), after)
    statuses = set(filter(None, (params.get("OrderStatuses") or "").split(",")))
    matching = [
        o for o in state.orders.values()
        if after <= datetime.fromisoformat(o[field_name]) <= before
        and (not statuses or o["OrderStatus"] in statuses)
    ]  # fmt: skip
    matching.sort(key=lambda o: (o[field_name], o["AmazonOrderId"]))
    return [o["AmazonOrderId"] for o in matching], {f"{prefix}Before": amazon_time(before)}


def _upper_bound(state: AmazonState, prefix: str, raw: str | None, after: datetime) -> datetime:
    """``*Before`` must be ≥ ``*After`` and at least two minutes in the past; default now − 2 min."""
    latest = state.clock() - TWO_MINUTES
    if raw is None:
        return latest
    before = _parse_date(f"{prefix}Before", raw)
    if before < after:
        raise _invalid(f"{prefix}Before must be equal to or after {prefix}After.")
    if before > latest:
        raise _invalid(f"{prefix}Before must be at least two minutes before the current time.")
    return before


# -- shipment confirmation -----------------------------------------------------------------------


def confirm_shipment(state: AmazonState, order_id: str, body: Mapping[str, Any]) -> None:
    """Mark the listed units shipped; the order becomes Shipped once every unit has gone."""
    order = find_order(state, order_id)
    detail = body.get("packageDetail")
    if body.get("marketplaceId") != state.marketplace_id or not isinstance(detail, dict):
        raise _invalid("marketplaceId and packageDetail are required.")
    missing = [
        f for f in ("packageReferenceId", "carrierCode", "trackingNumber", "shipDate", "orderItems")
        if not detail.get(f)
    ]  # fmt: skip
    if missing:
        raise _invalid(f"packageDetail is missing {', '.join(missing)}.")
    if detail["carrierCode"] == "Other" and not detail.get("carrierName"):
        raise _invalid("carrierName is required when carrierCode is Other.")
    if order["OrderStatus"] not in ("Unshipped", "PartiallyShipped"):
        raise _invalid(f"An order in status {order['OrderStatus']} cannot be shipped.")
    _ship_items(state, order, detail["orderItems"])
    state.shipments.append({"AmazonOrderId": order_id, **copy.deepcopy(detail)})


def _ship_items(state: AmazonState, order: dict[str, Any], lines: Sequence[Any]) -> None:
    items = {i["OrderItemId"]: i for i in state.order_items[order["AmazonOrderId"]]}
    for line in lines:
        item = items.get(str(line.get("orderItemId")))
        units = line.get("quantity")
        if item is None or not isinstance(units, int) or units < 1:
            raise _invalid(f"Invalid order item or quantity: {line}")
        if item["QuantityShipped"] + units > item["QuantityOrdered"]:
            raise _invalid(f"Order item {item['OrderItemId']} has fewer units left to ship.")
    for line in lines:
        items[str(line["orderItemId"])]["QuantityShipped"] += line["quantity"]
    shipped = sum(i["QuantityShipped"] for i in items.values())
    ordered = sum(i["QuantityOrdered"] for i in items.values())
    order.update(
        NumberOfItemsShipped=shipped,
        NumberOfItemsUnshipped=ordered - shipped,
        OrderStatus="Shipped" if shipped == ordered else "PartiallyShipped",
        LastUpdateDate=amazon_time(state.clock()),
    )


# -- notifications -------------------------------------------------------------------------------


def order_change_notification(state: AmazonState, order_id: str, reason: str) -> dict[str, Any]:
    """The ORDER_CHANGE notification for the order as it stands (schema OrderChangeNotification)."""
    order, now = state.orders[order_id], state.clock()
    stamp = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"
    items = [
        {
            "OrderItemId": i["OrderItemId"],
            "SellerSKU": i["SellerSKU"],
            "OrderItemStatus": order["OrderStatus"],
            "Quantity": i["QuantityOrdered"],
            "QuantityShipped": i["QuantityShipped"],
            "IsBuyerRequestedCancel": False,
        }  # fmt: skip
        for i in state.order_items[order_id]
    ]
    summary = {
        "MarketplaceId": order["MarketplaceId"], "OrderStatus": order["OrderStatus"],
        "PurchaseDate": order["PurchaseDate"], "FulfillmentType": "MFN",
        "OrderType": order["OrderType"], "NumberOfItemsShipped": order["NumberOfItemsShipped"],
        "NumberOfItemsUnshipped": order["NumberOfItemsUnshipped"], "OrderItems": items,
    }  # fmt: skip
    change = {
        "NotificationLevel": "OrderLevel", "SellerId": state.seller_id, "AmazonOrderId": order_id,
        "OrderChangeType": "OrderStatusChange",
        "OrderChangeTrigger": {"TimeOfOrderChange": stamp, "ChangeReason": reason},
        "Summary": summary,
    }  # fmt: skip
    return {
        "NotificationVersion": "1.0", "NotificationType": "ORDER_CHANGE", "PayloadVersion": "1.0",
        "EventTime": stamp, "Payload": {"OrderChangeNotification": change},
        "NotificationMetadata": {
            "ApplicationId": "amzn1.sellerapps.app.sandbox", "SubscriptionId": state.uuid(),
            "PublishTime": stamp, "NotificationId": state.uuid(),
        },
    }  # fmt: skip
