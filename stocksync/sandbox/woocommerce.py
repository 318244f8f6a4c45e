"""A WooCommerce REST API v3 emulator (reference: channel-apis.md section C), as an ASGI app.

Faithful where a sync can trip: Basic auth with consumer key/secret, ``per_page`` capped at 100 with
``X-WP-Total``/``X-WP-TotalPages``, batch updates capped at 100 objects (413) with per-item errors
inside a 200, ``stock_quantity`` as an absolute overwrite (last write wins), ``modified_after``
strictly after, refunds that restock only with ``api_restock``, and webhooks delivered in the
background without retries, signed over the exact body bytes, disabled after the 7th failure in a
row, with a Delivery-ID that collides within one second. Host-level faults (latency, 429, 5xx) and
webhook faults (drop, duplicate, reorder) are injected per ``WooFaults``.

Simplified: one webhook subscribed to every topic it fires (``order.created`` for shopper orders,
``order.updated`` for API updates and refunds; no ``product.*`` echoes), site time zone UTC, prices
without tax, batch ``create``/``delete`` answered with per-item errors, no ``Link`` header.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import hmac
import json
import queue
import random
import re
import threading
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

__all__ = [
    "WooFaults",
    "WooProduct",
    "WooState",
    "WooVariation",
    "WooWebhook",
    "create_app",
]

API = "/wp-json/wc/v3"
BATCH_LIMIT = 100
MAX_PER_PAGE = 100
MAX_DELIVERY_FAILURES = 5
USER_AGENT = "WooCommerce/8.9.1 Hookshot (WordPress/6.5.3)"
RESTORE_ON = frozenset({"cancelled", "failed"})


@dataclass
class WooVariation:
    """One variation of a variable product; ``manage_stock=False`` follows the parent's stock."""

    id: int
    sku: str
    stock_quantity: int | None
    manage_stock: bool = True
    price: str = "10.00"
    date_modified_gmt: str = ""


@dataclass
class WooProduct:
    """A product; a ``variable`` one sells through its ``variations``."""

    id: int
    sku: str
    name: str
    stock_quantity: int | None = 0
    manage_stock: bool = True
    type: str = "simple"
    price: str = "10.00"
    variations: dict[int, WooVariation] = field(default_factory=dict)
    date_modified_gmt: str = ""


@dataclass
class WooFaults:
    """What goes wrong, on purpose: host-level answers to API calls and webhook delivery faults."""

    latency_ms: int = 0
    error_rate: float = 0.0
    """Share of API calls answered 503 by the host, drawn from ``random.Random(seed)``."""
    seed: int = 0
    throttle_next: int = 0
    """The next N API calls get a 429 with ``Retry-After: 1``."""
    drop_webhooks: bool = False
    duplicate_webhooks: bool = False
    reorder_webhooks: bool = False
    """Hold each delivery until the next one has been sent."""
    rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)


@dataclass
class WooWebhook:
    """The shop's one webhook; ``failure_count`` and ``status`` move as WooCommerce's do."""

    id: int = 1
    delivery_url: str | None = None
    status: str = "active"
    failure_count: int = 0
    timeout_s: float = 60.0


