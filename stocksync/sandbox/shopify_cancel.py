"""The Shopify emulator's customer cancellation: an unfulfilled order cancelled and restocked,
announced as Shopify announces it."""

from __future__ import annotations

from stocksync.sandbox.shopify_state import ShopifyState
from stocksync.sandbox.shopify_values import Json, gid, now

__all__ = ["NotCancellableError", "cancel_order"]


class NotCancellableError(Exception):
    """The order is unknown, cancelled already, or has shipped units."""


def cancel_order(state: ShopifyState, order_id: int) -> Json:
    """The customer cancels an unfulfilled order, as ``orderCancel(reason: CUSTOMER, refund:
    true, restock: true)`` does: every unit goes back on its level at the order's location
    (``inventory_levels/update``), the fulfillment order closes, and ``orders/cancelled`` then
    ``orders/updated`` carry the order with ``cancelled_at`` set.

    Simplified: the refund is not recorded as a ``Refund`` (no ``refunds/create``); the order's
    ``financial_status`` says it.
    """
    with state.lock:
        order = state.orders.get(order_id)
        if order is None:
            raise NotCancellableError(f"order {order_id} does not exist")
        if order["cancelled_at"] is not None or order["fulfillment_status"] is not None:
            raise NotCancellableError(f"order {order['name']} is cancelled or fulfilled already")
        location = gid("Location", order["location_id"])
        stamp = now().isoformat()
        order.update(cancelled_at=stamp, cancel_reason="customer", financial_status="refunded")
        for fo in state.fulfillment_orders.values():
            if fo["order_id"] == order_id:
                for entry in fo["lines"].values():
                    entry[1] = 0
        for line in order["line_items"]:
            item = state.item_by_variant(line["variant_id"])
            units = line["fulfillable_quantity"]
            line["current_quantity"] = line["fulfillable_quantity"] = 0
            if item is not None and units and location in item.levels:
                state.set_available(item, location, item.levels[location] + units)
        order["updated_at"] = stamp
        state.webhooks.publish("orders/cancelled", order)
        state.webhooks.publish("orders/updated", order)
        return order
