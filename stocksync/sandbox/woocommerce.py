"""A WooCommerce REST API v3 emulator (reference: channel-apis.md section C), as an ASGI app.

Faithful where a sync can trip: Basic auth with consumer key/secret, ``per_page`` capped at 100 with
``X-WP-Total``/``X-WP-TotalPages``, ``include=`` id lists on products and variations, batch
updates capped at 100 objects (413) with per-item errors inside a 200, ``stock_quantity`` as an
absolute overwrite (last write wins), ``modified_after`` strictly after, refunds that restock only
with ``api_restock``, and webhooks delivered in the background without retries, signed over the
exact body bytes, disabled after the 7th failure in a row, with a Delivery-ID that collides within
one second. Host-level faults (latency and its jitter, 429, 5xx) and webhook faults (drop,
duplicate, reorder, delay) are injected per ``WooFaults``.

Simplified: one webhook subscribed to every topic it fires (``order.created`` for shopper orders,
``order.updated`` for API updates and refunds; no ``product.*`` echoes), site time zone UTC, prices
without tax, batch ``create``/``delete`` answered with per-item errors, no ``Link`` header.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import hmac
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from stocksync.sandbox.adversity import call_delay_s
from stocksync.sandbox.woocommerce_orders import (
    add_refund,
    apply_order_update,
    find_order,
    order_list,
    place_order,
)
from stocksync.sandbox.woocommerce_products import answer_batch, product_json, variation_json
from stocksync.sandbox.woocommerce_state import (
    WooError,
    WooFaults,
    WooProduct,
    WooState,
    WooVariation,
    WooWebhook,
)
from stocksync.sandbox.woocommerce_webhooks import (
    USER_AGENT,
    WebhookDispatcher,
)
from stocksync.sandbox.woocommerce_webhooks import (
    webhook_signature as webhook_signature,
)

__all__ = [
    "WooFaults",
    "WooProduct",
    "WooState",
    "WooVariation",
    "WooWebhook",
    "create_app",
]

API = "/wp-json/wc/v3"
MAX_PER_PAGE = 100
CANCELLABLE = frozenset({"pending", "processing", "on-hold"})
"""Statuses a customer's cancel applies to: paid or awaiting payment, not yet shipped."""


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
            delay = call_delay_s(faults.latency_ms, faults.latency_jitter_ms, faults.jitter_rng)
            throttled = faults.throttle_next > 0
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


def _included(request: Request) -> set[int] | None:
    """The ``include`` ids (``include=1,2`` or ``include[]=1&include[]=2``), None when absent."""
    raw = request.query_params.getlist("include") + request.query_params.getlist("include[]")
    if not raw:
        return None
    parts = [part.strip() for value in raw for part in value.split(",") if part.strip()]
    if not all(part.isdigit() for part in parts):
        raise WooError(
            400, "rest_invalid_param", "Invalid parameter(s): include",
            params={"include": "include[0] is not of type integer."},
        )  # fmt: skip
    return {int(part) for part in parts}


def _add_product_routes(app: FastAPI, state: WooState) -> None:
    @app.get(f"{API}/products")
    def list_products(request: Request) -> JSONResponse:
        skus = set(filter(None, (request.query_params.get("sku") or "").split(",")))
        include = _included(request)
        with state.lock:
            found = [
                product_json(p)
                for p in sorted(state.products.values(), key=lambda p: -p.id)
                if (not skus or p.sku in skus) and (include is None or p.id in include)
            ]
        return _paged(request, found)

    @app.get(f"{API}/products/{{product_id}}/variations")
    def list_variations(product_id: int, request: Request) -> JSONResponse:
        include = _included(request)
        with state.lock:
            product = _parent(state, product_id)
            found = [
                variation_json(product, v)
                for v in product.variations.values()
                if include is None or v.id in include
            ]
        return _paged(request, found)

    @app.post(f"{API}/products/batch")
    async def batch_products(request: Request) -> dict[str, Any]:
        body = await _json_body(request)
        with state.lock:
            return answer_batch(state, body, None)

    @app.post(f"{API}/products/{{product_id}}/variations/batch")
    async def batch_variations(product_id: int, request: Request) -> dict[str, Any]:
        body = await _json_body(request)
        with state.lock:
            return answer_batch(state, body, _parent(state, product_id))


def _parent(state: WooState, product_id: int) -> WooProduct:
    product = state.products.get(product_id)
    if product is None:
        raise WooError(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
    return product


def _add_order_routes(app: FastAPI, state: WooState, dispatcher: WebhookDispatcher) -> None:
    @app.get(f"{API}/orders")
    def list_orders(request: Request) -> JSONResponse:
        with state.lock:
            found = copy.deepcopy(order_list(state, request))
        return _paged(request, found)

    @app.put(f"{API}/orders/{{order_id}}")
    async def update_order(order_id: int, request: Request) -> dict[str, Any]:
        body = await _json_body(request)
        with state.lock:
            order = find_order(state, order_id)
            apply_order_update(state, order, body)
            answer = copy.deepcopy(order)
        dispatcher.enqueue("order.updated", order_id)
        return answer

    @app.get(f"{API}/orders/{{order_id}}/refunds")
    def list_refunds(order_id: int, request: Request) -> JSONResponse:
        with state.lock:
            find_order(state, order_id)
            found = copy.deepcopy(state.refunds.get(order_id, []))
        return _paged(request, found)

    @app.post(f"{API}/orders/{{order_id}}/refunds", status_code=201)
    async def create_refund(order_id: int, request: Request) -> dict[str, Any]:
        body = await _json_body(request)
        with state.lock:
            refund = add_refund(state, find_order(state, order_id), body)
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
            order = place_order(state, list(body.get("lines") or []))
            answer = copy.deepcopy(order)
        dispatcher.enqueue("order.created", order["id"])
        return answer

    @app.post("/_sandbox/shopper/orders/{order_id}/cancel")
    def shopper_cancel(order_id: int) -> dict[str, Any]:
        """The customer cancels an order not yet completed: its reduced stock goes back, as
        WooCommerce restores it on ``cancelled``, and ``order.updated`` announces it."""
        with state.lock:
            order = find_order(state, order_id)
            if order["status"] not in CANCELLABLE:
                raise WooError(
                    400, "woocommerce_rest_invalid_order_status",
                    f"An order that is {order['status']} cannot be cancelled.",
                )  # fmt: skip
            apply_order_update(state, order, {"status": "cancelled"})
            answer = copy.deepcopy(order)
        dispatcher.enqueue("order.updated", order_id)
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
