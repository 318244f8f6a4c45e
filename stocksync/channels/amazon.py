"""Amazon over the Selling Partner API: LWA access tokens, paced per-operation calls, JSON over httpx.

A listing id is the seller SKU: Amazon keys a merchant offer by SKU, so ``listing_id`` and ``sku``
are the same string. Amazon has no compare-and-set: ``patchListingsItem`` overwrites the quantity
(last write wins), and ``ACCEPTED`` means queued, not live. The connector reports ``APPLIED`` for
an accepted patch; the quantity reaches shoppers minutes later, so a sale in between can still use
the old count and the next reconcile corrects it.

Every operation has its own token bucket mirroring Amazon's usage plan (rate and burst from the
reference, lowered to whatever ``x-amzn-RateLimit-Limit`` reports). Calls wait for a token instead
of failing; a 429 empties the bucket and the call is retried after one refill interval (or
``Retry-After``), up to ``max_throttle_retries`` times. Only then, or when the wait would exceed
``max_wait_s``, does the caller see ``RETRY_LATER`` / ``TransientChannelError``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx

from stocksync.channels.amazon_feeds import push_by_feed, read_all_quantities
from stocksync.channels.amazon_parsing import (
    build_event,
    notification_of,
    parse_order,
    push_result,
)
from stocksync.channels.base import (
    Fulfillment,
    ListingIdentity,
    OrderPage,
    PushResult,
    PushStatus,
    QuantityPush,
    Refund,
)
from stocksync.channels.errors import (
    ChannelAuthError,
    ChannelRejectedError,
    SignatureError,
    TransientChannelError,
)
from stocksync.channels.http import response_body
from stocksync.domain.messages import ChannelOrder, ChannelQuantity, InboundEvent

__all__ = ["RATE_PLANS", "SECRET_HEADER", "AmazonConfig", "AmazonConnector", "Pacer"]

RATE_PLANS: dict[str, tuple[float, int]] = {
    "getListingsItem": (5.0, 10),
    "patchListingsItem": (5.0, 5),
    "getOrders": (0.0167, 20),
    "getOrderItems": (0.5, 30),
    "confirmShipment": (2.0, 10),
    "createFeedDocument": (0.5, 15),
    "createFeed": (0.0083, 15),
    "getFeed": (2.0, 15),
    "getFeedDocument": (0.0222, 10),
    "createReport": (0.0167, 15),
    "getReport": (2.0, 15),
    "getReportDocument": (0.0167, 15),
}
"""Amazon's default usage plans: operation → (requests per second, burst)."""

SECRET_HEADER = "X-Stocksync-Relay-Secret"
"""The header our SQS/EventBridge relay adds; Amazon itself signs nothing."""
LISTINGS = "/listings/2021-08-01/items"
PATCH = "patchListingsItem"
TOKEN_MARGIN_S = 60.0
"""Refresh the access token this long before it expires."""


@dataclass(frozen=True, slots=True)
class AmazonConfig:
    """How to reach one Amazon seller account in one marketplace; secrets stay out of ``repr``."""

    name: str
    endpoint: str
    """The regional SP-API host, e.g. ``https://sellingpartnerapi-eu.amazon.com``."""
    token_url: str
    """Login with Amazon, ``https://api.amazon.com/auth/o2/token``."""
    client_id: str
    client_secret: str = field(repr=False)
    refresh_token: str = field(repr=False)
    seller_id: str = ""
    marketplace_id: str = ""
    notification_secret: str = field(default="", repr=False)
    """The shared secret the notification relay sends in ``X-Stocksync-Relay-Secret``."""
    timeout_s: float = 30.0
    rate_plans: Mapping[str, tuple[float, int]] = field(default_factory=dict)
    """Overrides of ``RATE_PLANS`` for accounts Amazon granted a higher usage plan."""
    max_throttle_retries: int = 5
    max_wait_s: float = 30.0
    """Longest wait for a token before giving up with RETRY_LATER / TransientChannelError."""
    orders_page_size: int = 100
    orders_start: str = "2000-01-01T00:00:00Z"
    """Where ``orders_since(None)`` starts (Amazon returns about two years at most)."""
    feed_threshold: int = 1500
    """From this many pushes in one call, send a JSON_LISTINGS_FEED (Amazon's suggestion)."""
    feed_poll_s: float = 30.0
    """The longest wait between two polls of a feed or report."""
    feed_first_poll_s: float = 0.1
    """The first wait; each later one is an eighth of the time waited so far, up to
    ``feed_poll_s``, so a poll lands soon after a quick job ends and a slow one is not hammered."""
    feed_timeout_s: float = 1800.0
    """How long to wait for a feed or report before answering RETRY_LATER / transient."""


