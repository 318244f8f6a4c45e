"""The routes of the Amazon emulator: LWA, the gate every SP-API call passes, Listings, Orders.

The gate counts the call, adds latency (and its jitter), checks the LWA access token, injects
5xx faults, spends a token from the operation's bucket (429 ``QuotaExceeded`` when empty) and
stamps ``x-amzn-RequestId`` and ``x-amzn-RateLimit-Limit`` on the answer.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from stocksync.sandbox.adversity import call_delay_s
from stocksync.sandbox.amazon import (
    AmazonError,
    AmazonFaults,
    AmazonState,
    NotificationTarget,
    TokenBucket,
    issue,
    patched_quantity,
)
from stocksync.sandbox.amazon_feeds import FEED_OPERATIONS, add_feed_routes
from stocksync.sandbox.amazon_notifications import NotificationDispatcher
from stocksync.sandbox.amazon_orders import (
    cancel_order,
    confirm_shipment,
    find_order,
    order_change_notification,
    page_of_orders,
    place_order,
)

__all__ = ["build_app", "operation_of"]

LISTING = r"/listings/2021-08-01/items/[^/]+/[^/]+"
OPERATIONS: list[tuple[str, re.Pattern[str], str]] = [
    ("GET", re.compile(LISTING), "getListingsItem"),
    ("PATCH", re.compile(LISTING), "patchListingsItem"),
    ("GET", re.compile(r"/orders/v0/orders"), "getOrders"),
    ("GET", re.compile(r"/orders/v0/orders/[^/]+/orderItems"), "getOrderItems"),
    ("POST", re.compile(r"/orders/v0/orders/[^/]+/shipmentConfirmation"), "confirmShipment"),
    *FEED_OPERATIONS,
]


def operation_of(method: str, path: str) -> str | None:
    """The SP-API operation a request is for, or None."""
    return next((op for m, rx, op in OPERATIONS if m == method and rx.fullmatch(path)), None)


def build_app(state: AmazonState) -> FastAPI:
    """The emulated SP-API host with LWA under ``/auth/o2/token`` and controls under ``/_sandbox``."""
    dispatcher = NotificationDispatcher(state)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        dispatcher.start()
        yield
        await asyncio.to_thread(dispatcher.stop)

    app = FastAPI(lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None)
    app.add_exception_handler(AmazonError, _amazon_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _no_route)  # type: ignore[arg-type]
    app.middleware("http")(_gate(state))
    _add_lwa_route(app, state)
    _add_listing_routes(app, state)
    _add_order_routes(app, state, dispatcher)
    add_feed_routes(app, state)
    _add_sandbox_routes(app, state, dispatcher)
    return app


async def _amazon_error(_: Request, exc: AmazonError) -> JSONResponse:
    return exc.response()


async def _no_route(_: Request, exc: StarletteHTTPException) -> JSONResponse:
    return AmazonError(exc.status_code, "NotFound", "Resource not found.").response()


# -- the gate ------------------------------------------------------------------------------------


def _gate(state: AmazonState) -> Callable[..., Any]:
    async def gate(request: Request, call_next: Callable[[Request], Any]) -> Response:
        operation = operation_of(request.method, request.url.path)
        if operation is None:
            return await call_next(request)  # type: ignore[no-any-return]
        with state.lock:
            state.calls[operation] += 1
            request_id = state.uuid()
            faults = state.faults
            delay = call_delay_s(faults.latency_ms, faults.latency_jitter_ms, faults.jitter_rng)
        if delay:
            await asyncio.sleep(delay)
        rate = state.rate_plans[operation][0]
        headers = {"x-amzn-RequestId": request_id, "x-amzn-RateLimit-Limit": f"{rate:g}"}
        with state.lock:
            refused = _check_token(state, request) or _spend(state, operation)
            state.settle()
        if refused is not None:
            return refused.response(headers)
        response: Response = await call_next(request)
        response.headers.update(headers)
        return response

    return gate


def _check_token(state: AmazonState, request: Request) -> AmazonError | None:
    """403 ``Unauthorized`` for a missing, unknown or expired ``x-amz-access-token``."""
    expires = state.tokens.get(request.headers.get("x-amz-access-token", ""))
    if expires is None:
        details = "The access token you provided is revoked, malformed or invalid."
    elif expires <= state.clock():
        details = "The access token you provided has expired."
    else:
        return None
    return AmazonError(403, "Unauthorized", "Access to requested resource is denied.", details)


def _spend(state: AmazonState, operation: str) -> AmazonError | None:
    """Forced 429s first, then the seeded 5xx rate, then the operation's bucket: a service that
    is down (``error_rate`` 1) answers 503 to every call and spends no tokens."""
    faults = state.faults
    bucket = state.buckets.get(operation)
    if bucket is None:
        bucket = state.buckets[operation] = TokenBucket(
            *state.rate_plans[operation], state.monotonic()
        )
    forced = faults.throttle_next > 0
    faults.throttle_next -= int(forced)
    if not forced and faults.rng.random() < faults.error_rate:
        return AmazonError(503, "ServiceUnavailable", "Service temporarily unavailable.")
    if forced or not bucket.take(state.monotonic()):
        state.throttled[operation] += 1
        message = "You exceeded your quota for the requested resource."
        return AmazonError(429, "QuotaExceeded", message)
    return None


# -- LWA -----------------------------------------------------------------------------------------


def _add_lwa_route(app: FastAPI, state: AmazonState) -> None:
    @app.post("/auth/o2/token")
    async def token(request: Request) -> JSONResponse:
        """Login with Amazon: exchange the refresh token for an access token (form or JSON)."""
        raw = await request.body()
        if request.headers.get("content-type", "").startswith("application/json"):
            fields = {k: str(v) for k, v in json.loads(raw or b"{}").items()}
        else:
            fields = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        return _grant(state, fields)


def _grant(state: AmazonState, fields: Mapping[str, str]) -> JSONResponse:
    def oauth_error(status: int, error: str, description: str) -> JSONResponse:
        return JSONResponse({"error": error, "error_description": description}, status)

    if fields.get("grant_type") != "refresh_token":
        return oauth_error(400, "unsupported_grant_type", "Only refresh_token is emulated.")
    if (
        fields.get("client_id") != state.client_id
        or fields.get("client_secret") != state.client_secret
    ):
        return oauth_error(401, "invalid_client", "Client authentication failed")
    if fields.get("refresh_token") != state.refresh_token:
        return oauth_error(
            400, "invalid_grant", "The request has an invalid grant parameter : refresh_token"
        )
    with state.lock:
        access_token, lifetime = state.issue_token()
    return JSONResponse(
        {
            "access_token": access_token,
            "refresh_token": state.refresh_token,
            "token_type": "bearer",
            "expires_in": lifetime,
        }  # fmt: skip
    )


# -- Listings Items 2021-08-01 -------------------------------------------------------------------


def _marketplace(state: AmazonState, request: Request, seller_id: str) -> None:
    if seller_id != state.seller_id:
        raise AmazonError(403, "Unauthorized", "Access to requested resource is denied.")
    if state.marketplace_id not in (request.query_params.get("marketplaceIds") or "").split(","):
        raise AmazonError(400, "InvalidInput", "marketplaceIds must name the seller's marketplace.")


def _add_listing_routes(app: FastAPI, state: AmazonState) -> None:
    @app.get("/listings/2021-08-01/items/{seller_id}/{sku}")
    def get_listings_item(seller_id: str, sku: str, request: Request) -> dict[str, Any]:
        _marketplace(state, request, seller_id)
        included = (request.query_params.get("includedData") or "summaries").split(",")
        with state.lock:
            listing = state.listings.get(sku)
            if listing is None:
                raise AmazonError(
                    404, "NotFound", f"SKU '{sku}' not found in marketplace {state.marketplace_id}"
                )
            return _listing_json(state, listing.sku, listing.quantity, listing.asin, included)

    @app.patch("/listings/2021-08-01/items/{seller_id}/{sku}")
    async def patch_listings_item(seller_id: str, sku: str, request: Request) -> dict[str, Any]:
        _marketplace(state, request, seller_id)
        body = await _json_body(request)
        preview = request.query_params.get("mode") == "VALIDATION_PREVIEW"
        with state.lock:
            return _patch(state, sku, body, preview)


def _listing_json(
    state: AmazonState, sku: str, quantity: int, asin: str, included: list[str]
) -> dict[str, Any]:
    answer: dict[str, Any] = {"sku": sku}
    if "summaries" in included:
        answer["summaries"] = [
            {
                "marketplaceId": state.marketplace_id,
                "asin": asin,
                "productType": "PRODUCT",
                "conditionType": "new_new",
                "status": ["BUYABLE", "DISCOVERABLE"],
                "itemName": sku,
            }  # fmt: skip
        ]
    if "fulfillmentAvailability" in included:
        answer["fulfillmentAvailability"] = [
            {"fulfillmentChannelCode": "DEFAULT", "quantity": quantity}
        ]
    if "issues" in included:
        answer["issues"] = []
    return answer


def _patch(state: AmazonState, sku: str, body: Mapping[str, Any], preview: bool) -> dict[str, Any]:
    """Validate the JSON Patch; ``ACCEPTED`` queues the quantity to go live after the delay."""
    patches = body.get("patches")
    if not body.get("productType") or not isinstance(patches, list) or not patches:
        raise AmazonError(400, "InvalidInput", "productType and patches are required.")
    issues = (
        [] if sku in state.listings else [issue("NOT_FOUND", f"SKU '{sku}' does not exist.", [])]
    )
    quantity = None
    for patch in patches if not issues else []:
        found, problem = patched_quantity(patch)
        quantity = found if found is not None else quantity
        issues.extend([problem] if problem else [])
    answer = {"sku": sku, "submissionId": state.uuid().replace("-", ""), "issues": issues}
    if issues:
        return {**answer, "status": "INVALID"}
    if preview:
        return {**answer, "status": "VALID"}
    if quantity is not None:
        due = state.clock() + timedelta(seconds=state.apply_delay_s)
        state.listings[sku].pending.append((due, quantity))
    return {**answer, "status": "ACCEPTED"}


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError as exc:
        raise AmazonError(400, "InvalidInput", "The request body is not valid JSON.") from exc
    if not isinstance(body, dict):
        raise AmazonError(400, "InvalidInput", "The request body must be a JSON object.")
    return body


# -- Orders v0 -----------------------------------------------------------------------------------


def _add_order_routes(app: FastAPI, state: AmazonState, dispatcher: NotificationDispatcher) -> None:
    @app.get("/orders/v0/orders")
    def get_orders(request: Request) -> dict[str, Any]:
        params = {k: ",".join(request.query_params.getlist(k)) for k in request.query_params}
        with state.lock:
            return page_of_orders(state, params)

    @app.get("/orders/v0/orders/{order_id}/orderItems")
    def get_order_items(order_id: str) -> dict[str, Any]:
        with state.lock:
            find_order(state, order_id)
            items = copy.deepcopy(state.order_items[order_id])
        return {"payload": {"AmazonOrderId": order_id, "OrderItems": items}}

    @app.post("/orders/v0/orders/{order_id}/shipmentConfirmation", status_code=204)
    async def shipment_confirmation(order_id: str, request: Request) -> Response:
        body = await _json_body(request)
        with state.lock:
            confirm_shipment(state, order_id, body)
            notification = order_change_notification(state, order_id, "Order Shipped")
        dispatcher.enqueue(notification)
        return Response(status_code=204)


# -- sandbox controls ----------------------------------------------------------------------------


def _add_sandbox_routes(
    app: FastAPI, state: AmazonState, dispatcher: NotificationDispatcher
) -> None:
    @app.get("/_sandbox/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/_sandbox/shopper/orders", status_code=201)
    async def shopper_order(request: Request) -> dict[str, Any]:
        """A shopper buys ``{"lines": [{"sku", "quantity"}], "status"?: "Pending"|"Unshipped"}``."""
        body = await _json_body(request)
        with state.lock:
            order = place_order(
                state, list(body.get("lines") or []), body.get("status", "Unshipped")
            )
            order_id = order["AmazonOrderId"]
            answer = {
                **copy.deepcopy(order),
                "OrderItems": copy.deepcopy(state.order_items[order_id]),
            }
            notification = order_change_notification(state, order_id, "Order Placed")
        dispatcher.enqueue(notification)
        return answer

    @app.post("/_sandbox/shopper/orders/{order_id}/cancel")
    def shopper_cancel(order_id: str) -> dict[str, Any]:
        with state.lock:
            order = copy.deepcopy(cancel_order(state, order_id))
            notification = order_change_notification(state, order_id, "Buyer Requested Cancel")
        dispatcher.enqueue(notification)
        return order

    @app.post("/_sandbox/faults")
    async def set_faults(request: Request) -> dict[str, Any]:
        """Replace the fault settings with ``AmazonFaults(**body)``."""
        body = await _json_body(request)
        try:
            faults = AmazonFaults(**body)
        except TypeError as exc:
            raise AmazonError(400, "InvalidInput", str(exc)) from exc
        with state.lock:
            state.faults = faults
        return body

    @app.post("/_sandbox/notifications")
    async def set_notifications(request: Request) -> dict[str, Any]:
        """Send ORDER_CHANGE messages to ``NotificationTarget(**body)``."""
        body = await _json_body(request)
        try:
            target = NotificationTarget(**body)
        except TypeError as exc:
            raise AmazonError(400, "InvalidInput", str(exc)) from exc
        with state.lock:
            state.notifications = target
        return {"url": target.url, "form": target.form}
