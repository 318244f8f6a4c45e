"""The WooCommerce emulator's products and variations: stock moves, their REST JSON, and batch
updates (at most 100 objects, each one failing on its own inside a 200).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stocksync.sandbox.woocommerce_state import (
    WooError,
    WooProduct,
    WooState,
    WooVariation,
    stock_holder,
)

__all__ = ["BATCH_LIMIT", "answer_batch", "move_stock", "product_json", "variation_json"]

BATCH_LIMIT = 100


def move_stock(state: WooState, product_id: int, variation_id: int, delta: int) -> None:
    holder = stock_holder(state, product_id, variation_id)
    if holder is not None and holder.stock_quantity is not None:
        holder.stock_quantity += delta
        holder.date_modified_gmt = state.now()


def _stock_status(manage: bool, quantity: int | None) -> str:
    return "outofstock" if manage and (quantity or 0) <= 0 else "instock"


def product_json(product: WooProduct) -> dict[str, Any]:
    return {
        "id": product.id, "name": product.name, "slug": product.sku.lower(), "type": product.type,
        "status": "publish", "sku": product.sku, "price": product.price,
        "regular_price": product.price, "manage_stock": product.manage_stock,
        "stock_quantity": product.stock_quantity if product.manage_stock else None,
        "stock_status": _stock_status(product.manage_stock, product.stock_quantity),
        "backorders": "no", "date_modified": product.date_modified_gmt,
        "date_modified_gmt": product.date_modified_gmt, "variations": list(product.variations),
    }  # fmt: skip


def variation_json(product: WooProduct, variation: WooVariation) -> dict[str, Any]:
    """A variation; ``manage_stock`` reads ``"parent"`` when it follows the parent's stock."""
    follows_parent = not variation.manage_stock and product.manage_stock
    shown = product.stock_quantity if follows_parent else variation.stock_quantity
    manage: bool | str = "parent" if follows_parent else variation.manage_stock
    return {
        "id": variation.id, "sku": variation.sku, "price": variation.price,
        "regular_price": variation.price, "manage_stock": manage,
        "stock_quantity": shown if manage else None,
        "stock_status": _stock_status(bool(manage), shown), "backorders": "no",
        "date_modified": variation.date_modified_gmt,
        "date_modified_gmt": variation.date_modified_gmt, "attributes": [],
    }  # fmt: skip


def _update_stock(
    state: WooState, target: WooProduct | WooVariation, item: Mapping[str, Any]
) -> None:
    """Apply one update: ``manage_stock`` first, then ``stock_quantity`` as an absolute overwrite."""
    if "manage_stock" in item:
        target.manage_stock = bool(item["manage_stock"])
    if "stock_quantity" in item and target.manage_stock:
        quantity = item["stock_quantity"]
        if not isinstance(quantity, int) or isinstance(quantity, bool):
            raise WooError(400, "rest_invalid_param", "Invalid parameter(s): stock_quantity")
        target.stock_quantity = quantity
    target.date_modified_gmt = state.now()


def _item_error(item_id: Any, exc: WooError) -> dict[str, Any]:
    error = {"code": exc.code, "message": exc.message, "data": {"status": exc.status}}
    return {"id": item_id, "error": error}


def _invalid_id(kind: str) -> WooError:
    return WooError(400, f"woocommerce_rest_{kind}_invalid_id", "Invalid ID.")


def answer_batch(
    state: WooState, body: Mapping[str, Any], parent: WooProduct | None
) -> dict[str, Any]:
    """Answer a batch request: updates apply one by one, each failing on its own."""
    groups = {key: list(body.get(key) or []) for key in ("create", "update", "delete")}
    if sum(map(len, groups.values())) > BATCH_LIMIT:
        raise WooError(
            413, "woocommerce_rest_request_entity_too_large",
            f"Unable to accept more than {BATCH_LIMIT} items for this request.",
        )  # fmt: skip
    unsupported = WooError(400, "woocommerce_rest_sandbox_unsupported", "Not emulated.")
    answer: dict[str, Any] = {
        "update": [_batch_update(state, item, parent) for item in groups["update"]]
    }
    for key in ("create", "delete"):
        if groups[key]:
            answer[key] = [_item_error(0, unsupported) for _ in groups[key]]
    return answer


def _batch_update(state: WooState, item: Any, parent: WooProduct | None) -> dict[str, Any]:
    item_id = item.get("id") if isinstance(item, dict) else None
    kind = "product" if parent is None else "product_variation"
    try:
        if parent is None:
            product = state.products.get(item_id) if isinstance(item_id, int) else None
            if product is None:
                raise _invalid_id(kind)
            _update_stock(state, product, item)
            return product_json(product)
        variation = parent.variations.get(item_id) if isinstance(item_id, int) else None
        if variation is None:
            raise _invalid_id(kind)
        _update_stock(state, variation, item)
        return variation_json(parent, variation)
    except WooError as exc:
        return _item_error(item_id or 0, exc)