class Pacer:
    """One token bucket per operation, consumed by sleeping until a token is there."""

    def __init__(
        self,
        plans: Mapping[str, tuple[float, int]],
        clock: Callable[[], float],
        sleep: Callable[[float], None],
    ) -> None:
        self._plans = dict(plans)
        self._clock, self._sleep = clock, sleep
        self._state: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def _level(self, operation: str) -> tuple[float, float, float]:
        """(tokens now, refill rate, now); the caller holds the lock."""
        rate, burst = self._plans[operation]
        tokens, stamp = self._state.get(operation, (float(burst), self._clock()))
        now = self._clock()
        return min(burst, tokens + (now - stamp) * rate), rate, now

    def tokens(self, operation: str) -> float:
        """Calls that could go out now without waiting (fractions: part of the next one)."""
        with self._lock:
            return self._level(operation)[0]

    def until_token(self, operation: str) -> float:
        """Seconds until a call could go out without waiting (0: now)."""
        with self._lock:
            tokens, rate, _ = self._level(operation)
            return 0.0 if tokens >= 1 else (1 - tokens) / rate

    def wait(self, operation: str, max_wait_s: float) -> float | None:
        """Take a token, sleeping for it; returns the wait it would need if above ``max_wait_s``."""
        with self._lock:
            tokens, rate, now = self._level(operation)
            needed = 0.0 if tokens >= 1 else (1 - tokens) / rate
            if needed > max_wait_s:
                self._state[operation] = (tokens, now)
                return needed
            self._state[operation] = (tokens + needed * rate - 1, now + needed)
        if needed:
            self._sleep(needed)
        return None

    def throttled(self, operation: str) -> float:
        """Amazon said 429: empty the bucket; returns the seconds until the next token."""
        with self._lock:
            self._state[operation] = (0.0, self._clock())
            return 1 / self._plans[operation][0]

    def observe(self, operation: str, header: str | None) -> None:
        """Adopt the rate Amazon applied (``x-amzn-RateLimit-Limit``) when it is lower than ours."""
        try:
            rate = float(header) if header else 0.0
        except ValueError:
            return
        with self._lock:
            current, burst = self._plans[operation]
            if 0 < rate < current:
                self._plans[operation] = (rate, burst)


