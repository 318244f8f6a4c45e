"""An emulator for any custom channel, shaped entirely by its ``CustomChannelConfig``.

It serves the endpoints the config names, under the path of its ``base_url``, with the config's
field names: a batch push (capped at ``batch_size``, 413 above it; compare-and-set when the body
names an expected-quantity field; per-item ok / conflict / rejected answers; replay of a repeated
idempotency key), a paged or cursor-paged stock read, an order feed by change cursor, and
fulfillment and refund endpoints. A shopper endpoint places orders against the stock shown, and
each order event is delivered to a webhook URL, signed as the config says. Faults: latency, a
seeded 5xx rate, forced 429s, dropped and duplicated webhooks.

Simplified: one credential, orders are never edited except by the sandbox cancel endpoint, a
refund restocks what it names without checking what was shipped, webhooks are not retried.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from fastapi import BackgroundTasks, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from stocksync.channels.base import EventKind
from stocksync.channels.custom import (
    CursorPaging,
    CustomChannelConfig,
    RefundConfig,
    build,
    get_field,
    webhook_signature,
)

__all__ = [
    "CustomFaults",
    "CustomListing",
    "CustomState",
    "SandboxError",
    "create_app",
    "retarget",
]


@dataclass
class CustomListing:
    listing_id: str
    sku: str
    quantity: int


@dataclass
class CustomFaults:
    """What goes wrong, on purpose, for API calls and webhook deliveries."""

    latency_ms: int = 0
    error_rate: float = 0.0
    """Share of API calls answered 503, drawn from ``random.Random(seed)``."""
    seed: int = 0
    throttle_next: int = 0
    """The next N API calls get a 429 with ``Retry-After: 1``."""
    drop_webhooks: bool = False
    duplicate_webhooks: bool = False
    rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)


@dataclass
class CustomState:
    """Everything the emulated channel knows; every read and write holds ``lock``."""

    listings: dict[str, CustomListing] = field(default_factory=dict)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Order id → the order in a neutral shape, rendered with the config's names when served."""
    faults: CustomFaults = field(default_factory=CustomFaults)
    webhook_url: str | None = None
    order_page_size: int = 50
    calls: Counter[str] = field(default_factory=Counter)
    push_sizes: list[int] = field(default_factory=list)
    """Items carried by each push call that was applied."""
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    fulfillments: list[dict[str, Any]] = field(default_factory=list)
    refunds: list[dict[str, Any]] = field(default_factory=list)
    replies: dict[str, Any] = field(default_factory=dict)
    """Idempotency key → the answer first given for it."""
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1001))

    def add_listing(self, sku: str, quantity: int, listing_id: str | None = None) -> CustomListing:
        """Add a listing showing ``quantity``; its id defaults to ``"L-<n>"``."""
        listing = CustomListing(listing_id or f"L-{next(self._ids)}", sku, quantity)
        self.listings[listing.listing_id] = listing
        return listing

    def quantity_of(self, listing_id: str) -> int:
        with self.lock:
            return self.listings[listing_id].quantity

    def next_id(self) -> int:
        """Order numbers, change sequence numbers and event ids share one counter."""
        return next(self._ids)

    def now(self) -> str:
        return self.clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class SandboxError(Exception):
    """An error answer: ``{"error": message, ...}`` with ``status``."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.body = status, {"error": message, **extra}


def retarget(config: CustomChannelConfig, server_url: str) -> CustomChannelConfig:
    """The config pointed at ``server_url``, keeping the path of its ``base_url``."""
    return config.model_copy(update={"base_url": server_url + urlsplit(config.base_url).path})


# -- stock ---------------------------------------------------------------------------------------


def _push_item(state: CustomState, config: CustomChannelConfig, item: Any) -> dict[str, Any]:
    """Apply one pushed item and answer for it with the config's result names."""
    fields, results = config.push.body, config.push.results
    listing_id = str(get_field(item, fields.id_field))
    quantity, expected = (
        get_field(item, fields.quantity_field),
        get_field(item, fields.expected_field),
    )
    listing = state.listings.get(listing_id)

    def answer(values: tuple[str, ...], fallback: str, message: str | None) -> dict[str, Any]:
        status, shown = (values or (fallback,))[0], listing.quantity if listing else None
        return build({results.id_field: listing_id, results.status_field: status,
                      results.message_field: message, results.quantity_field: shown})  # fmt: skip

    if listing is None:
        return answer(results.rejected, "rejected", f"unknown listing {listing_id}")
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 0:
        return answer(results.rejected, "rejected", "quantity must be a whole number, 0 or more")
    if expected is not None and expected != listing.quantity:
        return answer(results.conflict, "conflict", f"expected {expected}, is {listing.quantity}")
    listing.quantity = quantity
    return answer(results.ok, "ok", None)


