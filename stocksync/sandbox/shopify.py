"""A Shopify Admin GraphQL emulator: inventory with compare-and-set, the cost bucket, orders,
fulfilments, refunds and signed webhooks, with faults to inject.

It follows the channel reference (section A) where a sync depends on it: ``inventorySetQuantities``
with the version switch (``compareQuantity`` up to 2025-10, ``changeFromQuantity`` from 2026-01,
mandatory from 2026-04), all-or-nothing validation with every userError listed, the 250-item input
cap, ``@idempotent(key:)`` replay, the leaky cost bucket with ``extensions.cost`` on every answer
and the THROTTLED body, and webhooks signed over the exact body bytes.

Simplified on purpose: there is no GraphQL parser. The operation is recognised by its root field,
arguments are read from ``variables`` (or a literal in the query) and answers always carry the
whole payload, whatever the selection asked for. Only the ``available`` quantity is modelled.

Cost model (the reference's A9 rules, applied the same way to every call):

* a mutation costs 10, plus 1 per quantity for ``inventorySetQuantities`` (one ``changes`` object
  each); its actual cost counts only the changes applied (10 when userErrors came back);
* a connection costs ``2 + first × node cost``; an inventory level costs 2 (level and item), an
  order ``1`` plus ``2 + first`` for each nested ``lineItems``/``refundLineItems`` connection;
  ``location``/``order`` add 1; ``nodes(ids:)`` costs 2 per id;
* the requested cost is reserved up front and the part not used (pages shorter than ``first``) is
  refunded; a call whose requested cost exceeds what the bucket holds gets THROTTLED, and one above
  1,000 points is refused with MAX_COST_EXCEEDED.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import queue
import random
import re
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

__all__ = [
    "DEFAULT_LOCATION",
    "CallRecord",
    "CostBucket",
    "Delivery",
    "Faults",
    "InventoryItem",
    "OutOfStockError",
    "ShopifyState",
    "WebhookSender",
    "create_app",
    "execute",
    "gid",
    "gid_number",
    "place_order",
]

Json = dict[str, Any]

MAX_INPUT_SIZE = 250
MAX_QUERY_COST = 1000
MAX_PAGE = 250
QUANTITY_LIMIT = 1_000_000_000
REASONS = frozenset(
    "correction cycle_count_available damaged movement_created movement_updated movement_received "
    "movement_canceled other promotion quality_control received reservation_created "
    "reservation_deleted reservation_updated restock safety_stock shrinkage".split()
)
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"
THROTTLE_DOCS = "https://shopify.dev/api/usage/rate-limits"
DEFAULT_LOCATION = "gid://shopify/Location/124656943"


def gid(kind: str, number: int) -> str:
    """The global id Shopify gives object ``number`` of ``kind``."""
    return f"gid://shopify/{kind}/{number}"


def gid_number(value: Any) -> int | None:
    """The numeric id inside a gid (``gid://shopify/Kind/N``), or None when it is not one."""
    match = re.fullmatch(r"gid://shopify/\w+/(\d+)(\?.*)?", str(value or ""))
    return int(match.group(1)) if match else None


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _gql_time(value: str | None) -> str | None:
    """A REST timestamp as GraphQL renders it (UTC, ``Z``)."""
    if value is None:
        return None
    return datetime.fromisoformat(value).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------- state


@dataclass
class InventoryItem:
    """An inventory item (one per variant) and its ``available`` count per location gid."""

    id: int
    sku: str
    variant_id: int
    product_id: int
    title: str
    levels: dict[str, int] = field(default_factory=dict)
    updated_at: dict[str, datetime] = field(default_factory=dict)


@dataclass
class Faults:
    """Misbehaviour to inject; change it on the state or through ``POST /_sandbox/faults``."""

    latency_ms: int = 0
    error_rate: float = 0.0
    """Share of GraphQL calls answered 503 (drawn from the state's seeded RNG)."""
    timeout_rate: float = 0.0
    """Share of GraphQL calls that hang for ``hang_s`` before answering (the client times out)."""
    hang_s: float = 2.0
    throttle_status: int = 200
    """HTTP status of a THROTTLED answer: 200 as usually observed, or 429."""
    drop_webhook_rate: float = 0.0
    duplicate_webhooks: bool = False
    """Deliver every webhook twice, with the same X-Shopify-Event-Id."""
    reorder_webhooks: bool = False
    """Hold each webhook back and send it after the next one (or after a short idle spell)."""


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One GraphQL call as the emulator saw it."""

    operation: str
    requested_cost: int
    actual_cost: int | None
    throttled: bool
    size: int = 0
    """How many quantities an ``inventorySetQuantities`` carried."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """One webhook delivery: its last HTTP status (None when the connection failed)."""

    topic: str
    event_id: str
    status: int | None
    attempts: int
    dropped: bool = False


class CostBucket:
    """Shopify's leaky bucket: ``size`` points, refilled at ``restore_rate`` points a second."""

    def __init__(self, size: float, restore_rate: float, clock: Callable[[], float]) -> None:
        self.size = size
        self.restore_rate = restore_rate
        self.available = size
        self._clock = clock
        self._at = clock()

    def refill(self) -> None:
        now = self._clock()
        self.available = min(self.size, self.available + (now - self._at) * self.restore_rate)
        self._at = now

    def take(self, points: int) -> bool:
        """Reserve ``points`` if the bucket holds them."""
        self.refill()
        if points > self.available:
            return False
        self.available -= points
        return True

    def refund(self, points: int) -> None:
        self.available = min(self.size, self.available + points)

    def status(self) -> Json:
        return {
            "maximumAvailable": float(self.size),
            "currentlyAvailable": int(self.available),
            "restoreRate": float(self.restore_rate),
        }


@dataclass
class ShopifyState:
    """Everything one emulated shop holds; tests read and change it directly."""

    access_token: str = "shpat_sandbox_token"
    app_secret: str = "sandbox-app-secret"
    shop_domain: str = "stocksync-sandbox.myshopify.com"
    webhook_api_version: str = "2026-01"
    bucket_size: float = 2000.0
    """Standard plan: the bucket is observed at 20 × the restore rate."""
    restore_rate: float = 100.0
    webhook_url: str | None = None
    webhook_timeout_s: float = 5.0
    webhook_attempts: int = 4
    """Deliveries per event before giving up (Shopify: 1 + 8 retries over 4 hours)."""
    webhook_backoff_s: float = 0.05
    seed: int = 7
    clock: Callable[[], float] = time.monotonic
    faults: Faults = field(default_factory=Faults)
    locations: set[str] = field(default_factory=lambda: {DEFAULT_LOCATION})
    items: dict[int, InventoryItem] = field(default_factory=dict)
    orders: dict[int, Json] = field(default_factory=dict)
    fulfillment_orders: dict[int, Json] = field(default_factory=dict)
    """Fulfillment order id → ``{"order_id", "lines": {fo line id: [line item id, remaining]}}``."""
    idempotency: dict[str, tuple[str, Json]] = field(default_factory=dict)
    calls: list[CallRecord] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.lock = threading.RLock()
        self.rng = random.Random(self.seed)
        self.bucket = CostBucket(self.bucket_size, self.restore_rate, self.clock)
        self.webhooks = WebhookSender(self)
        self._next_small_id = 43729076

    def new_id(self) -> int:
        """A fresh 64-bit id, beyond JavaScript's safe integers like Shopify's order ids."""
        return self.rng.randrange(2**60, 2**63)

    def stock(self, sku: str, available: int, location: str = DEFAULT_LOCATION) -> str:
        """Set ``available`` for ``sku`` at ``location`` (creating both) and return the item gid."""
        with self.lock:
            self.locations.add(location)
            item = self.item_by_sku(sku) or self._new_item(sku)
            item.levels[location] = available
            item.updated_at[location] = _now()
            return gid("InventoryItem", item.id)

    def _new_item(self, sku: str) -> InventoryItem:
        self._next_small_id += 1
        item_id = self._next_small_id
        item = InventoryItem(
            item_id, sku, item_id + 500_000_000, item_id + 900_000_000, sku.title()
        )
        self.items[item_id] = item
        return item

    def item_by_sku(self, sku: str) -> InventoryItem | None:
        return next((i for i in self.items.values() if i.sku == sku), None)

    def item_by_variant(self, variant_id: int) -> InventoryItem | None:
        return next((i for i in self.items.values() if i.variant_id == variant_id), None)

    def available(self, item_gid: str, location: str = DEFAULT_LOCATION) -> int | None:
        item = self.items.get(gid_number(item_gid) or 0)
        return item.levels.get(location) if item else None

    def set_available(self, item: InventoryItem, location: str, value: int) -> None:
        """Change a count and announce it with ``inventory_levels/update`` when it moved."""
        before = item.levels[location]
        item.levels[location] = value
        item.updated_at[location] = _now()
        if value != before:
            self.webhooks.publish("inventory_levels/update", _level_payload(item, location))

    def touch(self, order: Json) -> None:
        """Bump an order's ``updated_at`` and announce it with ``orders/updated``."""
        order["updated_at"] = _now().isoformat()
        self.webhooks.publish("orders/updated", order)


def _level_payload(item: InventoryItem, location: str) -> Json:
    loc = gid_number(location)
    return {
        "inventory_item_id": item.id,
        "location_id": loc,
        "available": item.levels[location],
        "updated_at": item.updated_at[location].isoformat(),
        "admin_graphql_api_id": f"gid://shopify/InventoryLevel/{loc}?inventory_item_id={item.id}",
    }


# ---------------------------------------------------------------- webhooks


@dataclass(frozen=True, slots=True)
class _Event:
    topic: str
    body: bytes
    event_id: str
    triggered_at: str


class WebhookSender:
    """Delivers webhooks from a background thread: signed, retried, faults applied."""

    def __init__(self, state: ShopifyState) -> None:
        self._state = state
        self._queue: queue.Queue[_Event | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def publish(self, topic: str, payload: Json) -> None:
        """Queue ``payload`` for the configured URL (nothing happens without one)."""
        state = self._state
        if not state.webhook_url:
            return
        event = _Event(topic, json.dumps(payload).encode(), str(uuid.uuid4()), _now().isoformat())
        if state.rng.random() < state.faults.drop_webhook_rate:
            state.deliveries.append(Delivery(topic, event.event_id, None, 0, dropped=True))
            return
        self._ensure_thread()
        self._queue.put(event)
        if state.faults.duplicate_webhooks:
            self._queue.put(event)

    def _ensure_thread(self) -> None:
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="shopify-webhooks", daemon=True
                )
                self._thread.start()

    def stop(self) -> None:
        """Deliver what is queued, then end the thread."""
        with self._start_lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout=10)

    def _run(self) -> None:
        with httpx.Client(timeout=self._state.webhook_timeout_s) as client:
            for event in self._ordered_events():
                self._deliver(client, event)

    def _ordered_events(self) -> Iterator[_Event]:
        """Events in delivery order: each one held back behind the next when reordering."""
        held: _Event | None = None
        while True:
            try:
                event = self._queue.get(timeout=0.2 if held else None)
            except queue.Empty:
                event, held = held, None
                if event is not None:
                    yield event
                continue
            if event is None:
                if held is not None:
                    yield held
                return
            if self._state.faults.reorder_webhooks and held is None:
                held = event
                continue
            yield event
            if held is not None:
                yield held
                held = None

    def _deliver(self, client: httpx.Client, event: _Event) -> None:
        state = self._state
        headers = self._headers(event)
        status: int | None = None
        attempt = 0
        for attempt in range(1, state.webhook_attempts + 1):
            try:
                status = client.post(
                    state.webhook_url or "", content=event.body, headers=headers
                ).status_code
            except httpx.HTTPError:
                status = None
            if status is not None and 200 <= status < 300:
                break
            if attempt < state.webhook_attempts:
                time.sleep(state.webhook_backoff_s * 2 ** (attempt - 1))
        state.deliveries.append(Delivery(event.topic, event.event_id, status, attempt))

    def _headers(self, event: _Event) -> dict[str, str]:
        state = self._state
        digest = hmac.new(state.app_secret.encode(), event.body, hashlib.sha256).digest()
        return {
            "Content-Type": "application/json",
            "X-Shopify-Topic": event.topic,
            "X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode(),
            "X-Shopify-Shop-Domain": state.shop_domain,
            "X-Shopify-API-Version": state.webhook_api_version,
            "X-Shopify-Webhook-Id": str(uuid.uuid4()),
            "X-Shopify-Event-Id": event.event_id,
            "X-Shopify-Triggered-At": event.triggered_at,
        }


