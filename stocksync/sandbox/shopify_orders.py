"""The Shopify emulator's orders: shopper checkout, the ``orders``/``order`` queries with their
fulfillment orders, and the ``fulfillmentCreate`` and ``refundCreate`` mutations.

Orders are stored in REST shape (int64 ids, snake_case), as webhooks carry them, and rendered in
GraphQL shape (gids, camelCase) when queried.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

from stocksync.sandbox.shopify_graphql import Call, paginate
from stocksync.sandbox.shopify_state import DEFAULT_LOCATION, InventoryItem, ShopifyState
from stocksync.sandbox.shopify_values import Json, gid, gid_number, now

__all__ = [
    "OutOfStockError",
    "order_cost",
    "orders_cost",
    "place_order",
    "resolve_fulfill",
    "resolve_order",
    "resolve_orders",
    "resolve_refund",
]


def _gql_time(value: str | None) -> str | None:
    """A REST timestamp as GraphQL renders it (UTC, ``Z``)."""
    if value is None:
        return None
    return datetime.fromisoformat(value).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class OutOfStockError(Exception):
    """A shopper asked for more than ``available``."""


def place_order(state: ShopifyState, lines: list[Json], location: str = DEFAULT_LOCATION) -> Json:
    """Check out ``lines`` (``inventory_item_id`` gid, ``quantity``) as a shopper would.

    All lines must fit in ``available`` at ``location`` or nothing changes. The order is stored
    in REST shape (int64 ids) and announced by ``orders/create`` and ``inventory_levels/update``.
    """
    with state.lock:
        wanted = [(_stocked_item(state, ln, location), int(ln["quantity"])) for ln in lines]
        for item, qty in wanted:
            if qty <= 0 or item.levels[location] < qty:
                raise OutOfStockError(f"{item.sku}: {item.levels[location]} available, {qty} asked")
        order = _new_order(state, wanted, location)
        state.orders[order["id"]] = order
        _open_fulfillment_order(state, order)
        state.webhooks.publish("orders/create", order)
        for item, qty in wanted:
            state.set_available(item, location, item.levels[location] - qty)
        return order


def _stocked_item(state: ShopifyState, line: Json, location: str) -> InventoryItem:
    item = state.items.get(gid_number(line.get("inventory_item_id")) or 0)
    if item is None or location not in item.levels:
        raise OutOfStockError(f"{line.get('inventory_item_id')} is not stocked at {location}")
    return item


def _new_order(state: ShopifyState, wanted: list[tuple[InventoryItem, int]], location: str) -> Json:
    order_id, created = state.new_id(), now().isoformat()
    number = 1001 + len(state.orders)
    return {
        "id": order_id,
        "admin_graphql_api_id": gid("Order", order_id),
        "name": f"#{number}",
        "order_number": number,
        "created_at": created,
        "updated_at": created,
        "cancelled_at": None,
        "cancel_reason": None,
        "financial_status": "paid",
        "fulfillment_status": None,
        "location_id": gid_number(location),
        "line_items": [_new_line(state, item, qty) for item, qty in wanted],
        "fulfillments": [],
        "refunds": [],
    }


def _new_line(state: ShopifyState, item: InventoryItem, qty: int) -> Json:
    line_id = state.new_id()
    return {
        "id": line_id,
        "admin_graphql_api_id": gid("LineItem", line_id),
        "variant_id": item.variant_id,
        "product_id": item.product_id,
        "title": item.title,
        "sku": item.sku,
        "quantity": qty,
        "current_quantity": qty,
        "fulfillable_quantity": qty,
        "fulfillment_status": None,
    }


def _open_fulfillment_order(state: ShopifyState, order: Json) -> None:
    lines = {state.new_id(): [line["id"], line["quantity"]] for line in order["line_items"]}
    state.fulfillment_orders[state.new_id()] = {"order_id": order["id"], "lines": lines}


# ---------------------------------------------------------------- orders


def _order_node_cost(call: Call) -> int:
    nested = (call.first(name, 0) for name in ("lineItems", "refundLineItems"))
    return 1 + sum(2 + n for n in nested if n)


def orders_cost(call: Call) -> int:
    return 2 + call.first("orders", 50) * _order_node_cost(call)


def _order_node(state: ShopifyState, order: Json) -> Json:
    """An order as GraphQL shows it (the REST record rendered in camelCase with gids)."""
    return {
        "id": gid("Order", order["id"]),
        "legacyResourceId": str(order["id"]),
        "name": order["name"],
        "createdAt": _gql_time(order["created_at"]),
        "updatedAt": _gql_time(order["updated_at"]),
        "cancelledAt": _gql_time(order["cancelled_at"]),
        "cancelReason": (order["cancel_reason"] or "").upper() or None,
        "displayFinancialStatus": order["financial_status"].upper(),
        "displayFulfillmentStatus": (order["fulfillment_status"] or "unfulfilled").upper(),
        "lineItems": {"nodes": [_line_node(state, line) for line in order["line_items"]]},
        "refunds": [_refund_node(r) for r in order["refunds"]],
    }


def _line_node(state: ShopifyState, line: Json) -> Json:
    item = state.item_by_variant(line["variant_id"])
    variant: Json = {"id": gid("ProductVariant", line["variant_id"])}
    if item:
        variant["inventoryItem"] = {"id": gid("InventoryItem", item.id)}
    return {
        "id": gid("LineItem", line["id"]),
        "sku": line["sku"],
        "quantity": line["quantity"],
        "currentQuantity": line["current_quantity"],
        "variant": variant,
    }


def _refund_node(refund: Json) -> Json:
    lines = [
        {
            "quantity": rl["quantity"],
            "restockType": rl["restock_type"].upper(),
            "lineItem": {"id": gid("LineItem", rl["line_item_id"])},
        }
        for rl in refund["refund_line_items"]
    ]
    return {
        "id": gid("Refund", refund["id"]),
        "createdAt": _gql_time(refund["created_at"]),
        "refundLineItems": {"nodes": lines},
    }


def _updated_filter(search: str | None) -> Callable[[Json], bool]:
    """The ``updated_at:>…``/``>=``/``<``/``<=`` term of an orders search (others ignored)."""
    match = re.search(r"updated_at:(>=|<=|>|<)'?([^'\s]+)'?", search or "")
    if not match:
        return lambda order: True
    op, bound = match.group(1), datetime.fromisoformat(match.group(2))
    compare: dict[str, Callable[[datetime], bool]] = {
        ">": lambda t: t > bound,
        ">=": lambda t: t >= bound,
        "<": lambda t: t < bound,
        "<=": lambda t: t <= bound,
    }
    return lambda order: compare[op](datetime.fromisoformat(order["updated_at"]))


def resolve_orders(state: ShopifyState, call: Call) -> tuple[Json, int]:
    keep = _updated_filter(call.arg("orders", "query"))
    ordered = sorted(
        (o for o in state.orders.values() if keep(o)),
        key=lambda o: (datetime.fromisoformat(o["updated_at"]), o["id"]),
    )
    nodes = [_order_node(state, o) for o in ordered]
    page = paginate(nodes, call.arg("orders", "after"), call.first("orders", 50), lambda n: n["id"])
    return {"orders": page}, 2 + len(page["nodes"]) * _order_node_cost(call)


def order_cost(call: Call) -> int:
    return (
        1
        + _order_node_cost(call)
        + 2
        + call.first("fulfillmentOrders", 10) * (3 + call.first("lineItems", 0))
    )


def resolve_order(state: ShopifyState, call: Call) -> tuple[Json, int]:
    order = state.orders.get(gid_number(call.arg("order", "id")) or 0)
    if order is None:
        return {"order": None}, 1
    node = _order_node(state, order)
    node["fulfillmentOrders"] = {
        "nodes": [
            _fulfillment_order_node(state, fo_id, fo)
            for fo_id, fo in state.fulfillment_orders.items()
            if fo["order_id"] == order["id"]
        ]
    }
    return {"order": node}, order_cost(call)


def _fulfillment_order_node(state: ShopifyState, fo_id: int, fo: Json) -> Json:
    order = state.orders[fo["order_id"]]
    skus = {line["id"]: line["sku"] for line in order["line_items"]}
    lines = [
        {
            "id": gid("FulfillmentOrderLineItem", fol_id),
            "remainingQuantity": remaining,
            "lineItem": {"id": gid("LineItem", line_id), "sku": skus[line_id]},
        }
        for fol_id, (line_id, remaining) in fo["lines"].items()
    ]
    closed = all(remaining == 0 for _, remaining in fo["lines"].values())
    return {
        "id": gid("FulfillmentOrder", fo_id),
        "status": "CLOSED" if closed else "OPEN",
        "lineItems": {"nodes": lines},
    }


# ---------------------------------------------------------------- fulfilments and refunds


def resolve_fulfill(state: ShopifyState, call: Call) -> tuple[Json, int]:
    data: Json = call.arg("fulfillmentCreate", "fulfillment") or {}
    groups = data.get("lineItemsByFulfillmentOrder") or []
    plan, errors = _fulfillment_plan(state, groups)
    if errors:
        return {"fulfillmentCreate": {"fulfillment": None, "userErrors": errors}}, 10
    tracking = data.get("trackingInfo") or {}
    fulfillment_id = state.new_id()
    order_ids = set()
    for fo_id, fol_id, qty in plan:
        fo = state.fulfillment_orders[fo_id]
        fo["lines"][fol_id][1] -= qty
        order_ids.add(fo["order_id"])
        _mark_fulfilled(state.orders[fo["order_id"]], fo["lines"][fol_id][0], qty)
    for order_id in order_ids:
        order = state.orders[order_id]
        order["fulfillments"].append(
            {"id": fulfillment_id, "status": "success", "tracking_number": tracking.get("number")}
        )
        state.touch(order)
    info = {
        "company": tracking.get("company"),
        "number": tracking.get("number"),
        "url": tracking.get("url"),
    }
    result = {"id": gid("Fulfillment", fulfillment_id), "status": "SUCCESS", "trackingInfo": [info]}
    return {"fulfillmentCreate": {"fulfillment": result, "userErrors": []}}, 10


def _fulfillment_plan(
    state: ShopifyState, groups: list[Json]
) -> tuple[list[tuple[int, int, int]], list[Json]]:
    """(fulfillment order, its line, units) to ship, or the userErrors that forbid it."""
    plan: list[tuple[int, int, int]] = []
    errors: list[Json] = []
    for g, group in enumerate(groups):
        path = ["fulfillment", "lineItemsByFulfillmentOrder", str(g)]
        fo_id = gid_number(group.get("fulfillmentOrderId")) or 0
        fo = state.fulfillment_orders.get(fo_id)
        if fo is None:
            errors.append(
                {
                    "field": [*path, "fulfillmentOrderId"],
                    "message": "Fulfillment order does not exist.",
                }
            )
            continue
        wanted = group.get("fulfillmentOrderLineItems") or [
            {"id": gid("FulfillmentOrderLineItem", k), "quantity": v[1]}
            for k, v in fo["lines"].items()
        ]
        for entry in wanted:
            line = fo["lines"].get(gid_number(entry.get("id")) or 0)
            if line is None or not 0 < int(entry.get("quantity", 0)) <= line[1]:
                errors.append(
                    {
                        "field": path,
                        "message": "Invalid fulfillment order line item quantity requested.",
                    }
                )
            else:
                plan.append((fo_id, gid_number(entry["id"]) or 0, int(entry["quantity"])))
    return plan, errors


def _mark_fulfilled(order: Json, line_id: int, qty: int) -> None:
    line = next(ln for ln in order["line_items"] if ln["id"] == line_id)
    line["fulfillable_quantity"] -= qty
    line["fulfillment_status"] = "fulfilled" if line["fulfillable_quantity"] == 0 else "partial"
    done = all(ln["fulfillable_quantity"] == 0 for ln in order["line_items"])
    order["fulfillment_status"] = "fulfilled" if done else "partial"


def resolve_refund(state: ShopifyState, call: Call) -> tuple[Json, int]:
    data: Json = call.arg("refundCreate", "input") or {}
    order = state.orders.get(gid_number(data.get("orderId")) or 0)
    errors = _refund_errors(order, data)
    if order is None or errors:
        return {"refundCreate": {"refund": None, "userErrors": errors}}, 10
    refund = _record_refund(state, order, data)
    state.webhooks.publish("refunds/create", refund)
    state.touch(order)
    return {"refundCreate": {"refund": _refund_node(refund), "userErrors": []}}, 10


def _refund_errors(order: Json | None, data: Json) -> list[Json]:
    if order is None:
        return [{"field": ["input", "orderId"], "message": "Order does not exist."}]
    lines = {ln["id"]: ln for ln in order["line_items"]}
    errors = []
    for i, rl in enumerate(data.get("refundLineItems") or []):
        path = ["input", "refundLineItems", str(i)]
        line = lines.get(gid_number(rl.get("lineItemId")) or 0)
        if line is None or not 0 < int(rl.get("quantity", 0)) <= line["current_quantity"]:
            errors.append(
                {
                    "field": [*path, "quantity"],
                    "message": "Quantity cannot refund more items than were purchased.",
                }
            )
        elif rl.get("restockType") in ("RETURN", "CANCEL") and not rl.get("locationId"):
            errors.append(
                {"field": [*path, "locationId"], "message": "Location must be given to restock."}
            )
    return errors


def _record_refund(state: ShopifyState, order: Json, data: Json) -> Json:
    """Apply a validated refund: lines reduced, stock restocked, the REST record stored."""
    lines = {ln["id"]: ln for ln in order["line_items"]}
    refund_lines = []
    for rl in data.get("refundLineItems") or []:
        line, qty = lines[gid_number(rl["lineItemId"]) or 0], int(rl["quantity"])
        restock = str(rl.get("restockType") or "NO_RESTOCK").lower()
        line["current_quantity"] -= qty
        item = state.item_by_variant(line["variant_id"])
        if restock in ("return", "cancel") and item and rl["locationId"] in item.levels:
            state.set_available(item, rl["locationId"], item.levels[rl["locationId"]] + qty)
        refund_lines.append(
            {
                "id": state.new_id(),
                "quantity": qty,
                "line_item_id": line["id"],
                "location_id": gid_number(rl.get("locationId")),
                "restock_type": restock,
                "line_item": dict(line),
            }
        )
    refund = {
        "id": state.new_id(),
        "order_id": order["id"],
        "created_at": now().isoformat(),
        "note": data.get("note"),
        "restock": any(rl["restock_type"] != "no_restock" for rl in refund_lines),
        "refund_line_items": refund_lines,
        "transactions": [],
        "order_adjustments": [],
    }
    order["refunds"].append(refund)
    remaining = sum(ln["current_quantity"] for ln in order["line_items"])
    order["financial_status"] = "refunded" if remaining == 0 else "partially_refunded"
    return refund
