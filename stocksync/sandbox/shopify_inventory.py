"""The Shopify emulator's inventory operations: ``inventorySetQuantities`` with the
compare-and-set rules of each API version, ``inventoryAdjustQuantities`` (deltas, with the same
optional ``changeFromQuantity`` check from 2026-01), inventory levels by location, and ``nodes``
(inventory levels, and inventory items with their ``inventoryLevel(locationId:)``).

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
    "adjust_quantities_cost",
    "levels_cost",
    "nodes_cost",
    "resolve_adjust_quantities",
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
    _check_size(data.get("quantities") or [])
    errors = _input_errors(data, "quantities", "INVALID_NAME")
    for i, q in enumerate(data.get("quantities") or []):
        errors.extend(_quantity_errors(state, call.version, data, i, q))
    if errors:
        return {
            "inventorySetQuantities": {"inventoryAdjustmentGroup": None, "userErrors": errors}
        }, 10
    group = _apply_set(state, data)
    return {
        "inventorySetQuantities": {"inventoryAdjustmentGroup": group, "userErrors": []}
    }, 10 + len(group["changes"])


def adjust_quantities_cost(call: Call) -> int:
    return 10 + len((call.variables.get("input") or {}).get("changes") or [])


def resolve_adjust_quantities(state: ShopifyState, call: Call) -> tuple[Json, int]:
    """Add each change's ``delta`` to ``available``, all or nothing, as one adjustment group."""
    data: Json = call.arg("inventoryAdjustQuantities", "input") or {}
    _check_size(data.get("changes") or [])
    errors = _input_errors(data, "changes", "INVALID_QUANTITY_NAME")
    for i, change in enumerate(data.get("changes") or []):
        errors.extend(_change_errors(state, call.version, i, change))
    if errors:
        return {
            "inventoryAdjustQuantities": {"inventoryAdjustmentGroup": None, "userErrors": errors}
        }, 10
    quantities = []
    for change in data["changes"]:
        item, location = _level(state, change)
        quantities.append({**change, "quantity": item.levels[location] + change["delta"]})
    group = _apply_set(state, {**data, "quantities": quantities})
    return {
        "inventoryAdjustQuantities": {"inventoryAdjustmentGroup": group, "userErrors": []}
    }, 10 + len(group["changes"])


def _check_size(items: list[Any]) -> None:
    if len(items) > MAX_INPUT_SIZE:
        raise GraphQLError(
            f"The input array size of {len(items)} is greater than the maximum allowed of {MAX_INPUT_SIZE}.",
            "MAX_INPUT_SIZE_EXCEEDED",
        )


def _input_errors(data: Json, key: str, name_code: str) -> list[Json]:
    """The userErrors of the input's own fields and of (item, location) pairs given twice."""
    errors: list[Json] = []
    if data.get("name") != "available":
        errors.append(user_error(["input", "name"], name_code))
    if data.get("reason") not in REASONS:
        errors.append(user_error(["input", "reason"], "INVALID_REASON"))
    uri = data.get("referenceDocumentUri")
    if uri is not None and ":" not in str(uri):
        errors.append(user_error(["input", "referenceDocumentUri"], "INVALID_REFERENCE_DOCUMENT"))
    seen: set[tuple[Any, Any]] = set()
    for i, q in enumerate(data.get(key) or []):
        pair = (q.get("inventoryItemId"), q.get("locationId"))
        if pair in seen:
            code = "NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR"
            errors.append(user_error(["input", key, i], code))
        seen.add(pair)
    return errors


def _level(state: ShopifyState, q: Json) -> tuple[InventoryItem, str]:
    return state.items[gid_number(q["inventoryItemId"]) or 0], q["locationId"]


def _level_errors(state: ShopifyState, path: list[Any], q: Json) -> list[Json]:
    """Whether the item exists and is stocked at the location."""
    item = state.items.get(gid_number(q.get("inventoryItemId")) or 0)
    location = q.get("locationId")
    if item is None:
        return [user_error([*path, "inventoryItemId"], "INVALID_INVENTORY_ITEM")]
    if location not in state.locations:
        return [user_error([*path, "locationId"], "INVALID_LOCATION")]
    if location not in item.levels:
        return [user_error([*path, "locationId"], "ITEM_NOT_STOCKED_AT_LOCATION")]
    return []