# ---------------------------------------------------------------- shopper orders


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
    order_id, created = state.new_id(), _now().isoformat()
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


# ---------------------------------------------------------------- GraphQL plumbing


class _GraphQLError(Exception):
    """A request-level error: top-level ``errors``, no ``data``."""

    def __init__(self, message: str, code: str, **extra: Any) -> None:
        super().__init__(message)
        self.entry: Json = {"message": message, "extensions": {"code": code, **extra}}


@dataclass(frozen=True, slots=True)
class _Call:
    version: str
    query: str
    variables: Json

    def arg(self, field_name: str, name: str, default: Any = None) -> Any:
        """Argument ``name`` of ``field_name(...)``: a ``$variable`` or a literal in the query."""
        call = re.search(rf"\b{field_name}\s*\(([^)]*)\)", self.query)
        found = call and re.search(rf"\b{name}\s*:\s*(\$\w+|\"[^\"]*\"|-?\d+|null)", call.group(1))
        if not found:
            return default
        raw = found.group(1)
        if raw.startswith("$"):
            return self.variables.get(raw[1:], default)
        return None if raw == "null" else json.loads(raw)

    def first(self, field_name: str, default: int = 0) -> int:
        return int(self.arg(field_name, "first", default) or default)


@dataclass(frozen=True, slots=True)
class _Operation:
    cost: Callable[[_Call], int]
    run: Callable[[ShopifyState, _Call], tuple[Json, int]]
    """Returns ``data`` and the actual cost."""
    mutation: bool = False


