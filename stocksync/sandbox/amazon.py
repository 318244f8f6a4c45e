"""An Amazon Selling Partner API emulator (reference: channel-apis.md section B), as an ASGI app.

Faithful where a sync can trip: LWA refresh-token grants whose access tokens expire after 3600 s
on an injectable clock (403 ``Unauthorized`` afterwards); a token bucket per operation with the
reference's rate and burst (429 ``QuotaExceeded``, ``x-amzn-RateLimit-Limit`` on every answer);
``patchListingsItem`` answering ``ACCEPTED`` while the quantity goes live only ``apply_delay_s``
later (reads show the old quantity until then, and a later patch wins); ``getOrders`` with exactly
one ``*After``, the two-minute rule on ``*Before``, at most 100 per page and ``NextToken``;
``getOrderItems``; ``confirmShipment`` (204). A shopper endpoint buys what the listing shows and
queues an ``ORDER_CHANGE`` notification (see ``amazon_notifications``).

Simplified: one seller and marketplace; only the ``DEFAULT`` (merchant) fulfillment channel;
patches only understand ``/attributes/fulfillment_availability``; an unknown SKU answers
``INVALID`` with an issue (code ``NOT_FOUND`` is ours, not Amazon's); without ``*Before`` the
effective bound (now − 2 min) is echoed as ``LastUpdatedBefore``/``CreatedBefore`` **[verify]**;
no buyer PII, prices or Restricted Data Tokens. Feeds and reports live in ``amazon_feeds``.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.responses import JSONResponse

from stocksync.sandbox.adversity import fault_rng

__all__ = [
    "RATE_PLANS",
    "AmazonError",
    "AmazonFaults",
    "AmazonListing",
    "AmazonState",
    "NotificationTarget",
    "TokenBucket",
    "amazon_time",
    "create_app",
    "issue",
    "patched_quantity",
]

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
"""Operation → (rate in requests per second, burst): Amazon's default usage plans."""

MAX_SELLER_SKU = 40
TOKEN_LIFETIME = timedelta(seconds=3600)
TWO_MINUTES = timedelta(minutes=2)
QUANTITY_PATH = "/attributes/fulfillment_availability"


def amazon_time(moment: datetime) -> str:
    """ISO 8601 in UTC to the second with ``Z``, as the Orders API writes dates."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class AmazonError(Exception):
    """An SP-API error answer: ``{"errors": [{"code", "message", "details"?}]}``."""

    def __init__(self, status: int, code: str, message: str, details: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details

    def response(self, headers: dict[str, str] | None = None) -> JSONResponse:
        error = {"code": self.code, "message": self.message}
        if self.details:
            error["details"] = self.details
        return JSONResponse({"errors": [error]}, status_code=self.status, headers=headers)


class TokenBucket:
    """Amazon's throttle: ``burst`` tokens, refilled at ``rate`` per second of monotonic time."""

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.stamp = float(burst), now

    def take(self, now: float) -> bool:
        """Spend one token if there is one; False means the request is throttled."""
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


@dataclass
class AmazonListing:
    """One merchant-fulfilled offer; ``pending`` holds accepted patches not live yet."""

    sku: str
    quantity: int
    asin: str
    item_name: str
    pending: list[tuple[datetime, int]] = field(default_factory=list)
    """(when it goes live, quantity), in the order the patches were accepted."""


@dataclass
class AmazonFaults:
    """What goes wrong, on purpose: host faults on API calls and notification delivery faults."""

    latency_ms: int = 0
    latency_jitter_ms: int = 0
    """Each API call waits ``latency_ms`` plus up to this much more (``sandbox.adversity``)."""
    error_rate: float = 0.0
    """Share of API calls answered 503 ``ServiceUnavailable``, drawn from ``random.Random(seed)``."""
    seed: int = 0
    throttle_next: int = 0
    """The next N API calls get a 429 ``QuotaExceeded`` whatever their bucket holds."""
    drop_notifications: bool = False
    duplicate_notifications: bool = False
    reorder_notifications: bool = False
    """Hold each notification until the next one has been sent."""
    notification_delay_ms: int = 0
    """Each notification joins the relay's queue ``uniform(d, 2d)`` ms after its event."""
    rng: random.Random = field(init=False, repr=False)
    jitter_rng: random.Random = field(init=False, repr=False)
    delay_rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.jitter_rng = fault_rng("latency_jitter_ms", self.seed)
        self.delay_rng = fault_rng("webhook_delay_ms", self.seed)


@dataclass
class NotificationTarget:
    """Where ORDER_CHANGE messages go: the relay (SQS consumer or EventBridge API destination)."""

    url: str
    secret: str
    header: str = "X-Stocksync-Relay-Secret"
    form: str = "sqs"
    """``sqs``: the body is the notification JSON; ``eventbridge``: it sits under ``detail``."""
    attempts: int = 4
    """Deliveries are retried until a 2xx, up to this many times (at-least-once)."""