class AmazonConnector:
    """``ChannelConnector`` for one Amazon seller account and marketplace.

    ``push_quantities`` sends one ``patchListingsItem`` per SKU, paced by the bucket, or one
    ``JSON_LISTINGS_FEED`` from ``feed_threshold`` pushes up (at most ``max_batch``, the feed's
    25,000 messages). A SKU that stays throttled or meets a 5xx comes back ``RETRY_LATER``, an
    ``INVALID`` submission ``REJECTED`` with Amazon's issue messages. Credentials Amazon refuses raise
    ``ChannelAuthError`` (after one token refresh).
    """

    compare_and_set = False
    max_batch = 25_000
    applies_late = True
    """A patch is ACCEPTED and applied later (minutes, on the real channel)."""

    def __init__(
        self,
        config: AmazonConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.name = config.name
        self.config = config
        self.throttle_retries = 0
        """429s this connector recovered from by waiting (for tests and metrics)."""
        self._clock, self._sleep = clock, sleep
        self._pacer = Pacer({**RATE_PLANS, **config.rate_plans}, clock, sleep)
        self._token: tuple[str, float] | None = None
        self._token_lock = threading.Lock()
        self._client = httpx.Client(
            base_url=config.endpoint.rstrip("/"), timeout=config.timeout_s, transport=transport,
            headers={"Accept": "application/json", "User-Agent": "stocksync/0.1 (Language=Python)"},
        )  # fmt: skip

    def close(self) -> None:
        self._client.close()

    # LWA

    def _access_token(self) -> str:
        """The cached LWA access token, refreshed a minute before it expires."""
        with self._token_lock:
            if self._token is None or self._clock() >= self._token[1] - TOKEN_MARGIN_S:
                self._token = self._refresh()
            return self._token[0]

    def _refresh(self) -> tuple[str, float]:
        cfg = self.config
        form = {"grant_type": "refresh_token", "refresh_token": cfg.refresh_token,
                "client_id": cfg.client_id, "client_secret": cfg.client_secret}  # fmt: skip
        try:
            answer = self._client.post(cfg.token_url, data=form)
        except httpx.TransportError as exc:
            raise TransientChannelError(self.name, f"LWA token: {type(exc).__name__}") from exc
        body = response_body(answer)
        if answer.status_code >= 500:
            raise TransientChannelError(
                self.name, "LWA token endpoint failed", status=answer.status_code, body=body
            )
        if answer.status_code != 200 or not isinstance(body, dict) or "access_token" not in body:
            error = body.get("error") if isinstance(body, dict) else None
            raise ChannelAuthError(
                self.name,
                f"LWA refused the refresh token: {error}",
                status=answer.status_code,
                body=body,
            )
        return str(body["access_token"]), self._clock() + float(body.get("expires_in", 3600))

    # HTTP

    def _call(self, operation: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One SP-API call: paced, refreshed once on 403 Unauthorized, retried on 429."""
        refreshed, throttles = False, 0
        while True:
            needed = self._pacer.wait(operation, self.config.max_wait_s)
            if needed is not None:
                raise TransientChannelError(
                    self.name,
                    f"{operation}: quota needs {needed:.1f}s",
                    retry_after=needed,
                    status=429,
                )
            headers = {"x-amz-access-token": self._access_token()}
            try:
                response = self._client.request(method, path, headers=headers, **kwargs)
            except httpx.TransportError as exc:
                raise TransientChannelError(
                    self.name, f"{method} {path}: {type(exc).__name__}: {exc}"
                ) from exc
            self._pacer.observe(operation, response.headers.get("x-amzn-ratelimit-limit"))
            if (
                response.status_code == 403
                and not refreshed
                and _error_code(response) == "Unauthorized"
            ):
                refreshed, self._token = True, None
                continue
            if response.status_code == 429 and throttles < self.config.max_throttle_retries:
                throttles += 1
                self._wait_after_throttle(operation, response)
                continue
            _raise_for_status(self.name, operation, response)
            return response

    def _wait_after_throttle(self, operation: str, response: httpx.Response) -> None:
        interval = self._pacer.throttled(operation)
        retry_after = _float(response.headers.get("retry-after"))
        self.throttle_retries += 1
        self._sleep(min(self.config.max_wait_s, max(interval, retry_after or 0.0)))

    def _json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            raise TransientChannelError(
                self.name, "Amazon answered without JSON", body=response.text
            ) from exc

    # quantities

    def push_quantities(self, pushes: Sequence[QuantityPush]) -> list[PushResult]:
        """Set each SKU's DEFAULT (merchant) quantity; results come back in the order given."""
        if len(pushes) >= self.config.feed_threshold:
            return [
                result
                for start in range(0, len(pushes), self.max_batch)
                for result in push_by_feed(self, pushes[start : start + self.max_batch])
            ]
        return [self._push_one(push) for push in pushes]

    def batch_size(self, backlog: int) -> int:
        """How many of ``backlog`` due pushes the drain should hand over in one call.

        A backlog that earns a feed goes whole; otherwise as many patches as the bucket holds
        now (at least one), so what the drain claims goes out at once, with the quantities of
        the moment, instead of waiting in a batch for tokens while newer sales arrive.
        """
        if backlog >= self.config.feed_threshold:
            return self.max_batch
        return max(1, int(self._pacer.tokens(PATCH)))

    def await_capacity(self, max_wait_s: float) -> None:
        """Sleep until a quantity patch could go out at once (at most ``max_wait_s``): the drain
        calls this before it claims, so it claims the newest quantities just in time."""
        wait = min(max_wait_s, self._pacer.until_token(PATCH))
        if wait > 0:
            self._sleep(wait)

    def _push_one(self, push: QuantityPush) -> PushResult:
        sku = push.sku or push.listing_id
        body = {"productType": "PRODUCT", "patches": [{
            "op": "replace", "path": "/attributes/fulfillment_availability",
            "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": push.quantity}],
        }]}  # fmt: skip
        try:
            answer = self._json(self._call(
                PATCH, "PATCH", self._listing_path(sku),
                params={"marketplaceIds": self.config.marketplace_id, "includedData": "issues"}, json=body,
            ))  # fmt: skip
        except TransientChannelError as exc:
            return PushResult(
                push.listing_id,
                PushStatus.RETRY_LATER,
                message=str(exc),
                retry_after=exc.retry_after,
            )
        except ChannelRejectedError as exc:
            return PushResult(push.listing_id, PushStatus.REJECTED, message=str(exc))
        return push_result(push.listing_id, answer)

    def _listing_path(self, sku: str) -> str:
        return f"{LISTINGS}/{quote(self.config.seller_id, safe='')}/{quote(sku, safe='')}"

    def read_quantities(self, listing_ids: Sequence[str] | None = None) -> list[ChannelQuantity]:
        """What shoppers see now; per SKU with ``getListingsItem``, or the whole catalogue by report."""
        if listing_ids is None:
            return read_all_quantities(self)
        found: list[ChannelQuantity] = []
        for sku in listing_ids:
            try:
                answer = self._json(self._call(
                    "getListingsItem", "GET", self._listing_path(sku),
                    params={"marketplaceIds": self.config.marketplace_id, "includedData": "fulfillmentAvailability"},
                ))  # fmt: skip
            except ChannelRejectedError as exc:
                if exc.status == 404:
                    continue
                raise
            default = [
                a
                for a in answer.get("fulfillmentAvailability") or []
                if a.get("fulfillmentChannelCode") == "DEFAULT"
            ]
            if default and default[0].get("quantity") is not None:
                found.append(ChannelQuantity(sku, sku, int(default[0]["quantity"])))
        return found

    def identify(self, listings: Sequence[tuple[str, Mapping[str, str]]]) -> list[ListingIdentity]:
        """Whether the marketplace has a listing under each seller SKU (the listing id):
        ``getListingsItem`` per SKU, paced by its bucket; a 404 is ``found=False``.

        ``sku`` stays None when found: the seller SKU is the listing id itself, so there is no
        other SKU of Amazon's to compare with the ledger's.
        """
        found: dict[str, ListingIdentity] = {}
        for listing_id, _ in listings:
            if listing_id not in found:
                found[listing_id] = self._identify_one(listing_id)
        return [found[listing_id] for listing_id, _ in listings]

    def _identify_one(self, sku: str) -> ListingIdentity:
        marketplace = self.config.marketplace_id
        if not sku.strip():
            return ListingIdentity(sku, False, problem="an empty seller SKU names no listing")
        params = {"marketplaceIds": marketplace, "includedData": "summaries"}
        try:
            self._call("getListingsItem", "GET", self._listing_path(sku), params=params)
        except ChannelRejectedError as exc:
            if exc.status != 404:
                raise
            problem = f"no listing with seller SKU {sku} in marketplace {marketplace}"
            return ListingIdentity(sku, False, problem=problem)
        return ListingIdentity(sku, True)

    # orders

    def orders_since(self, cursor: str | None) -> OrderPage:
        """Orders changed at or after ``cursor`` (``LastUpdatedAfter``), every page, with their items.

        ``LastUpdatedBefore`` is left out, so Amazon applies its own bound (at least two minutes
        in the past) and reports it; that bound is the next cursor, so an order changed in the
        last two minutes is read on a later call, never skipped. Without it the next cursor is
        the latest ``LastUpdateDate`` seen. Orders on the boundary may come twice (the ledger is
        idempotent on their ids).
        """
        params: dict[str, Any] = {
            "MarketplaceIds": self.config.marketplace_id,
            "LastUpdatedAfter": cursor or self.config.orders_start,
            "MaxResultsPerPage": self.config.orders_page_size,
        }
        orders: list[ChannelOrder] = []
        bound, latest = None, None
        for payload in self._order_pages(params):
            bound = payload.get("LastUpdatedBefore") or bound
            for raw in payload.get("Orders") or []:
                orders.append(
                    parse_order(self.name, raw, self._order_items(str(raw["AmazonOrderId"])))
                )
                latest = max(filter(None, [latest, raw.get("LastUpdateDate")]), default=None)
        return OrderPage(orders=tuple(orders), cursor=bound or latest or cursor)

    def _order_pages(self, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """``getOrders`` pages; after the first only ``NextToken`` (and the marketplace) is sent."""
        query = params
        while True:
            payload = (
                self._json(self._call("getOrders", "GET", "/orders/v0/orders", params=query)).get(
                    "payload"
                )
                or {}
            )
            yield payload
            token = payload.get("NextToken")
            if not token:
                return
            query = {"MarketplaceIds": params["MarketplaceIds"], "NextToken": token}

    def _order_items(self, order_id: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        path = f"/orders/v0/orders/{quote(order_id, safe='')}/orderItems"
        query: dict[str, str] = {}
        while True:
            payload = (
                self._json(self._call("getOrderItems", "GET", path, params=query)).get("payload")
                or {}
            )
            items.extend(payload.get("OrderItems") or [])
            if not payload.get("NextToken"):
                return items
            query = {"NextToken": payload["NextToken"]}

    # notifications

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[InboundEvent]:
        """Check the relay's shared secret, then parse an SQS message body or EventBridge event."""
        lowered = {k.lower(): v for k, v in headers.items()}
        given = lowered.get(SECRET_HEADER.lower(), "")
        secret = self.config.notification_secret
        if not secret or not hmac.compare_digest(given.encode(), secret.encode()):
            raise SignatureError(self.name, f"{SECRET_HEADER} missing or wrong")
        try:
            message = json.loads(body)
        except ValueError as exc:
            raise ChannelRejectedError(
                self.name, "notification body is not JSON", body=body
            ) from exc
        notification = notification_of(message)
        if notification is None:
            raise ChannelRejectedError(self.name, "not an SP-API notification", body=message)
        return [build_event(self.name, notification)]

    # fulfilment and refunds

    def create_fulfillment(self, fulfillment: Fulfillment) -> str:
        """``confirmShipment`` for the given items; returns the package reference id used.

        The package reference is numeric (Amazon accepts only positive numbers) and derived from
        the tracking number, so confirming the same parcel twice names the same package.
        """
        package = str(
            int(hashlib.sha256(fulfillment.tracking_number.encode()).hexdigest()[:8], 16) + 1
        )
        detail: dict[str, Any] = {
            "packageReferenceId": package, "carrierCode": fulfillment.carrier,
            "carrierName": fulfillment.carrier, "trackingNumber": fulfillment.tracking_number,
            "shipDate": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "orderItems": [{"orderItemId": line, "quantity": units} for line, units in fulfillment.lines.items()],
        }  # fmt: skip
        body = {"marketplaceId": self.config.marketplace_id, "packageDetail": detail}
        path = f"/orders/v0/orders/{quote(fulfillment.order_id, safe='')}/shipmentConfirmation"
        self._call("confirmShipment", "POST", path, json=body)
        return package

    def create_refund(self, refund: Refund) -> str:
        """Amazon has no API to create a refund for a merchant-fulfilled order: always refused."""
        raise ChannelRejectedError(
            self.name,
            f"cannot refund order {refund.order_id} through the SP-API: refunds and returns of "
            "merchant-fulfilled orders are made in Seller Central (no refund-create operation "
            "exists in the Orders models); stocksync only observes cancellations and returns",
        )


# -- errors at the edge --------------------------------------------------------------------------


def _error_code(response: httpx.Response) -> str | None:
    body = response_body(response)
    errors = body.get("errors") if isinstance(body, dict) else None
    return (
        errors[0].get("code")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict)
        else None
    )


def _float(raw: str | None) -> float | None:
    try:
        return max(0.0, float(raw)) if raw else None
    except ValueError:
        return None


def _raise_for_status(channel: str, operation: str, response: httpx.Response) -> None:
    """429/5xx → transient, 401/403 → auth, other 4xx → rejected; each carries Amazon's errors."""
    status = response.status_code
    if status < 400:
        return
    body = response_body(response)
    errors = body.get("errors") if isinstance(body, dict) else None
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
    message = f"{operation} → {status} {first.get('code', '')}: {first.get('message', '')}".rstrip(
        ": "
    )
    if status == 429 or status >= 500:
        rate = _float(response.headers.get("x-amzn-ratelimit-limit"))
        retry_after = _float(response.headers.get("retry-after")) or (1 / rate if rate else None)
        raise TransientChannelError(
            channel, message, retry_after=retry_after, status=status, body=body
        )
    if status in (401, 403):
        raise ChannelAuthError(channel, message, status=status, body=body)
    raise ChannelRejectedError(channel, message, status=status, body=body)