def _bound_errors(path: list[Any], quantity: Any) -> list[Json]:
    if not isinstance(quantity, int) or quantity > QUANTITY_LIMIT:
        return [user_error(path, "INVALID_QUANTITY_TOO_HIGH")]
    if quantity < -QUANTITY_LIMIT:
        return [user_error(path, "INVALID_QUANTITY_TOO_LOW")]
    return []


def _quantity_errors(state: ShopifyState, version: str, data: Json, i: int, q: Json) -> list[Json]:
    """The first problem of quantity ``i``, else its compare-and-set check."""
    path: list[Any] = ["input", "quantities", i]
    errors = _level_errors(state, path, q) or _bound_errors([*path, "quantity"], q.get("quantity"))
    if errors:
        return errors
    item, location = _level(state, q)
    return _compare_errors(version, data, path, q, item.levels[location])


def _change_errors(state: ShopifyState, version: str, i: int, change: Json) -> list[Json]:
    """The first problem of change ``i``: its level, the count its delta would leave, and
    ``changeFromQuantity`` when given (from 2026-01; required but nullable from 2026-04)."""
    path: list[Any] = ["input", "changes", i]
    errors = _level_errors(state, path, change)
    if errors:
        return errors
    delta = change.get("delta")
    if not isinstance(delta, int):
        return [user_error([*path, "delta"], "INVALID_QUANTITY_TOO_HIGH")]
    item, location = _level(state, change)
    persisted = item.levels[location]
    errors = _bound_errors([*path, "delta"], persisted + delta)
    if errors or version < "2026-01":
        return errors
    if "changeFromQuantity" not in change:
        if version >= "2026-04":
            raise GraphQLError(
                "InventoryChangeInput.changeFromQuantity is required (use null to skip the check).",
                "INVALID_VARIABLE",
            )
        return []
    expected = change["changeFromQuantity"]
    if expected is None or expected == persisted:
        return []
    return [user_error([*path, "changeFromQuantity"], "CHANGE_FROM_QUANTITY_STALE")]


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


def _level_id(item: InventoryItem, location: str) -> str:
    return f"gid://shopify/InventoryLevel/{gid_number(location)}?inventory_item_id={item.id}"


def _level_node(item: InventoryItem, location: str) -> Json:
    updated = item.updated_at[location].strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "id": _level_id(item, location),
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
    """2 per id: an inventory level with its quantities, or an item with its ``inventoryLevel``."""
    return 2 * len(call.arg("nodes", "ids") or [])


def resolve_nodes(state: ShopifyState, call: Call) -> tuple[Json, int]:
    """The node under each id, in order (null for none); at most 250 ids, like any input list.

    An inventory item answers ``inventoryLevel(locationId:)`` when the query asks for it: its
    level there, or null when the item is not stocked at that location.
    """
    ids = call.arg("nodes", "ids") or []
    _check_size(ids)
    level_at = call.arg("inventoryLevel", "locationId") if "inventoryLevel(" in call.query else None
    found = [_node(state, str(node_id), level_at) for node_id in ids]
    return {"nodes": found}, sum(_node_cost(n) for n in found)


def _node(state: ShopifyState, node_id: str, level_at: str | None) -> Json | None:
    level = re.fullmatch(r"gid://shopify/InventoryLevel/(\d+)\?inventory_item_id=(\d+)", node_id)
    if level:
        item = state.items.get(int(level.group(2)))
        location = gid("Location", int(level.group(1)))
        return _level_node(item, location) if item and location in item.levels else None
    item = state.items.get(gid_number(node_id) or 0) if "/InventoryItem/" in node_id else None
    if item is None:
        return None
    node: Json = {"id": node_id, "sku": item.sku, "tracked": True}
    if level_at is not None:
        stocked = level_at in item.levels
        node["inventoryLevel"] = {"id": _level_id(item, level_at)} if stocked else None
    return node


def _node_cost(node: Json | None) -> int:
    """What a node actually cost: 1 for the node, 1 for a level or quantities it carries."""
    if node is None:
        return 0
    return 1 + int(node.get("inventoryLevel") is not None or "quantities" in node)