def _listing_json(config: CustomChannelConfig, listing: CustomListing) -> dict[str, Any]:
    read = config.read
    return build({read.id_field: listing.listing_id, read.sku_field: listing.sku,
                  read.quantity_field: listing.quantity})  # fmt: skip


def _read_page(
    state: CustomState, config: CustomChannelConfig, request: Request
) -> tuple[dict[str, Any], dict[str, str]]:
    """One page of listings and its headers, paged the way the config says."""
    paging, params = config.read.paging, request.query_params
    listings = [_listing_json(config, x) for x in state.listings.values()]
    if isinstance(paging, CursorPaging):
        start = _int(params.get(paging.cursor_param, "0"), paging.cursor_param)
        size = _int(params.get(paging.limit_param or "", str(paging.limit)), "limit")
        following = str(start + size) if start + size < len(listings) else None
        body = build({config.read.list_key: listings[start : start + size]})
        return body | build({paging.next_cursor_field: following}), {}
    page = _int(params.get(paging.page_param, "1"), paging.page_param)
    size = _int(params.get(paging.per_page_param, str(paging.per_page)), paging.per_page_param)
    pages = (len(listings) + size - 1) // size
    headers = {paging.total_pages_header: str(pages)} if paging.total_pages_header else {}
    return build({config.read.list_key: listings[(page - 1) * size : page * size]}), headers


def _int(raw: str, name: str) -> int:
    if not raw.isdigit():
        raise SandboxError(400, f"{name} must be a whole number", value=raw)
    return int(raw)


# -- orders --------------------------------------------------------------------------------------


def _place_order(state: CustomState, lines: list[Any]) -> dict[str, Any]:
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


def _cancel_order(state: CustomState, config: CustomChannelConfig, order_id: str) -> dict[str, Any]:
    """Cancel every unit still open and put it back on the shelf."""
    order = _find_order(state, order_id)
    for line in order["lines"]:
        state.listings[line["listing_id"]].quantity += line["quantity"] - line["cancelled"]
        line["cancelled"] = line["quantity"]
    order["status"] = (config.orders.cancelled_statuses or ("cancelled",))[0]
    order["updated"], order["seq"] = state.now(), state.next_id()
    return order


def _find_order(state: CustomState, order_id: str) -> dict[str, Any]:
    if order_id not in state.orders:
        raise SandboxError(404, f"unknown order {order_id}")
    return state.orders[order_id]


def _order_json(config: CustomChannelConfig, order: dict[str, Any]) -> dict[str, Any]:
    orders, line = config.orders, config.orders.line
    lines = [
        build({line.id_field: x["id"], line.sku_field: x["sku"], line.quantity_field: x["quantity"],
               line.listing_id_field: x["listing_id"], line.cancelled_field: x["cancelled"]})
        for x in order["lines"]
    ]  # fmt: skip
    return build({orders.id_field: order["id"], orders.created_field: order["created"],
                  orders.updated_field: order["updated"], orders.status_field: order["status"],
                  orders.lines_key: lines})  # fmt: skip


def _order_feed(state: CustomState, config: CustomChannelConfig, since: str) -> dict[str, Any]:
    """Orders changed after change number ``since``, oldest change first, one page."""
    after = _int(since, config.orders.since_param)
    changed = sorted((o for o in state.orders.values() if o["seq"] > after), key=lambda o: o["seq"])
    page = changed[: state.order_page_size]
    following = str(page[-1]["seq"]) if page else since
    return build({config.orders.list_key: [_order_json(config, o) for o in page],
                  config.orders.next_cursor_field: following,
                  config.orders.more_field: len(changed) > len(page)})  # fmt: skip


# -- webhooks ------------------------------------------------------------------------------------


