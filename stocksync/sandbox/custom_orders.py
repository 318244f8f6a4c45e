"""The custom channel emulator's orders: shopper checkout against the stock shown, cancellation
and refunds that put units back, the change-numbered order feed, and orders in the config's shape.

Orders are kept in a neutral shape and rendered with the config's field names when served.
"""

from __future__ import annotations

from typing import Any

from stocksync.channels.custom import CustomChannelConfig, RefundConfig, build, get_field
from stocksync.sandbox.custom_state import CustomState, SandboxError, whole_number

__all__ = [
    "apply_refund",
    "cancel_and_restock",
    "find_order",
    "order_feed",
    "order_json",
    "place_order",
]


def place_order(state: CustomState, lines: list[Any]) -> dict[str, Any]:
    """Check every line against the stock shown, then take the units; nothing moves on a refusal."""
    wanted = [(str(line.get("listing_id")), int(line.get("quantity") or 0)) for line in lines]
    for listing_id, units in wanted:
        listing = state.listings.get(listing_id)
        if listing is None or units <= 0:
            raise SandboxError(422, "unknown listing or quantity", listing_id=listing_id)
        if units > listing.quantity:
            raise SandboxError(
                409, "not enough stock", listing_id=listing_id, available=listing.quantity
            )
    order_id, now = f"SO-{state.next_id()}", state.now()
    order: dict[str, Any] = {"id": order_id, "created": now, "updated": now, "status": "open",
             "seq": state.next_id(), "lines": []}  # fmt: skip
    for n, (listing_id, units) in enumerate(wanted, start=1):
        listing = state.listings[listing_id]
        listing.quantity -= units
        order["lines"].append({"id": f"{order_id}-{n}", "listing_id": listing_id,
                               "sku": listing.sku, "quantity": units, "cancelled": 0})  # fmt: skip
    state.orders[order_id] = order
    return order


def cancel_and_restock(
    state: CustomState, config: CustomChannelConfig, order_id: str
) -> dict[str, Any]:
    """Cancel every unit still open and put it back on the shelf; 409 when none is open."""
    order = find_order(state, order_id)
    if all(line["cancelled"] >= line["quantity"] for line in order["lines"]):
        raise SandboxError(409, f"order {order_id} is cancelled already")
    for line in order["lines"]:
        state.listings[line["listing_id"]].quantity += line["quantity"] - line["cancelled"]
        line["cancelled"] = line["quantity"]
    order["status"] = (config.orders.cancelled_statuses or ("cancelled",))[0]
    order["updated"], order["seq"] = state.now(), state.next_id()
    return order


def find_order(state: CustomState, order_id: str) -> dict[str, Any]:
    if order_id not in state.orders:
        raise SandboxError(404, f"unknown order {order_id}")
    return state.orders[order_id]


def order_json(config: CustomChannelConfig, order: dict[str, Any]) -> dict[str, Any]:
    orders, line = config.orders, config.orders.line
    lines = [
        build({line.id_field: x["id"], line.sku_field: x["sku"], line.quantity_field: x["quantity"],
               line.listing_id_field: x["listing_id"], line.cancelled_field: x["cancelled"]})
        for x in order["lines"]
    ]  # fmt: skip
    return build({orders.id_field: order["id"], orders.created_field: order["created"],
                  orders.updated_field: order["updated"], orders.status_field: order["status"],
                  orders.lines_key: lines})  # fmt: skip


def order_feed(state: CustomState, config: CustomChannelConfig, since: str) -> dict[str, Any]:
    """Orders changed after change number ``since``, oldest change first, one page."""
    after = whole_number(since, config.orders.since_param)
    changed = sorted((o for o in state.orders.values() if o["seq"] > after), key=lambda o: o["seq"])
    page = changed[: state.order_page_size]
    following = str(page[-1]["seq"]) if page else since
    return build({config.orders.list_key: [order_json(config, o) for o in page],
                  config.orders.next_cursor_field: following,
                  config.orders.more_field: len(changed) > len(page)})  # fmt: skip


def apply_refund(
    state: CustomState, refund: RefundConfig, order: dict[str, Any], body: Any
) -> None:
    """Record the refund; with the restock flag, put the refunded units back on the shelf."""
    lines = {line["id"]: line for line in order["lines"]}
    for item in get_field(body, refund.lines_key) or []:
        line = lines.get(str(get_field(item, refund.line_id_field)))
        if line is None:
            raise SandboxError(
                422, "unknown order line", line=get_field(item, refund.line_id_field)
            )
        if get_field(body, refund.restock_field):
            state.listings[line["listing_id"]].quantity += int(
                get_field(item, refund.quantity_field)
            )
    state.refunds.append(body)
