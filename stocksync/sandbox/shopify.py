"""A Shopify Admin GraphQL emulator: inventory with compare-and-set, the cost bucket, orders,
fulfilments, refunds and signed webhooks, with faults to inject.

It follows the channel reference (section A) where a sync depends on it: ``inventorySetQuantities``
with the version switch (``compareQuantity`` up to 2025-10, ``changeFromQuantity`` from 2026-01,
mandatory from 2026-04), ``inventoryAdjustQuantities`` (deltas), all-or-nothing validation with
every userError listed, the 250-item input cap, ``@idempotent(key:)`` replay (required from
2026-04 where the reference says so), the leaky cost bucket with ``extensions.cost`` on every
answer and the THROTTLED body, and webhooks signed over the exact body bytes.

Simplified on purpose: there is no GraphQL parser. The operation is recognised by its root field,
arguments are read from ``variables`` (or a literal in the query) and answers always carry the
whole payload, whatever the selection asked for. Only the ``available`` quantity is modelled.

Cost model (the reference's A9 rules, applied the same way to every call):

* a mutation costs 10, plus 1 per quantity for ``inventorySetQuantities`` and per change for
  ``inventoryAdjustQuantities`` (one ``changes`` object each); its actual cost counts only the
  changes applied (10 when userErrors came back);
* a connection costs ``2 + first × node cost``; an inventory level costs 2 (level and item), an
  order ``1`` plus ``2 + first`` for each nested ``lineItems``/``refundLineItems`` connection;
  ``location``/``order`` add 1; ``nodes(ids:)`` costs 2 per id (at most 250 ids; a level
  with its quantities, or an item with its level at one location);
* the requested cost is reserved up front and the part not used (pages shorter than ``first``) is
  refunded; a call whose requested cost exceeds what the bucket holds gets THROTTLED, and one above
  1,000 points is refused with MAX_COST_EXCEEDED.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, fields

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from stocksync.sandbox.adversity import call_delay_s
from stocksync.sandbox.shopify_cancel import NotCancellableError, cancel_order
from stocksync.sandbox.shopify_cost import CostBucket
from stocksync.sandbox.shopify_graphql import Call, GraphQLError, user_error
from stocksync.sandbox.shopify_inventory import (
    adjust_quantities_cost,
    levels_cost,
    nodes_cost,
    resolve_adjust_quantities,
    resolve_levels,
    resolve_nodes,
    resolve_set_quantities,
    set_quantities_cost,
)
from stocksync.sandbox.shopify_orders import (
    OutOfStockError,
    order_cost,
    orders_cost,
    place_order,
    resolve_fulfill,
    resolve_order,
    resolve_orders,
    resolve_refund,
)
from stocksync.sandbox.shopify_state import (
    DEFAULT_LOCATION,
    CallRecord,
    Faults,
    InventoryItem,
    ShopifyState,
)
from stocksync.sandbox.shopify_values import Json, gid, gid_number
from stocksync.sandbox.shopify_webhooks import Delivery, WebhookSender

__all__ = [
    "DEFAULT_LOCATION",
    "CallRecord",
    "CostBucket",
    "Delivery",
    "INVENTORY_WRITES",
    "Faults",
    "NotCancellableError",
    "InventoryItem",
    "OutOfStockError",
    "ShopifyState",
    "WebhookSender",
    "cancel_order",
    "create_app",
    "execute",
    "gid",
    "gid_number",
    "place_order",
]

MAX_QUERY_COST = 1000
INVENTORY_WRITES = {"inventorySetQuantities": "quantities", "inventoryAdjustQuantities": "changes"}
"""The mutations that write quantities, and the input list each carries them in."""
IDEMPOTENT_FROM_2026_04 = frozenset({"inventoryAdjustQuantities", "refundCreate"})
"""Mutations that must carry ``@idempotent(key:)`` from API 2026-04 (the reference's list, as far
as this emulator has them)."""
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"
THROTTLE_DOCS = "https://shopify.dev/api/usage/rate-limits"


@dataclass(frozen=True, slots=True)
class _Operation:
    cost: Callable[[Call], int]
    run: Callable[[ShopifyState, Call], tuple[Json, int]]
    """Returns ``data`` and the actual cost."""
    mutation: bool = False


OPERATIONS: dict[str, _Operation] = {
    "inventorySetQuantities": _Operation(
        set_quantities_cost, resolve_set_quantities, mutation=True
    ),
    "inventoryAdjustQuantities": _Operation(
        adjust_quantities_cost, resolve_adjust_quantities, mutation=True
    ),
    "fulfillmentCreate": _Operation(lambda call: 10, resolve_fulfill, mutation=True),
    "refundCreate": _Operation(lambda call: 10, resolve_refund, mutation=True),
    "nodes": _Operation(nodes_cost, resolve_nodes),
    "location": _Operation(levels_cost, resolve_levels),
    "orders": _Operation(orders_cost, resolve_orders),
    "order": _Operation(order_cost, resolve_order),
}
_ROOT = re.compile(r"\b(" + "|".join(sorted(OPERATIONS, key=len, reverse=True)) + r")\s*\(")


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
    name, call = root.group(1), Call(version, query, variables)
    operation = OPERATIONS[name]
    requested = operation.cost(call)
    if requested > MAX_QUERY_COST:
        error = GraphQLError(
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
    state: ShopifyState, name: str, operation: _Operation, call: Call, requested: int
) -> Json:
    """Run an operation whose cost is reserved; refund what it did not use."""
    try:
        if name in IDEMPOTENT_FROM_2026_04 and call.version >= "2026-04":
            if _idempotency_key(call)[0] is None:
                raise GraphQLError(
                    f"The @idempotent directive is required for {name}.", "BAD_REQUEST"
                )
        data, actual = _replayed(state, name, call) if operation.mutation else (None, 0)
        if data is None:
            data, actual = operation.run(state, call)
            _remember(state, name, call, data)
    except GraphQLError as exc:
        state.bucket.refund(requested)
        state.calls.append(CallRecord(name, requested, 0, throttled=False))
        return {"errors": [exc.entry], "extensions": {"cost": _cost(state, requested, 0)}}
    state.bucket.refund(max(0, requested - actual))
    items = INVENTORY_WRITES.get(name)
    size = len((call.variables.get("input") or {}).get(items) or []) if items else 0
    state.calls.append(CallRecord(name, requested, actual, throttled=False, size=size))
    return {"data": data, "extensions": {"cost": _cost(state, requested, actual)}}


def _idempotency_key(call: Call) -> tuple[str | None, str]:
    """The ``@idempotent(key:)`` value and the name of its variable (if it came in one)."""
    match = re.search(r"@idempotent\s*\(\s*key\s*:\s*(\$\w+|\"[^\"]*\")\s*\)", call.query)
    if not match:
        return None, ""
    raw = match.group(1)
    if raw.startswith("$"):
        return call.variables.get(raw[1:]), raw[1:]
    return json.loads(raw), ""


def _fingerprint(name: str, call: Call, key_variable: str) -> str:
    variables = {k: v for k, v in call.variables.items() if k != key_variable}
    return name + json.dumps(variables, sort_keys=True)


def _replayed(state: ShopifyState, name: str, call: Call) -> tuple[Json | None, int]:
    """The first result for this idempotency key, or None when the key is new (or absent)."""
    key, variable = _idempotency_key(call)
    if key is None or key not in state.idempotency:
        return None, 0
    fingerprint, data = state.idempotency[key]
    if fingerprint == _fingerprint(name, call, variable):
        return data, 10
    error = user_error(["idempotencyKey"], "IDEMPOTENCY_KEY_PARAMETER_MISMATCH")
    return {name: {"userErrors": [error]}}, 10


def _remember(state: ShopifyState, name: str, call: Call, data: Json) -> None:
    key, variable = _idempotency_key(call)
    if key is not None:
        state.idempotency[key] = (_fingerprint(name, call, variable), data)


# ---------------------------------------------------------------- HTTP


def create_app(state: ShopifyState) -> Starlette:
    """The emulator as an ASGI app over ``state``; the webhook thread stops with the app."""

    async def graphql(request: Request) -> JSONResponse:
        faults = state.faults
        with state.lock:
            state.requests += 1
            delay = call_delay_s(faults.latency_ms, faults.latency_jitter_ms, state.jitter_rng)
        await asyncio.sleep(delay)
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
        with state.lock:
            lost = faults.lost_answers > 0
            faults.lost_answers -= lost
        if lost:
            return JSONResponse({"errors": "Service Unavailable"}, status_code=503)
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

    async def shopper_cancel(request: Request) -> JSONResponse:
        try:
            order = cancel_order(state, int(request.path_params["order_id"]))
        except NotCancellableError as exc:
            return JSONResponse({"errors": str(exc)}, status_code=422)
        return JSONResponse(order)

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
            Route(
                "/_sandbox/shopper/orders/{order_id:int}/cancel", shopper_cancel, methods=["POST"]
            ),
            Route("/_sandbox/faults", set_faults, methods=["POST"]),
            Route("/_sandbox/health", health, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