@dataclass
class WooState:
    """Everything the emulated shop knows; every read and write holds ``lock``."""

    consumer_key: str = "ck_sandbox"
    consumer_secret: str = "cs_sandbox"
    webhook_secret: str = "wh-secret-sandbox"
    site_url: str = "https://shop.example/"
    products: dict[int, WooProduct] = field(default_factory=dict)
    orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    """Order id → its refund objects, as ``GET /orders/{id}/refunds`` shows them."""
    faults: WooFaults = field(default_factory=WooFaults)
    webhook: WooWebhook = field(default_factory=WooWebhook)
    calls: Counter[str] = field(default_factory=Counter)
    """API calls received, keyed like ``"POST /wp-json/wc/v3/products/batch"`` (ids as ``{id}``)."""
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    """Every webhook delivery attempted or dropped: topic, resource id, outcome."""
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _next_post_id: int = 100
    _next_item_id: int = 1000

    def next_post_id(self) -> int:
        """Products, variations, orders and refunds share WordPress's post ids."""
        self._next_post_id += 1
        return self._next_post_id

    def next_item_id(self) -> int:
        """Order items (lines, refund lines) have their own id sequence."""
        self._next_item_id += 1
        return self._next_item_id

    def add_product(
        self, sku: str, stock: int | None, *, name: str = "", price: str = "10.00"
    ) -> WooProduct:
        """Add a simple product that manages its stock (``stock=None``: stock not managed)."""
        product = WooProduct(
            id=self.next_post_id(), sku=sku, name=name or sku, stock_quantity=stock,
            manage_stock=stock is not None, price=price, date_modified_gmt=self.now(),
        )  # fmt: skip
        self.products[product.id] = product
        return product

    def add_variable_product(self, sku: str, variations: Mapping[str, int | None]) -> WooProduct:
        """Add a variable product whose variations (SKU → stock) manage their own stock."""
        product = WooProduct(
            id=self.next_post_id(), sku=sku, name=sku, stock_quantity=None,
            manage_stock=False, type="variable", date_modified_gmt=self.now(),
        )  # fmt: skip
        for var_sku, stock in variations.items():
            variation = WooVariation(
                self.next_post_id(), var_sku, stock, stock is not None, date_modified_gmt=self.now()
            )
            product.variations[variation.id] = variation
        self.products[product.id] = product
        return product

    def stock_of(self, product_id: int, variation_id: int = 0) -> int | None:
        """The stock a shopper would be checked against for this product or variation."""
        with self.lock:
            holder = _stock_holder(self, product_id, variation_id)
            return None if holder is None else holder.stock_quantity

    def now(self) -> str:
        """The current GMT time in WooCommerce's format (seconds, no zone)."""
        return self.clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