def _page(nodes: list[Json], after: str | None, first: int, key: Callable[[Json], str]) -> Json:
    """Cursor paging over ``nodes`` (already sorted): ``pageInfo`` and the page's nodes."""
    start = 0
    if after:
        marker = base64.b64decode(after).decode()
        start = next((i + 1 for i, n in enumerate(nodes) if key(n) == marker), len(nodes))
    page = nodes[start : start + min(first, MAX_PAGE)]
    end = base64.b64encode(key(page[-1]).encode()).decode() if page else None
    return {
        "pageInfo": {"hasNextPage": start + len(page) < len(nodes), "endCursor": end},
        "nodes": page,
    }


# ---------------------------------------------------------------- inventory


def _set_quantities_cost(call: _Call) -> int:
    return 10 + len((call.variables.get("input") or {}).get("quantities") or [])


def _set_quantities(state: ShopifyState, call: _Call) -> tuple[Json, int]:
    data: Json = call.arg("inventorySetQuantities", "input") or {}
    quantities = data.get("quantities") or []
    if len(quantities) > MAX_INPUT_SIZE:
        raise _GraphQLError(
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


USER_ERRORS = {
    "INVALID_NAME": "Only the 'available' quantity is emulated.",
    "INVALID_REASON": "The reason is invalid.",
    "INVALID_REFERENCE_DOCUMENT": "The reference document URI is invalid.",
    "NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR": "The combination of inventoryItemId and locationId must be unique.",
    "INVALID_INVENTORY_ITEM": "The specified inventory item could not be found.",
    "INVALID_LOCATION": "The specified location could not be found.",
    "ITEM_NOT_STOCKED_AT_LOCATION": "The specified inventory item is not stocked at the location.",
    "INVALID_QUANTITY_TOO_HIGH": "The quantity can't be higher than 1,000,000,000.",
    "INVALID_QUANTITY_TOO_LOW": "The quantity can't be lower than -1,000,000,000.",
    "CHANGE_FROM_QUANTITY_STALE": "The changeFromQuantity argument no longer matches the persisted quantity.",
    "COMPARE_QUANTITY_REQUIRED": "The compareQuantity argument must be given to each quantity or ignored using ignoreCompareQuantity.",
    "COMPARE_QUANTITY_STALE": "The compareQuantity argument no longer matches the persisted quantity.",
    "IDEMPOTENCY_KEY_PARAMETER_MISMATCH": "The same idempotency key was used with different arguments.",
}


def _user_error(field_path: list[Any], code: str) -> Json:
    return {"field": [str(p) for p in field_path], "message": USER_ERRORS[code], "code": code}


def _set_errors(state: ShopifyState, version: str, data: Json) -> list[Json]:
    """Every userError of the input; an empty list means the whole set may be applied."""
    errors: list[Json] = []
    if data.get("name") != "available":
        errors.append(_user_error(["input", "name"], "INVALID_NAME"))
    if data.get("reason") not in REASONS:
        errors.append(_user_error(["input", "reason"], "INVALID_REASON"))
    uri = data.get("referenceDocumentUri")
    if uri is not None and ":" not in str(uri):
        errors.append(_user_error(["input", "referenceDocumentUri"], "INVALID_REFERENCE_DOCUMENT"))
    seen: set[tuple[Any, Any]] = set()
    for i, q in enumerate(data.get("quantities") or []):
        pair = (q.get("inventoryItemId"), q.get("locationId"))
        if pair in seen:
            code = "NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR"
            errors.append(_user_error(["input", "quantities", i], code))
        seen.add(pair)
        errors.extend(_quantity_errors(state, version, data, i, q))
    return errors


def _quantity_errors(state: ShopifyState, version: str, data: Json, i: int, q: Json) -> list[Json]:
    """The first problem of quantity ``i``, else its compare-and-set check."""
    path: list[Any] = ["input", "quantities", i]
    item = state.items.get(gid_number(q.get("inventoryItemId")) or 0)
    location, quantity = q.get("locationId"), q.get("quantity")
    if item is None:
        return [_user_error([*path, "inventoryItemId"], "INVALID_INVENTORY_ITEM")]
    if location not in state.locations:
        return [_user_error([*path, "locationId"], "INVALID_LOCATION")]
    if location not in item.levels:
        return [_user_error([*path, "locationId"], "ITEM_NOT_STOCKED_AT_LOCATION")]
    if not isinstance(quantity, int) or quantity > QUANTITY_LIMIT:
        return [_user_error([*path, "quantity"], "INVALID_QUANTITY_TOO_HIGH")]
    if quantity < -QUANTITY_LIMIT:
        return [_user_error([*path, "quantity"], "INVALID_QUANTITY_TOO_LOW")]
    return _compare_errors(version, data, path, q, item.levels[location])


def _compare_errors(
    version: str, data: Json, path: list[Any], q: Json, persisted: int
) -> list[Json]:
    """The compare-and-set check of one quantity, as the API version defines it."""
    if version >= "2026-01" and "changeFromQuantity" in q:
        expected = q["changeFromQuantity"]
        if expected is None or expected == persisted:
            return []
        return [_user_error([*path, "changeFromQuantity"], "CHANGE_FROM_QUANTITY_STALE")]
    if version >= "2026-04":
        raise _GraphQLError(
            "InventoryQuantityInput.changeFromQuantity is required (use null to skip the check).",
            "INVALID_VARIABLE",
        )
    if data.get("ignoreCompareQuantity"):
        return []
    if q.get("compareQuantity") is None:
        return [_user_error([*path, "compareQuantity"], "COMPARE_QUANTITY_REQUIRED")]
    if q["compareQuantity"] != persisted:
        return [_user_error([*path, "compareQuantity"], "COMPARE_QUANTITY_STALE")]
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
        "createdAt": _now().strftime("%Y-%m-%dT%H:%M:%SZ"),
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


def _levels_cost(call: _Call) -> int:
    return 1 + 2 + call.first("inventoryLevels", 50) * 2


def _levels(state: ShopifyState, call: _Call) -> tuple[Json, int]:
    location = call.arg("location", "id")
    if location not in state.locations:
        return {"location": None}, 1
    items = sorted((i for i in state.items.values() if location in i.levels), key=lambda i: i.id)
    nodes = [_level_node(i, location) for i in items]
    page = _page(
        nodes,
        call.arg("inventoryLevels", "after"),
        call.first("inventoryLevels", 50),
        lambda n: n["id"],
    )
    return {"location": {"id": location, "inventoryLevels": page}}, 3 + 2 * len(page["nodes"])


def _nodes_cost(call: _Call) -> int:
    return 2 * len(call.arg("nodes", "ids") or [])


def _nodes(state: ShopifyState, call: _Call) -> tuple[Json, int]:
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


# ---------------------------------------------------------------- orders


def _order_node_cost(call: _Call) -> int:
    nested = (call.first(name, 0) for name in ("lineItems", "refundLineItems"))
    return 1 + sum(2 + n for n in nested if n)


def _orders_cost(call: _Call) -> int:
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


def _orders(state: ShopifyState, call: _Call) -> tuple[Json, int]:
    keep = _updated_filter(call.arg("orders", "query"))
    ordered = sorted(
        (o for o in state.orders.values() if keep(o)),
        key=lambda o: (datetime.fromisoformat(o["updated_at"]), o["id"]),
    )
    nodes = [_order_node(state, o) for o in ordered]
    page = _page(nodes, call.arg("orders", "after"), call.first("orders", 50), lambda n: n["id"])
    return {"orders": page}, 2 + len(page["nodes"]) * _order_node_cost(call)


def _order_cost(call: _Call) -> int:
    return (
        1
        + _order_node_cost(call)
        + 2
        + call.first("fulfillmentOrders", 10) * (3 + call.first("lineItems", 0))
    )


def _order(state: ShopifyState, call: _Call) -> tuple[Json, int]:
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
    return {"order": node}, _order_cost(call)


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


def _fulfill(state: ShopifyState, call: _Call) -> tuple[Json, int]:
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


def _refund(state: ShopifyState, call: _Call) -> tuple[Json, int]:
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
        "created_at": _now().isoformat(),
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


OPERATIONS: dict[str, _Operation] = {
    "inventorySetQuantities": _Operation(_set_quantities_cost, _set_quantities, mutation=True),
    "fulfillmentCreate": _Operation(lambda call: 10, _fulfill, mutation=True),
    "refundCreate": _Operation(lambda call: 10, _refund, mutation=True),
    "nodes": _Operation(_nodes_cost, _nodes),
    "location": _Operation(_levels_cost, _levels),
    "orders": _Operation(_orders_cost, _orders),
    "order": _Operation(_order_cost, _order),
}
_ROOT = re.compile(r"\b(" + "|".join(sorted(OPERATIONS, key=len, reverse=True)) + r")\s*\(")


# ---------------------------------------------------------------- dispatch


def _cost(state: ShopifyState, requested: int, actual: int | None) -> Json:
    return {
        "requestedQueryCost": requested,
        "actualQueryCost": actual,
        "throttleStatus": state.bucket.status(),
    }


def execute(state: ShopifyState, version: str, query: str, variables: Json) -> tuple[int, Json]:
    """Run one GraphQL request against ``state``: (HTTP status, response body)."""
    body = query[query.find("{") :] if "{" in query else query
    root = _ROOT.search(body)
    if root is None:
        message = (
            "Field doesn't exist on type 'QueryRoot' (this emulator knows: "
            + ", ".join(OPERATIONS)
            + ")"
        )
        return 200, {"errors": [{"message": message, "extensions": {"code": "undefinedField"}}]}
    name, call = root.group(1), _Call(version, query, variables)
    operation = OPERATIONS[name]
    requested = operation.cost(call)
    if requested > MAX_QUERY_COST:
        error = _GraphQLError(
            f"Query cost is {requested}, which exceeds the single query max cost limit ({MAX_QUERY_COST}).",
            "MAX_COST_EXCEEDED",
            cost=requested,
            maxCost=MAX_QUERY_COST,
        )
        return 200, {"errors": [error.entry]}
    with state.lock:
        if not state.bucket.take(requested):
            state.calls.append(CallRecord(name, requested, None, throttled=True))
            throttled = {
                "message": "Throttled",
                "extensions": {"code": "THROTTLED", "documentation": THROTTLE_DOCS},
            }
            return state.faults.throttle_status, {
                "errors": [throttled],
                "extensions": {"cost": _cost(state, requested, None)},
            }
        return 200, _run_paid(state, name, operation, call, requested)


def _run_paid(
    state: ShopifyState, name: str, operation: _Operation, call: _Call, requested: int
) -> Json:
    """Run an operation whose cost is reserved; refund what it did not use."""
    try:
        data, actual = _replayed(state, name, call) if operation.mutation else (None, 0)
        if data is None:
            data, actual = operation.run(state, call)
            _remember(state, name, call, data)
    except _GraphQLError as exc:
        state.bucket.refund(requested)
        state.calls.append(CallRecord(name, requested, 0, throttled=False))
        return {"errors": [exc.entry], "extensions": {"cost": _cost(state, requested, 0)}}
    state.bucket.refund(max(0, requested - actual))
    size = (
        len((call.variables.get("input") or {}).get("quantities") or [])
        if name == "inventorySetQuantities"
        else 0
    )
    state.calls.append(CallRecord(name, requested, actual, throttled=False, size=size))
    return {"data": data, "extensions": {"cost": _cost(state, requested, actual)}}


def _idempotency_key(call: _Call) -> tuple[str | None, str]:
    """The ``@idempotent(key:)`` value and the name of its variable (if it came in one)."""
    match = re.search(r"@idempotent\s*\(\s*key\s*:\s*(\$\w+|\"[^\"]*\")\s*\)", call.query)
    if not match:
        return None, ""
    raw = match.group(1)
    if raw.startswith("$"):
        return call.variables.get(raw[1:]), raw[1:]
    return json.loads(raw), ""


def _fingerprint(name: str, call: _Call, key_variable: str) -> str:
    variables = {k: v for k, v in call.variables.items() if k != key_variable}
    return name + json.dumps(variables, sort_keys=True)


def _replayed(state: ShopifyState, name: str, call: _Call) -> tuple[Json | None, int]:
    """The first result for this idempotency key, or None when the key is new (or absent)."""
    key, variable = _idempotency_key(call)
    if key is None or key not in state.idempotency:
        return None, 0
    fingerprint, data = state.idempotency[key]
    if fingerprint == _fingerprint(name, call, variable):
        return data, 10
    error = _user_error(["idempotencyKey"], "IDEMPOTENCY_KEY_PARAMETER_MISMATCH")
    return {name: {"userErrors": [error]}}, 10


def _remember(state: ShopifyState, name: str, call: _Call, data: Json) -> None:
    key, variable = _idempotency_key(call)
    if key is not None:
        state.idempotency[key] = (_fingerprint(name, call, variable), data)


# ---------------------------------------------------------------- HTTP


def create_app(state: ShopifyState) -> Starlette:
    """The emulator as an ASGI app over ``state``; the webhook thread stops with the app."""

    async def graphql(request: Request) -> JSONResponse:
        faults = state.faults
        await asyncio.sleep(faults.latency_ms / 1000)
        if state.rng.random() < faults.timeout_rate:
            await asyncio.sleep(faults.hang_s)
        if state.rng.random() < faults.error_rate:
            return JSONResponse({"errors": "Service Unavailable"}, status_code=503)
        if request.headers.get("x-shopify-access-token") != state.access_token:
            return JSONResponse({"errors": INVALID_TOKEN}, status_code=401)
        try:
            payload = json.loads(await request.body())
            query = str(payload["query"])
        except (ValueError, KeyError, TypeError):
            return JSONResponse(
                {"errors": {"query": "Required parameter missing or invalid"}}, status_code=400
            )
        status, body = execute(
            state, request.path_params["version"], query, payload.get("variables") or {}
        )
        return JSONResponse(body, status_code=status)

    async def shopper_order(request: Request) -> JSONResponse:
        payload = await request.json()
        try:
            order = place_order(
                state, payload["lines"], payload.get("location_id") or DEFAULT_LOCATION
            )
        except OutOfStockError as exc:
            return JSONResponse({"errors": str(exc)}, status_code=409)
        return JSONResponse(order, status_code=201)

    async def set_faults(request: Request) -> JSONResponse:
        changes = await request.json()
        known = {f.name for f in fields(Faults)}
        if not set(changes) <= known:
            return JSONResponse(
                {"errors": f"unknown faults: {sorted(set(changes) - known)}"}, status_code=400
            )
        for name, value in changes.items():
            setattr(state.faults, name, value)
        return JSONResponse({f: getattr(state.faults, f) for f in sorted(known)})

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        state.webhooks.stop()

    return Starlette(
        routes=[
            Route("/admin/api/{version}/graphql.json", graphql, methods=["POST"]),
            Route("/_sandbox/shopper/orders", shopper_order, methods=["POST"]),
            Route("/_sandbox/faults", set_faults, methods=["POST"]),
            Route("/_sandbox/health", health, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