def _topic(config: CustomChannelConfig, *kinds: EventKind) -> str:
    """The channel's topic for the first of ``kinds`` its config maps."""
    for kind in kinds:
        for topic, mapped in config.webhook.topics.items():
            if mapped is kind:
                return topic
    return str(kinds[0])


def _event(
    state: CustomState, config: CustomChannelConfig, topic: str, order: dict[str, Any]
) -> bytes:
    hook, event_id, payload = config.webhook, f"evt-{state.next_id()}", _order_json(config, order)
    event = build({hook.event_id_field: event_id, hook.topic_field: topic,
                   hook.occurred_at_field: state.now(), hook.order_field: payload})  # fmt: skip
    return json.dumps(event, separators=(",", ":")).encode()


async def _deliver(
    state: CustomState, config: CustomChannelConfig, body: bytes, copies: int
) -> None:
    """POST the signed event ``copies`` times (0: dropped); every attempt is recorded."""
    if copies == 0 or state.webhook_url is None:
        with state.lock:
            state.deliveries.append(
                {"body": body, "outcome": "dropped" if copies == 0 else "no url"}
            )
        return
    signature = webhook_signature(config.webhook, body)
    headers = {"Content-Type": "application/json", config.webhook.signature_header: signature}
    async with httpx.AsyncClient(timeout=5.0) as client:
        for _ in range(copies):
            try:
                outcome: int | str = (
                    await client.post(state.webhook_url, content=body, headers=headers)
                ).status_code
            except httpx.HTTPError as exc:
                outcome = type(exc).__name__
            with state.lock:
                state.deliveries.append({"body": body, "outcome": outcome})


def _schedule(
    tasks: BackgroundTasks, state: CustomState, config: CustomChannelConfig, topic: str,
    order: dict[str, Any],
) -> None:  # fmt: skip
    """Build the event now (holding the lock) and deliver it after the answer has gone."""
    faults = state.faults
    copies = 0 if faults.drop_webhooks else 2 if faults.duplicate_webhooks else 1
    tasks.add_task(_deliver, state, config, _event(state, config, topic, order), copies)


# -- the app -------------------------------------------------------------------------------------


