"""An emulator for any custom channel, shaped entirely by its ``CustomChannelConfig``.

It serves the endpoints the config names, under the path of its ``base_url``, with the config's
field names: a batch push (capped at ``batch_size``, 413 above it; compare-and-set when the body
names an expected-quantity field; per-item ok / conflict / rejected answers; replay of a repeated
idempotency key), a paged or cursor-paged stock read, an order feed by change cursor, and
fulfillment and refund endpoints. A shopper endpoint places orders against the stock shown, and
each order event is delivered to a webhook URL, signed as the config says. Faults: latency and
its jitter, a seeded 5xx rate, forced 429s, dropped, duplicated and delayed webhooks.

Simplified: one credential, orders are never edited except by the sandbox cancel endpoint, a
refund restocks what it names without checking what was shipped, webhooks are not retried.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from fastapi import BackgroundTasks, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from stocksync.channels.custom import CustomChannelConfig, RefundConfig, build, get_field
from stocksync.domain.messages import EventKind
from stocksync.sandbox.adversity import call_delay_s
from stocksync.sandbox.custom_orders import (
    apply_refund,
    cancel_and_restock,
    find_order,
    order_feed,
    order_json,
    place_order,
)
from stocksync.sandbox.custom_state import CustomFaults, CustomListing, CustomState, SandboxError
from stocksync.sandbox.custom_stock import push_item, read_page
from stocksync.sandbox.custom_webhooks import schedule_event, topic_for

__all__ = [
    "CustomFaults",
    "CustomListing",
    "CustomState",
    "SandboxError",
    "create_app",
    "retarget",
]


def retarget(config: CustomChannelConfig, server_url: str) -> CustomChannelConfig:
    """The config pointed at ``server_url``, keeping the path of its ``base_url``."""
    return config.model_copy(update={"base_url": server_url + urlsplit(config.base_url).path})


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
            delay = call_delay_s(faults.latency_ms, faults.latency_jitter_ms, faults.jitter_rng)
            throttled = faults.throttle_next > 0
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
            answer = build({push.results.key: [push_item(state, config, i) for i in items]})
            state.replies.update({key: answer} if key else {})
        return answer

    def read_stock(request: Request) -> JSONResponse:
        with state.lock:
            body, headers = read_page(state, config, request)
        return JSONResponse(body, headers=headers)

    def list_orders(request: Request) -> Any:
        with state.lock:
            return order_feed(state, config, request.query_params.get(orders.since_param, "0"))

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
            find_order(state, request.path_params["order_id"])
            state.fulfillments.append(body)
            return build({id_field: f"F-{state.next_id()}"})

    return fulfil


def _refund_endpoint(state: CustomState, refund: RefundConfig) -> Callable[[Request], Any]:
    async def refund_order(request: Request) -> Any:
        body = await _json_body(request)
        key = request.headers.get(refund.idempotency_header or "")
        with state.lock:
            order = find_order(state, request.path_params["order_id"])
            if key and key in state.replies:
                return state.replies[key]
            apply_refund(state, refund, order, body)
            answer = build({refund.id_field: f"R-{state.next_id()}"})
            state.replies.update({key: answer} if key else {})
        return answer

    return refund_order


def _add_sandbox_routes(app: FastAPI, state: CustomState, config: CustomChannelConfig) -> None:
    @app.get("/_sandbox/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/_sandbox/shopper/orders", status_code=201)
    async def shopper_order(request: Request, tasks: BackgroundTasks) -> Any:
        """A shopper checks out ``{"lines": [{"listing_id", "quantity"}]}`` against the stock shown."""
        body = await _json_body(request)
        with state.lock:
            order = place_order(state, list(body.get("lines") or []))
            schedule_event(tasks, state, config, topic_for(config, EventKind.ORDER_CREATED), order)
            return order_json(config, order)

    @app.post("/_sandbox/orders/{order_id}/cancel")
    def cancel_order(order_id: str, tasks: BackgroundTasks) -> Any:
        with state.lock:
            order = cancel_and_restock(state, config, order_id)
            topic = topic_for(config, EventKind.ORDER_CANCELLED, EventKind.ORDER_UPDATED)
            schedule_event(tasks, state, config, topic, order)
            return order_json(config, order)

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
