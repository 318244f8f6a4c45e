"""The Shopify emulator's inventory operations: ``inventorySetQuantities`` with the
compare-and-set rules of each API version, inventory levels by location, and ``nodes``.

Each operation has a ``*_cost`` (the points reserved up front) and a ``resolve_*`` that returns
``data`` and the actual cost.
"""

from __future__ import annotations

import re
from typing import Any

from stocksync.sandbox.shopify_graphql import Call, GraphQLError, paginate, user_error
from stocksync.sandbox.shopify_state import InventoryItem, ShopifyState
from stocksync.sandbox.shopify_values import Json, gid, gid_number, now

__all__ = [
    "levels_cost",
    "nodes_cost",
    "resolve_levels",
    "resolve_nodes",
    "resolve_set_quantities",
    "set_quantities_cost",
]

MAX_INPUT_SIZE = 250
QUANTITY_LIMIT = 1_000_000_000
REASONS = frozenset(
    "correction cycle_count_available damaged movement_created movement_updated movement_received "
    "movement_canceled other promotion quality_control received reservation_created "
    "reservation_deleted reservation_updated restock safety_stock shrinkage".split()
)


def set_quantities_cost(call: Call) -> int:
    return 10 + len((call.variables.get("input") or {}).get("quantities") or [])


def resolve_set_quantities(state: ShopifyState, call: Call) -> tuple[Json, int]:
    data: Json = call.arg("inventorySetQuantities", "input") or {}
    quantities = data.get("quantities") or []
    if len(quantities) > MAX_INPUT_SIZE:
        raise GraphQLError(
            f"The input array size of {len(quantities)} is greater than the maximum allowed of {MAX_INPUT_SIZE}.",
            "MAX_INPUT_SIZE_EXCEEDED",
        )
    errors = _set_errors(state, call.version, data)
    if errors:
        return {
            "inventorySetQuantities": {"inventoryAdjustmentGroup": None, "userErrors": errors}
        }, 10
    group = _apply_set(state, data)
    return {
        "inventorySetQuantities": {"inventoryAdjustmentGroup": group, "userErrors": []}
    }, 10 + len(group["changes"])


def _set_errors(state: ShopifyState, version: str, data: Json) -> list[Json]:
    """Every userError of the input; an empty list means the whole set may be applied."""
    errors: list[Json] = []
    if data.get("name") != "available":
        errors.append(user_error(["input", "name"], "INVALID_NAME"))
    if data.get("reason") not in REASONS:
        errors.append(user_error(["input", "reason"], "INVALID_REASON"))
    uri = data.get("referenceDocumentUri")
    if uri is not None and ":" not in str(uri):
        errors.append(user_error(["input", "referenceDocumentUri"], "INVALID_REFERENCE_DOCUMENT"))
    seen: set[tuple[Any, Any]] = set()
    for i, q in enumerate(data.get("quantities") or []):
        pair = (q.get("inventoryItemId"), q.get("locationId"))
        if pair in seen:
            code = "NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR"
            errors.append(user_error(["input", "quantities", i], code))
        seen.add(pair)
        errors.extend(_quantity_errors(state, version, data, i, q))
    return errors


def _quantity_errors(state: ShopifyState, version: str, data: Json, i: int, q: Json) -> list[Json]:
    """The first problem of quantity ``i``, else its compare-and-set check."""
    path: list[Any] = ["input", "quantities", i]
    item = state.items.get(gid_number(q.get("inventoryItemId")) or 0)
    location, quantity = q.get("locationId"), q.get("quantity")
    if item is None:
        return [user_error([*path, "inventoryItemId"], "INVALID_INVENTORY_ITEM")]
    if location not in state.locations:
        return [user_error([*path, "locationId"], "INVALID_LOCATION")]
    if location not in item.levels:
        return [user_error([*path, "locationId"], "ITEM_NOT_STOCKED_AT_LOCATION")]
    if not isinstance(quantity, int) or quantity > QUANTITY_LIMIT:
        return [user_error([*path, "quantity"], "INVALID_QUANTITY_TOO_HIGH")]
    if quantity < -QUANTITY_LIMIT:
        return [user_error([*path, "quantity"], "INVALID_QUANTITY_TOO_LOW")]
    return _compare_errors(version, data, path, q, item.levels[location])