def create_app(state: CustomState, config: CustomChannelConfig) -> FastAPI:
    """The emulated channel: its API under the config's base path, controls under ``/_sandbox``."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.add_exception_handler(SandboxError, _error_answer)  # type: ignore[arg-type]
    app.middleware("http")(_gatekeeper(state, config))
    _add_api_routes(app, state, config, urlsplit(config.base_url).path.rstrip("/"))
    _add_sandbox_routes(app, state, config)
    return app


async def _error_answer(_: Request, exc: SandboxError) -> JSONResponse:
    return JSONResponse(exc.body, status_code=exc.status)


def _gatekeeper(state: CustomState, config: CustomChannelConfig) -> Callable[..., Any]:
    """Middleware for API calls: count, add latency, inject faults, then check the credential."""

    async def gatekeeper(request: Request, call_next: Callable[[Request], Any]) -> Response:
        if request.url.path.startswith("/_sandbox/"):
            return await call_next(request)  # type: ignore[no-any-return]
        with state.lock:
            state.calls[f"{request.method} {request.url.path}"] += 1
            faults = state.faults
            delay, throttled = faults.latency_ms / 1000, faults.throttle_next > 0
            if throttled:
                faults.throttle_next -= 1
            failing = not throttled and faults.rng.random() < faults.error_rate
        await asyncio.sleep(delay)
        if throttled:
            return JSONResponse({"error": "rate limited"}, 429, headers={"Retry-After": "1"})
        if failing:
            return Response("<h1>503 Service Unavailable</h1>", 503, media_type="text/html")
        if request.headers.get(config.auth.header) != config.auth.value.get_secret_value():
            return JSONResponse({"error": "invalid credentials"}, 401)
        return await call_next(request)  # type: ignore[no-any-return]

    return gatekeeper


async def _json_body(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError as exc:
        raise SandboxError(400, "the body is not JSON") from exc


def _add_api_routes(
    app: FastAPI, state: CustomState, config: CustomChannelConfig, base: str
) -> None:
    push, orders = config.push, config.orders

    async def push_stock(request: Request) -> Any:
        body, key_header = await _json_body(request), push.body.idempotency_header
        items, key = get_field(body, push.body.items_key), request.headers.get(key_header or "")
        if not isinstance(items, list):
            raise SandboxError(400, f"{push.body.items_key} must be a list")
        if len(items) > push.batch_size:
            raise SandboxError(
                413, f"at most {push.batch_size} items per call", received=len(items)
            )
        with state.lock:
            if key and key in state.replies:
                return state.replies[key]
            state.push_sizes.append(len(items))
            answer = build({push.results.key: [_push_item(state, config, i) for i in items]})
            state.replies.update({key: answer} if key else {})
        return answer

    def read_stock(request: Request) -> JSONResponse:
        with state.lock:
            body, headers = _read_page(state, config, request)
        return JSONResponse(body, headers=headers)

    def list_orders(request: Request) -> Any:
        with state.lock:
            return _order_feed(state, config, request.query_params.get(orders.since_param, "0"))

    app.add_api_route(base + push.path, push_stock, methods=[push.method])
    app.add_api_route(base + config.read.path, read_stock, methods=["GET"])
    app.add_api_route(base + orders.path, list_orders, methods=["GET"])
    _add_order_call_routes(app, state, config, base)


def _add_order_call_routes(
    app: FastAPI, state: CustomState, config: CustomChannelConfig, base: str
) -> None:
    """The fulfillment and refund endpoints, where the config names them."""
    fulfillment, refund = config.fulfillment, config.refund
    if fulfillment is not None:
        fulfil = _fulfil_endpoint(state, fulfillment.id_field)
        app.add_api_route(base + fulfillment.path, fulfil, methods=[fulfillment.method])
    if refund is not None:
        refund_order = _refund_endpoint(state, refund)
        app.add_api_route(base + refund.path, refund_order, methods=[refund.method])


def _fulfil_endpoint(state: CustomState, id_field: str) -> Callable[[Request], Any]:
    async def fulfil(request: Request) -> Any:
        body = await _json_body(request)
        with state.lock:
            _find_order(state, request.path_params["order_id"])
            state.fulfillments.append(body)
            return build({id_field: f"F-{state.next_id()}"})

    return fulfil


def _refund_endpoint(state: CustomState, refund: RefundConfig) -> Callable[[Request], Any]:
    async def refund_order(request: Request) -> Any:
        body = await _json_body(request)
        key = request.headers.get(refund.idempotency_header or "")
        with state.lock:
            order = _find_order(state, request.path_params["order_id"])
            if key and key in state.replies:
                return state.replies[key]
            _refund(state, refund, order, body)
            answer = build({refund.id_field: f"R-{state.next_id()}"})
            state.replies.update({key: answer} if key else {})
        return answer

    return refund_order


def _refund(state: CustomState, refund: RefundConfig, order: dict[str, Any], body: Any) -> None:
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


def _add_sandbox_routes(app: FastAPI, state: CustomState, config: CustomChannelConfig) -> None:
    @app.get("/_sandbox/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/_sandbox/shopper/orders", status_code=201)
    async def shopper_order(request: Request, tasks: BackgroundTasks) -> Any:
        """A shopper checks out ``{"lines": [{"listing_id", "quantity"}]}`` against the stock shown."""
        body = await _json_body(request)
        with state.lock:
            order = _place_order(state, list(body.get("lines") or []))
            _schedule(tasks, state, config, _topic(config, EventKind.ORDER_CREATED), order)
            return _order_json(config, order)

    @app.post("/_sandbox/orders/{order_id}/cancel")
    def cancel_order(order_id: str, tasks: BackgroundTasks) -> Any:
        with state.lock:
            order = _cancel_order(state, config, order_id)
            topic = _topic(config, EventKind.ORDER_CANCELLED, EventKind.ORDER_UPDATED)
            _schedule(tasks, state, config, topic, order)
            return _order_json(config, order)

    @app.post("/_sandbox/faults")
    async def set_faults(request: Request) -> Any:
        """Replace the fault settings with ``CustomFaults(**body)``."""
        body = await _json_body(request)
        try:
            faults = CustomFaults(**body)
        except TypeError as exc:
            raise SandboxError(400, str(exc)) from exc
        with state.lock:
            state.faults = faults
        return body

    @app.post("/_sandbox/webhook")
    async def set_webhook(request: Request) -> Any:
        """Deliver order events to ``{"url": ...}`` from now on."""
        body = await _json_body(request)
        with state.lock:
            state.webhook_url = str(body["url"])
        return body
