"""The WooCommerce emulator's orders and refunds: shopper checkout (reducing stock), status
updates (cancelling restores it), manual refunds that restock only with ``api_restock``, and the
``modified_after`` order list.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from fastapi import Request

from stocksync.sandbox.woocommerce_products import move_stock
from stocksync.sandbox.woocommerce_state import WooError, WooState, stock_holder

__all__ = ["add_refund", "apply_order_update", "find_order", "order_list", "place_order"]

RESTORE_ON = frozenset({"cancelled", "failed"})


def _meta(entries: list[dict[str, Any]], key: str) -> Any:
    return next((m["value"] for m in entries if m["key"] == key), None)


def _set_meta(state: WooState, entries: list[dict[str, Any]], key: str, value: Any) -> None:
    for entry in entries:
        if entry["key"] == key:
            entry["value"] = entry["display_value"] = value
            return
    entries.append(
        {
            "id": state.next_item_id(),
            "key": key,
            "value": value,
            "display_key": key,
            "display_value": value,
        }
    )


def _money(amount: Decimal) -> str:
    return f"{amount:.2f}"


def place_order(state: WooState, lines: list[Mapping[str, Any]]) -> dict[str, Any]:
    """A shopper checks out: stock is checked for every line first, then reduced (or nothing)."""
    wanted: Counter[tuple[int, int]] = Counter()
    for line in lines:
        wanted[(int(line["product_id"]), int(line.get("variation_id") or 0))] += int(
            line["quantity"]
        )
    for (product_id, variation_id), quantity in wanted.items():
        holder = stock_holder(state, product_id, variation_id)
        if holder is not None and (holder.stock_quantity or 0) < quantity:
            raise WooError(
                409, "woocommerce_rest_out_of_stock", f"Not enough stock for {holder.sku}."
            )
    for (product_id, variation_id), quantity in wanted.items():
        move_stock(state, product_id, variation_id, -quantity)
    order_id, stamp = state.next_post_id(), state.now()
    items = [
        _line_item(state, product_id, variation_id, q)
        for (product_id, variation_id), q in wanted.items()
    ]
    total = sum((Decimal(item["total"]) for item in items), Decimal(0))
    state.orders[order_id] = {
        "id": order_id, "parent_id": 0, "number": str(order_id),
        "order_key": f"wc_order_{order_id:013x}", "created_via": "checkout", "version": "8.9.1",
        "status": "processing", "currency": "USD", "date_created": stamp,
        "date_created_gmt": stamp, "date_modified": stamp, "date_modified_gmt": stamp,
        "total": _money(total), "total_tax": "0.00", "customer_id": 0,
        "billing": {"first_name": "Sam", "last_name": "Shopper", "email": "sam@example.com"},
        "shipping": {"first_name": "Sam", "last_name": "Shopper", "country": "US"},
        "payment_method": "bacs", "payment_method_title": "Direct Bank Transfer",
        "date_paid_gmt": stamp, "date_completed_gmt": None, "meta_data": [],
        "line_items": items, "shipping_lines": [], "fee_lines": [], "refunds": [],
    }  # fmt: skip
    return state.orders[order_id]


def _line_item(
    state: WooState, product_id: int, variation_id: int, quantity: int
) -> dict[str, Any]:
    product = state.products[product_id]
    variation = product.variations.get(variation_id)
    sku, price = (variation.sku, variation.price) if variation else (product.sku, product.price)
    total = _money(Decimal(price) * quantity)
    item: dict[str, Any] = {
        "id": state.next_item_id(), "name": product.name, "product_id": product_id,
        "variation_id": variation_id, "quantity": quantity, "tax_class": "", "subtotal": total,
        "subtotal_tax": "0.00", "total": total, "total_tax": "0.00", "taxes": [],
        "meta_data": [], "sku": sku, "price": float(price),
    }  # fmt: skip
    if stock_holder(state, product_id, variation_id) is not None:
        _set_meta(state, item["meta_data"], "_reduced_stock", str(quantity))
    return item


def find_order(state: WooState, order_id: int) -> dict[str, Any]:
    order = state.orders.get(order_id)
    if order is None:
        raise WooError(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
    return order


def _touch(state: WooState, order: dict[str, Any]) -> None:
    order["date_modified"] = order["date_modified_gmt"] = state.now()


def apply_order_update(state: WooState, order: dict[str, Any], body: Mapping[str, Any]) -> None:
    """``PUT /orders/{id}``: status (cancelling restores reduced stock) and meta_data."""
    for entry in body.get("meta_data") or []:
        _set_meta(state, order["meta_data"], str(entry["key"]), entry.get("value"))
    status = body.get("status")
    if status and status != order["status"]:
        order["status"] = status
        if status in RESTORE_ON:
            _restore_reduced_stock(state, order)
        if status == "completed":
            order["date_completed_gmt"] = state.now()
    _touch(state, order)


def _restore_reduced_stock(state: WooState, order: dict[str, Any]) -> None:
    for item in order["line_items"]:
        reduced = int(_meta(item["meta_data"], "_reduced_stock") or 0)
        if reduced:
            move_stock(state, item["product_id"], item["variation_id"], reduced)
            item["meta_data"] = [m for m in item["meta_data"] if m["key"] != "_reduced_stock"]


def add_refund(state: WooState, order: dict[str, Any], body: Mapping[str, Any]) -> dict[str, Any]:
    """``POST /orders/{id}/refunds``; only a manual refund (``api_refund: false``) is possible here."""
    if body.get("api_refund", True):
        raise WooError(
            500, "woocommerce_rest_cannot_create_order_refund",
            "The payment gateway for this order does not support automatic refunds.",
        )  # fmt: skip
    requested = list(body.get("line_items") or [])
    by_id = {item["id"]: item for item in order["line_items"]}
    lines = [
        (by_id[int(ln["id"])], int(ln.get("quantity") or 0))
        for ln in requested
        if int(ln["id"]) in by_id
    ]
    totals = (Decimal(str(ln.get("refund_total") or 0)) for ln in requested)
    amount = Decimal(str(body["amount"])) if "amount" in body else sum(totals, Decimal(0))
    if amount < 0:
        raise WooError(
            400, "woocommerce_rest_invalid_order_refund", "Refund amount must be greater than zero."
        )
    refund_id, stamp = state.next_post_id(), state.now()
    refund = {
        "id": refund_id, "date_created": stamp, "date_created_gmt": stamp, "amount": _money(amount),
        "reason": str(body.get("reason") or ""), "refunded_by": 1, "refunded_payment": False,
        "meta_data": [], "line_items": [_refund_line(state, item, q) for item, q in lines],
    }  # fmt: skip
    if body.get("api_restock", True):
        _restock(state, lines)
    state.refunds.setdefault(order["id"], []).append(refund)
    order["refunds"].append(
        {"id": refund_id, "reason": refund["reason"], "total": f"-{refund['amount']}"}
    )
    if _fully_refunded(state, order):
        order["status"] = "refunded"
    _touch(state, order)
    return refund


def _refund_line(state: WooState, item: dict[str, Any], quantity: int) -> dict[str, Any]:
    total = _money(-Decimal(str(item["price"])) * quantity)
    line = {
        "id": state.next_item_id(), "name": item["name"], "product_id": item["product_id"],
        "variation_id": item["variation_id"], "quantity": -quantity, "subtotal": total,
        "total": total, "sku": item["sku"], "price": item["price"], "meta_data": [],
    }  # fmt: skip
    _set_meta(state, line["meta_data"], "_refunded_item_id", str(item["id"]))
    return line


def _restock(state: WooState, lines: list[tuple[dict[str, Any], int]]) -> None:
    for item, quantity in lines:
        if quantity and stock_holder(state, item["product_id"], item["variation_id"]) is not None:
            move_stock(state, item["product_id"], item["variation_id"], quantity)
            done = int(_meta(item["meta_data"], "_restock_refunded_items") or 0)
            _set_meta(state, item["meta_data"], "_restock_refunded_items", str(done + quantity))


def _fully_refunded(state: WooState, order: dict[str, Any]) -> bool:
    refunded: Counter[str] = Counter()
    for refund in state.refunds.get(order["id"], []):
        for line in refund["line_items"]:
            refunded[_meta(line["meta_data"], "_refunded_item_id")] -= line["quantity"]
    return all(refunded[str(item["id"])] >= item["quantity"] for item in order["line_items"])


def order_list(state: WooState, request: Request) -> list[dict[str, Any]]:
    """Orders filtered by ``modified_after`` (strictly after, GMT) and ``status``, by creation date."""
    after = request.query_params.get("modified_after")
    statuses = set((request.query_params.get("status") or "any").split(","))
    orders = [
        o for o in state.orders.values()
        if (not after or o["date_modified_gmt"] > _normalise_time(after))
        and ("any" in statuses or o["status"] in statuses)
    ]  # fmt: skip
    key = "id" if request.query_params.get("orderby") == "id" else "date_created_gmt"
    descending = request.query_params.get("order", "desc") == "desc"
    return sorted(orders, key=lambda o: (o[key], o["id"]), reverse=descending)


def _normalise_time(value: str) -> str:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise WooError(400, "rest_invalid_param", "Invalid parameter(s): modified_after") from exc
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC)
    return parsed.strftime("%Y-%m-%dT%H:%M:%S")
