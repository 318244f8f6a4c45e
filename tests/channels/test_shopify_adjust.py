"""The Shopify emulator's ``inventoryAdjustQuantities``: deltas applied all or nothing, the count
each left, the optional ``changeFromQuantity`` check, and ``@idempotent`` replay (a delta sent
twice under one key lands once). Called in process, without HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from stocksync.sandbox.shopify import DEFAULT_LOCATION, ShopifyState, execute

MUTATION = (
    "mutation A($input: InventoryAdjustQuantitiesInput!, $key: String!) "
    "{ inventoryAdjustQuantities(input: $input) @idempotent(key: $key) "
    "{ inventoryAdjustmentGroup { changes { name delta quantityAfterChange } } "
    "userErrors { field code } } }"
)


def adjust(state: ShopifyState, changes: list[dict[str, Any]], *, key: str = "k1",
           version: str = "2026-01") -> dict[str, Any]:  # fmt: skip
    variables = {
        "input": {"name": "available", "reason": "correction", "changes": changes},
        "key": key,
    }
    status, body = execute(state, version, MUTATION, variables)
    assert status == 200
    return body


def change(item: str, delta: int, **more: Any) -> dict[str, Any]:
    return {"inventoryItemId": item, "locationId": DEFAULT_LOCATION, "delta": delta, **more}


@pytest.fixture
def state() -> ShopifyState:
    return ShopifyState()


def test_deltas_are_added_and_each_change_names_the_count_it_left(state: ShopifyState) -> None:
    mug, lamp = state.stock("TEAL-MUG-350ML", 5), state.stock("BRASS-LAMP", 2)
    published: list[tuple[str, dict[str, Any]]] = []
    state.webhooks.publish = lambda topic, payload: published.append((topic, payload))  # type: ignore[method-assign]

    body = adjust(state, [change(mug, -3), change(lamp, 4)])

    payload = body["data"]["inventoryAdjustQuantities"]
    assert payload["userErrors"] == []
    changes = payload["inventoryAdjustmentGroup"]["changes"]
    assert [(c["delta"], c["quantityAfterChange"]) for c in changes] == [(-3, 2), (4, 6)]
    assert [c["item"]["id"] for c in changes] == [mug, lamp]
    assert (state.available(mug), state.available(lamp)) == (2, 6)
    assert [(t, p["available"]) for t, p in published] == [
        ("inventory_levels/update", 2), ("inventory_levels/update", 6),
    ]  # fmt: skip
    assert body["extensions"]["cost"]["actualQueryCost"] == 12


def test_one_bad_change_refuses_the_whole_call(state: ShopifyState) -> None:
    mug = state.stock("TEAL-MUG-350ML", 5)

    body = adjust(state, [change(mug, -1), change("gid://shopify/InventoryItem/9999", 1)])

    payload = body["data"]["inventoryAdjustQuantities"]
    assert payload["inventoryAdjustmentGroup"] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
        (["input", "changes", "1", "inventoryItemId"], "INVALID_INVENTORY_ITEM")
    ]
    assert state.available(mug) == 5


def test_change_from_quantity_checks_the_count_and_null_skips_the_check(
    state: ShopifyState,
) -> None:
    mug = state.stock("TEAL-MUG-350ML", 5)

    stale = adjust(state, [change(mug, -1, changeFromQuantity=4)], key="a")
    unchecked = adjust(state, [change(mug, -1, changeFromQuantity=None)], key="b")

    [error] = stale["data"]["inventoryAdjustQuantities"]["userErrors"]
    assert error["code"] == "CHANGE_FROM_QUANTITY_STALE"
    assert unchecked["data"]["inventoryAdjustQuantities"]["userErrors"] == []
    assert state.available(mug) == 4


def test_from_2026_04_a_change_without_change_from_quantity_is_an_error(
    state: ShopifyState,
) -> None:
    mug = state.stock("TEAL-MUG-350ML", 5)

    body = adjust(state, [change(mug, -1)], version="2026-04")

    assert "changeFromQuantity is required" in body["errors"][0]["message"]
    assert state.available(mug) == 5


def test_a_delta_sent_again_under_its_key_is_replayed_not_added_twice(state: ShopifyState) -> None:
    mug = state.stock("TEAL-MUG-350ML", 5)

    first = adjust(state, [change(mug, -2)], key="retry-of-one-call")
    again = adjust(state, [change(mug, -2)], key="retry-of-one-call")
    other = adjust(state, [change(mug, -1)], key="retry-of-one-call")

    assert again["data"] == first["data"]
    assert state.available(mug) == 3
    [error] = other["data"]["inventoryAdjustQuantities"]["userErrors"]
    assert error["code"] == "IDEMPOTENCY_KEY_PARAMETER_MISMATCH"


def test_a_delta_that_would_leave_a_count_out_of_bounds_is_refused(state: ShopifyState) -> None:
    mug = state.stock("TEAL-MUG-350ML", 5)

    body = adjust(state, [change(mug, 1_000_000_000)])

    [error] = body["data"]["inventoryAdjustQuantities"]["userErrors"]
    assert error["code"] == "INVALID_QUANTITY_TOO_HIGH"
    assert state.available(mug) == 5


def test_from_2026_04_an_adjustment_without_an_idempotency_key_is_an_error(
    state: ShopifyState,
) -> None:
    mug = state.stock("TEAL-MUG-350ML", 5)
    query = MUTATION.replace(" @idempotent(key: $key)", "")
    variables = {"input": {"name": "available", "reason": "correction",
                           "changes": [change(mug, -1, changeFromQuantity=None)]}}  # fmt: skip

    status, body = execute(state, "2026-04", query, variables)

    assert "@idempotent directive is required" in body["errors"][0]["message"]
    assert state.available(mug) == 5