def _compare_errors(
    version: str, data: Json, path: list[Any], q: Json, persisted: int
) -> list[Json]:
    """The compare-and-set check of one quantity, as the API version defines it."""
    if version >= "2026-01" and "changeFromQuantity" in q:
        expected = q["changeFromQuantity"]
        if expected is None or expected == persisted:
            return []
        return [user_error([*path, "changeFromQuantity"], "CHANGE_FROM_QUANTITY_STALE")]
    if version >= "2026-04":
        raise GraphQLError(
            "InventoryQuantityInput.changeFromQuantity is required (use null to skip the check).",
            "INVALID_VARIABLE",
        )
    if data.get("ignoreCompareQuantity"):
        return []
    if q.get("compareQuantity") is None:
        return [user_error([*path, "compareQuantity"], "COMPARE_QUANTITY_REQUIRED")]
    if q["compareQuantity"] != persisted:
        return [user_error([*path, "compareQuantity"], "COMPARE_QUANTITY_STALE")]
    return []


def _apply_set(state: ShopifyState, data: Json) -> Json:
    changes = []
    for q in data["quantities"]:
        item = state.items[gid_number(q["inventoryItemId"]) or 0]
        location = q["locationId"]
        delta = q["quantity"] - item.levels[location]
        state.set_available(item, location, q["quantity"])
        changes.append(
            {
                "name": "available",
                "delta": delta,
                "quantityAfterChange": q["quantity"],
                "item": {"id": q["inventoryItemId"]},
                "location": {"id": location},
            }
        )
    return {
        "id": gid("InventoryAdjustmentGroup", state.new_id()),
        "createdAt": now().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "reason": data["reason"],
        "referenceDocumentUri": data.get("referenceDocumentUri"),
        "changes": changes,
    }


def _level_node(item: InventoryItem, location: str) -> Json:
    updated = item.updated_at[location].strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "id": f"gid://shopify/InventoryLevel/{gid_number(location)}?inventory_item_id={item.id}",
        "item": {"id": gid("InventoryItem", item.id), "sku": item.sku},
        "location": {"id": location},
        "quantities": [
            {"name": "available", "quantity": item.levels[location], "updatedAt": updated}
        ],
    }


def levels_cost(call: Call) -> int:
    return 1 + 2 + call.first("inventoryLevels", 50) * 2


def resolve_levels(state: ShopifyState, call: Call) -> tuple[Json, int]:
    location = call.arg("location", "id")
    if location not in state.locations:
        return {"location": None}, 1
    items = sorted((i for i in state.items.values() if location in i.levels), key=lambda i: i.id)
    nodes = [_level_node(i, location) for i in items]
    page = paginate(
        nodes,
        call.arg("inventoryLevels", "after"),
        call.first("inventoryLevels", 50),
        lambda n: n["id"],
    )
    return {"location": {"id": location, "inventoryLevels": page}}, 3 + 2 * len(page["nodes"])


def nodes_cost(call: Call) -> int:
    return 2 * len(call.arg("nodes", "ids") or [])


def resolve_nodes(state: ShopifyState, call: Call) -> tuple[Json, int]:
    found = [_node(state, str(node_id)) for node_id in call.arg("nodes", "ids") or []]
    return {"nodes": found}, 2 * sum(1 for n in found if n is not None)


def _node(state: ShopifyState, node_id: str) -> Json | None:
    level = re.fullmatch(r"gid://shopify/InventoryLevel/(\d+)\?inventory_item_id=(\d+)", node_id)
    if level:
        item = state.items.get(int(level.group(2)))
        location = gid("Location", int(level.group(1)))
        return _level_node(item, location) if item and location in item.levels else None
    item = state.items.get(gid_number(node_id) or 0) if "/InventoryItem/" in node_id else None
    return {"id": node_id, "sku": item.sku} if item else None