class WooError(Exception):
    """A WordPress REST error: ``{"code", "message", "data": {"status", ...}}``."""

    def __init__(self, status: int, code: str, message: str, **data: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.data = status, code, message, data

    def response(self) -> JSONResponse:
        data = {"status": self.status, **self.data}
        body = {"code": self.code, "message": self.message, "data": data}
        return JSONResponse(body, status_code=self.status)


# -- stock ---------------------------------------------------------------------------------------


def _stock_holder(
    state: WooState, product_id: int, variation_id: int
) -> WooProduct | WooVariation | None:
    """The product or variation whose ``stock_quantity`` a sale moves; None if stock is unmanaged."""
    product = state.products.get(product_id)
    if product is None:
        raise WooError(400, "woocommerce_rest_invalid_product_id", "Invalid product ID.")
    if variation_id:
        variation = product.variations.get(variation_id)
        if variation is None:
            raise WooError(400, "woocommerce_rest_invalid_product_id", "Invalid variation ID.")
        if variation.manage_stock:
            return variation
    return product if product.manage_stock else None


def _move_stock(state: WooState, product_id: int, variation_id: int, delta: int) -> None:
    holder = _stock_holder(state, product_id, variation_id)
    if holder is not None and holder.stock_quantity is not None:
        holder.stock_quantity += delta
        holder.date_modified_gmt = state.now()


def _stock_status(manage: bool, quantity: int | None) -> str:
    return "outofstock" if manage and (quantity or 0) <= 0 else "instock"


def _product_json(product: WooProduct) -> dict[str, Any]:
    return {
        "id": product.id, "name": product.name, "slug": product.sku.lower(), "type": product.type,
        "status": "publish", "sku": product.sku, "price": product.price,
        "regular_price": product.price, "manage_stock": product.manage_stock,
        "stock_quantity": product.stock_quantity if product.manage_stock else None,
        "stock_status": _stock_status(product.manage_stock, product.stock_quantity),
        "backorders": "no", "date_modified": product.date_modified_gmt,
        "date_modified_gmt": product.date_modified_gmt, "variations": list(product.variations),
    }  # fmt: skip


def _variation_json(product: WooProduct, variation: WooVariation) -> dict[str, Any]:
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


def _batch(state: WooState, body: Mapping[str, Any], parent: WooProduct | None) -> dict[str, Any]:
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
            return _product_json(product)
        variation = parent.variations.get(item_id) if isinstance(item_id, int) else None
        if variation is None:
            raise _invalid_id(kind)
        _update_stock(state, variation, item)
        return _variation_json(parent, variation)
    except WooError as exc:
        return _item_error(item_id or 0, exc)


# -- orders and refunds --------------------------------------------------------------------------


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


def _place_order(state: WooState, lines: list[Mapping[str, Any]]) -> dict[str, Any]:
    """A shopper checks out: stock is checked for every line first, then reduced (or nothing)."""
    wanted: Counter[tuple[int, int]] = Counter()
    for line in lines:
        wanted[(int(line["product_id"]), int(line.get("variation_id") or 0))] += int(
            line["quantity"]
        )
    for (product_id, variation_id), quantity in wanted.items():
        holder = _stock_holder(state, product_id, variation_id)
        if holder is not None and (holder.stock_quantity or 0) < quantity:
            raise WooError(
                409, "woocommerce_rest_out_of_stock", f"Not enough stock for {holder.sku}."
            )
    for (product_id, variation_id), quantity in wanted.items():
        _move_stock(state, product_id, variation_id, -quantity)
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
    if _stock_holder(state, product_id, variation_id) is not None:
        _set_meta(state, item["meta_data"], "_reduced_stock", str(quantity))
    return item


def _find_order(state: WooState, order_id: int) -> dict[str, Any]:
    order = state.orders.get(order_id)
    if order is None:
        raise WooError(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
    return order


def _touch(state: WooState, order: dict[str, Any]) -> None:
    order["date_modified"] = order["date_modified_gmt"] = state.now()


def _update_order(state: WooState, order: dict[str, Any], body: Mapping[str, Any]) -> None:
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
            _move_stock(state, item["product_id"], item["variation_id"], reduced)
            item["meta_data"] = [m for m in item["meta_data"] if m["key"] != "_reduced_stock"]


def _create_refund(
    state: WooState, order: dict[str, Any], body: Mapping[str, Any]
) -> dict[str, Any]:
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
        if quantity and _stock_holder(state, item["product_id"], item["variation_id"]) is not None:
            _move_stock(state, item["product_id"], item["variation_id"], quantity)
            done = int(_meta(item["meta_data"], "_restock_refunded_items") or 0)
            _set_meta(state, item["meta_data"], "_restock_refunded_items", str(done + quantity))


def _fully_refunded(state: WooState, order: dict[str, Any]) -> bool:
    refunded: Counter[str] = Counter()
    for refund in state.refunds.get(order["id"], []):
        for line in refund["line_items"]:
            refunded[_meta(line["meta_data"], "_refunded_item_id")] -= line["quantity"]
    return all(refunded[str(item["id"])] >= item["quantity"] for item in order["line_items"])


# -- paging --------------------------------------------------------------------------------------


def _int_param(request: Request, name: str, default: int, low: int, high: int | None = None) -> int:
    raw = request.query_params.get(name)
    try:
        value = default if raw is None else int(raw)
    except ValueError:
        value = low - 1
    if value < low or (high is not None and value > high):
        bounds = f"between {low} (inclusive) and {high} (inclusive)" if high else f"at least {low}"
        raise WooError(
            400, "rest_invalid_param", f"Invalid parameter(s): {name}",
            params={name: f"{name} must be {bounds}"},
        )  # fmt: skip
    return value


def _paged(request: Request, items: list[dict[str, Any]]) -> JSONResponse:
    """One page of ``items`` with WordPress's ``X-WP-Total`` and ``X-WP-TotalPages`` headers."""
    per_page = _int_param(request, "per_page", 10, 1, MAX_PER_PAGE)
    page = _int_param(request, "page", 1, 1)
    pages = (len(items) + per_page - 1) // per_page
    headers = {"X-WP-Total": str(len(items)), "X-WP-TotalPages": str(pages)}
    return JSONResponse(items[(page - 1) * per_page : page * per_page], headers=headers)


def _order_list(state: WooState, request: Request) -> list[dict[str, Any]]:
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


# -- webhooks ------------------------------------------------------------------------------------


def webhook_signature(secret: str, body: bytes) -> str:
    """``base64(HMAC-SHA256(secret, body))``, as WooCommerce signs a delivery."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def _wp_json(payload: Any) -> bytes:
    """``wp_json_encode``: compact, ``\\/`` for slashes and ``\\uXXXX`` for non-ASCII."""
    return json.dumps(payload, separators=(",", ":")).replace("/", "\\/").encode()


@dataclass(frozen=True)
class _Job:
    topic: str
    resource_id: int
    copies: int
    drop: bool
    hold: bool


class WebhookDispatcher:
    """Delivers queued webhooks from one background thread, once each, as WP-cron would."""

    def __init__(self, state: WooState) -> None:
        self.state = state
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="woo-webhooks", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Deliver what is queued (and any held delivery), then end the thread."""
        self._jobs.put(None)
        self._thread.join(timeout=10)

    def enqueue(self, topic: str, resource_id: int) -> None:
        """Schedule a delivery; faults are read now, the payload is built when it is sent."""
        faults = self.state.faults
        copies = 2 if faults.duplicate_webhooks else 1
        self._jobs.put(
            _Job(topic, resource_id, copies, faults.drop_webhooks, faults.reorder_webhooks)
        )

    def _run(self) -> None:
        held: _Job | None = None
        with httpx.Client(follow_redirects=False) as client:
            while (job := self._jobs.get()) is not None:
                if job.drop:
                    self._record(job, "dropped")
                elif job.hold and held is None:
                    held = job
                else:
                    self._send(client, job)
                    if held is not None:
                        self._send(client, held)
                        held = None
            if held is not None:
                self._send(client, held)

    def _send(self, client: httpx.Client, job: _Job) -> None:
        for _ in range(job.copies):
            self._deliver(client, job)

    def _deliver(self, client: httpx.Client, job: _Job) -> None:
        state, hook = self.state, self.state.webhook
        with state.lock:
            if hook.status != "active" or not hook.delivery_url:
                return
            body = _wp_json(state.orders[job.resource_id])
            url = hook.delivery_url
        try:
            answer = client.post(
                url,
                content=body,
                headers=self._headers(job.topic, body),
                timeout=hook.timeout_s,
            )
            outcome: int | str = answer.status_code
        except httpx.HTTPError as exc:
            outcome = type(exc).__name__
        with state.lock:
            self._count(outcome)
        self._record(job, outcome)

    def _headers(self, topic: str, body: bytes) -> dict[str, str]:
        resource, event = topic.split(".", 1)
        state = self.state
        return {
            "Content-Type": "application/json", "User-Agent": USER_AGENT,
            "X-WC-Webhook-Source": state.site_url, "X-WC-Webhook-Topic": topic,
            "X-WC-Webhook-Resource": resource, "X-WC-Webhook-Event": event,
            "X-WC-Webhook-Signature": webhook_signature(state.webhook_secret, body),
            "X-WC-Webhook-ID": str(state.webhook.id),
            "X-WC-Webhook-Delivery-ID": self.delivery_id(),
        }  # fmt: skip

    def delivery_id(self) -> str:
        """``wp_hash(webhook id . time())``: the same for every delivery within one second."""
        second = int(self.state.clock().timestamp())
        message = f"{self.state.webhook.id}{second}".encode()
        return hmac.new(self.state.site_url.encode(), message, hashlib.md5).hexdigest()

    def _count(self, outcome: int | str) -> None:
        """200–302 resets ``failure_count``; a failure when it is already > 5 disables the hook."""
        hook = self.state.webhook
        if isinstance(outcome, int) and 200 <= outcome < 303:
            hook.failure_count = 0
        elif hook.failure_count > MAX_DELIVERY_FAILURES:
            hook.status = "disabled"
        else:
            hook.failure_count += 1

    def _record(self, job: _Job, outcome: int | str) -> None:
        with self.state.lock:
            self.state.deliveries.append(
                {"topic": job.topic, "resource_id": job.resource_id, "outcome": outcome}
            )


# -- the app -------------------------------------------------------------------------------------


def create_app(state: WooState) -> FastAPI:
    """The emulated shop: WooCommerce's REST API under ``/wp-json/wc/v3``, sandbox controls under ``/_sandbox``."""
    dispatcher = WebhookDispatcher(state)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        dispatcher.start()
        yield
        await asyncio.to_thread(dispatcher.stop)

    app = FastAPI(lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None)
    app.add_exception_handler(WooError, _woo_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _no_route)  # type: ignore[arg-type]
    app.middleware("http")(_gatekeeper(state))
    _add_product_routes(app, state)
    _add_order_routes(app, state, dispatcher)
    _add_sandbox_routes(app, state, dispatcher)
    return app


async def _woo_error(_: Request, exc: WooError) -> JSONResponse:
    return exc.response()


async def _no_route(_: Request, exc: StarletteHTTPException) -> JSONResponse:
    return WooError(
        exc.status_code, "rest_no_route", "No route was found matching the URL and request method."
    ).response()


def _gatekeeper(state: WooState) -> Callable[..., Any]:
    """Middleware for API calls: count, add latency, inject host faults, then check Basic auth."""

    async def gatekeeper(request: Request, call_next: Callable[[Request], Any]) -> Response:
        if not request.url.path.startswith("/wp-json/"):
            return await call_next(request)  # type: ignore[no-any-return]
        route = re.sub(r"/\d+", "/{id}", request.url.path)
        with state.lock:
            state.calls[f"{request.method} {route}"] += 1
            faults = state.faults
            delay, throttled = faults.latency_ms / 1000, faults.throttle_next > 0
            if throttled:
                faults.throttle_next -= 1
            failing = not throttled and faults.rng.random() < faults.error_rate
        if delay:
            await asyncio.sleep(delay)
        if throttled:
            body = {
                "code": "rest_too_many_requests",
                "message": "Too many requests.",
                "data": {"status": 429},
            }
            return JSONResponse(body, status_code=429, headers={"Retry-After": "1"})
        if failing:
            return Response(
                "<html><body><h1>503 Service Unavailable</h1></body></html>",
                503,
                media_type="text/html",
            )
        denied = _authenticate(state, request)
        return denied or await call_next(request)

    return gatekeeper


def _authenticate(state: WooState, request: Request) -> JSONResponse | None:
    """HTTP Basic ck/cs (or the ``consumer_key``/``consumer_secret`` query fallback)."""
    key, secret = (
        request.query_params.get("consumer_key"),
        request.query_params.get("consumer_secret"),
    )
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            key, _, secret = base64.b64decode(encoded).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            key = secret = None
    if not key or not hmac.compare_digest(key.encode(), state.consumer_key.encode()):
        return WooError(
            401, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources."
        ).response()
    if not hmac.compare_digest((secret or "").encode(), state.consumer_secret.encode()):
        return WooError(
            401, "woocommerce_rest_authentication_error", "Consumer secret is invalid."
        ).response()
    return None


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError as exc:
        raise WooError(400, "rest_invalid_json", "Invalid JSON body passed.") from exc
    if not isinstance(body, dict):
        raise WooError(400, "rest_invalid_json", "Invalid JSON body passed.")
    return body


def _add_product_routes(app: FastAPI, state: WooState) -> None:
    @app.get(f"{API}/products")
    def list_products(request: Request) -> JSONResponse:
        skus = set(filter(None, (request.query_params.get("sku") or "").split(",")))
        with state.lock:
            found = [
                _product_json(p)
                for p in sorted(state.products.values(), key=lambda p: -p.id)
                if not skus or p.sku in skus
            ]
        return _paged(request, found)

    @app.get(f"{API}/products/{{product_id}}/variations")
    def list_variations(product_id: int, request: Request) -> JSONResponse:
        with state.lock:
            product = _parent(state, product_id)
            found = [_variation_json(product, v) for v in product.variations.values()]
        return _paged(request, found)

    @app.post(f"{API}/products/batch")
    async def batch_products(request: Request) -> dict[str, Any]:
        body = await _json_body(request)
        with state.lock:
            return _batch(state, body, None)

    @app.post(f"{API}/products/{{product_id}}/variations/batch")
    async def batch_variations(product_id: int, request: Request) -> dict[str, Any]:
        body = await _json_body(request)
        with state.lock:
            return _batch(state, body, _parent(state, product_id))


def _parent(state: WooState, product_id: int) -> WooProduct:
    product = state.products.get(product_id)
    if product is None:
        raise WooError(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
    return product


def _add_order_routes(app: FastAPI, state: WooState, dispatcher: WebhookDispatcher) -> None:
    @app.get(f"{API}/orders")
    def list_orders(request: Request) -> JSONResponse:
        with state.lock:
            found = copy.deepcopy(_order_list(state, request))
        return _paged(request, found)

    @app.put(f"{API}/orders/{{order_id}}")
    async def update_order(order_id: int, request: Request) -> dict[str, Any]:
        body = await _json_body(request)
        with state.lock:
            order = _find_order(state, order_id)
            _update_order(state, order, body)
            answer = copy.deepcopy(order)
        dispatcher.enqueue("order.updated", order_id)
        return answer

    @app.get(f"{API}/orders/{{order_id}}/refunds")
    def list_refunds(order_id: int, request: Request) -> JSONResponse:
        with state.lock:
            _find_order(state, order_id)
            found = copy.deepcopy(state.refunds.get(order_id, []))
        return _paged(request, found)

    @app.post(f"{API}/orders/{{order_id}}/refunds", status_code=201)
    async def create_refund(order_id: int, request: Request) -> dict[str, Any]:
        body = await _json_body(request)
        with state.lock:
            refund = _create_refund(state, _find_order(state, order_id), body)
        dispatcher.enqueue("order.updated", order_id)
        return refund


def _add_sandbox_routes(app: FastAPI, state: WooState, dispatcher: WebhookDispatcher) -> None:
    @app.get("/_sandbox/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/_sandbox/shopper/orders", status_code=201)
    async def shopper_order(request: Request) -> dict[str, Any]:
        """A shopper checks out ``{"lines": [{"product_id", "variation_id", "quantity"}]}``."""
        body = await _json_body(request)
        with state.lock:
            order = _place_order(state, list(body.get("lines") or []))
            answer = copy.deepcopy(order)
        dispatcher.enqueue("order.created", order["id"])
        return answer

    @app.post("/_sandbox/faults")
    async def set_faults(request: Request) -> dict[str, Any]:
        """Replace the fault settings with ``WooFaults(**body)``."""
        body = await _json_body(request)
        try:
            faults = WooFaults(**body)
        except TypeError as exc:
            raise WooError(400, "rest_invalid_param", str(exc)) from exc
        with state.lock:
            state.faults = faults
        return body

    @app.post("/_sandbox/webhook")
    async def save_webhook(request: Request) -> dict[str, Any]:
        """Save the webhook (``delivery_url``, ``status``); like WooCommerce, ping the URL first."""
        body = await _json_body(request)
        url = str(body["delivery_url"])
        async with httpx.AsyncClient(
            follow_redirects=False, timeout=state.webhook.timeout_s
        ) as client:
            answer = await client.post(
                url, data={"webhook_id": str(state.webhook.id)}, headers={"User-Agent": USER_AGENT}
            )
        if not 200 <= answer.status_code < 303:
            raise WooError(
                400,
                "woocommerce_rest_webhook_ping_failed",
                f"Error: Delivery URL returned response code: {answer.status_code}",
            )
        with state.lock:
            state.webhook.delivery_url, state.webhook.status = (
                url,
                str(body.get("status", "active")),
            )
            state.webhook.failure_count = 0
        return {"id": state.webhook.id, "delivery_url": url, "status": state.webhook.status}