@dataclass
class AmazonState:
    """Everything the emulated seller account knows; every read and write holds ``lock``."""

    seller_id: str = "A3TH9S8BH6GOGM"
    marketplace_id: str = "ATVPDKIKX0DER"
    client_id: str = "amzn1.application-oa2-client.sandbox"
    client_secret: str = "sandbox-client-secret"
    refresh_token: str = "Atzr|sandbox-refresh-token"
    apply_delay_s: float = 0.3
    """How long after ``ACCEPTED`` a patched quantity goes live (Amazon: minutes)."""
    feed_processing_s: float = 1.0
    """A feed or report waits in IN_QUEUE, then IN_PROGRESS, each for half of this."""
    listings: dict[str, AmazonListing] = field(default_factory=dict)
    feeds: dict[str, dict[str, Any]] = field(default_factory=dict)
    reports: dict[str, dict[str, Any]] = field(default_factory=dict)
    documents: dict[str, bytes] = field(default_factory=dict)
    """Feed and report documents, as the presigned-URL store holds them."""
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    order_items: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    shipments: list[dict[str, Any]] = field(default_factory=list)
    rate_plans: dict[str, tuple[float, int]] = field(default_factory=lambda: dict(RATE_PLANS))
    faults: AmazonFaults = field(default_factory=AmazonFaults)
    notifications: NotificationTarget | None = None
    calls: Counter[str] = field(default_factory=Counter)
    """API calls received, by operation name (``patchListingsItem``)."""
    throttled: Counter[str] = field(default_factory=Counter)
    """429s answered, by operation name."""
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    monotonic: Callable[[], float] = field(default=time.monotonic)
    """The token buckets' time source (real time: clients really wait for tokens)."""
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    tokens: dict[str, datetime] = field(default_factory=dict, repr=False)
    buckets: dict[str, TokenBucket] = field(default_factory=dict, repr=False)
    next_tokens: dict[str, tuple[list[str], int, dict[str, str]]] = field(
        default_factory=dict, repr=False
    )
    rng: random.Random = field(default_factory=lambda: random.Random(7), repr=False)
    _sequence: int = 0

    def add_listing(self, sku: str, quantity: int, *, name: str = "") -> AmazonListing:
        """Add a live merchant-fulfilled listing showing ``quantity`` under seller SKU ``sku``;
        ValueError for a seller SKU Amazon would refuse (empty, blanks around it, more than 40
        characters) or one the seller lists already."""
        if not sku or sku != sku.strip() or len(sku) > MAX_SELLER_SKU:
            raise ValueError(
                f"{sku!r} cannot be a seller SKU: 1 to {MAX_SELLER_SKU} characters, "
                "no blanks around them"
            )
        with self.lock:
            if sku in self.listings:
                raise ValueError(f"the seller lists SKU {sku!r} already")
            self._sequence += 1
            listing = AmazonListing(sku, quantity, f"B0{self._sequence:08d}", name or sku)
            self.listings[sku] = listing
            return listing

    def quantity_of(self, sku: str) -> int:
        """What a shopper sees for ``sku`` now (accepted patches that are due are applied)."""
        with self.lock:
            self.settle()
            return self.listings[sku].quantity

    def settle(self) -> None:
        """Apply every accepted patch whose delay has passed, oldest first."""
        now = self.clock()
        for listing in self.listings.values():
            while listing.pending and listing.pending[0][0] <= now:
                listing.quantity = listing.pending.pop(0)[1]

    def issue_token(self) -> tuple[str, int]:
        """A fresh LWA access token and its lifetime in seconds."""
        token = f"Atza|{self.rng.getrandbits(128):032x}"
        self.tokens[token] = self.clock() + TOKEN_LIFETIME
        return token, int(TOKEN_LIFETIME.total_seconds())

    def order_id(self) -> str:
        """A new 3-7-7 Amazon order id."""
        self._sequence += 1
        return f"114-{self._sequence:07d}-{self.rng.randrange(10**7):07d}"

    def item_id(self) -> str:
        """A new 14-digit order item id."""
        self._sequence += 1
        return f"{self.rng.randrange(10**9, 10**10)}{self._sequence:04d}"[-14:]

    def uuid(self) -> str:
        """A UUID drawn from the emulator's seeded generator (notification and submission ids)."""
        raw = f"{self.rng.getrandbits(128):032x}"
        return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"


def patched_quantity(patch: Any) -> tuple[int | None, dict[str, Any] | None]:
    """The DEFAULT quantity one patch sets, or the issue that makes it invalid."""
    attribute = ["fulfillment_availability"]
    if not isinstance(patch, dict) or patch.get("op") not in ("add", "replace", "merge"):
        return None, issue("INVALID_PATCH", "Only add, replace and merge are emulated.", attribute)
    if patch.get("path") != QUANTITY_PATH:
        return None, issue("INVALID_PATCH", f"Only {QUANTITY_PATH} is emulated.", attribute)
    raw = patch.get("value")
    values: list[Any] = raw if isinstance(raw, list) else []
    default = [
        v for v in values if isinstance(v, dict) and v.get("fulfillment_channel_code") == "DEFAULT"
    ]
    quantity = default[0].get("quantity") if default else None
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 0:
        message = "The value for 'quantity' must be a whole number of 0 or more."
        return None, issue("INVALID_QUANTITY", message, attribute)
    return quantity, None


def issue(code: str, message: str, attributes: list[str]) -> dict[str, Any]:
    return {"code": code, "message": message, "severity": "ERROR", "attributeNames": attributes,
            "categories": ["INVALID_ATTRIBUTE"]}  # fmt: skip


def create_app(state: AmazonState) -> Any:
    """The emulated SP-API host, LWA and sandbox controls (built in ``amazon_app``)."""
    from stocksync.sandbox.amazon_app import build_app

    return build_app(state)
