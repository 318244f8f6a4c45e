"""What the custom channel emulator holds: listings, orders, faults, calls and deliveries; and
the error answer every part of it raises.
"""

from __future__ import annotations

import itertools
import random
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from stocksync.sandbox.adversity import fault_rng

__all__ = ["CustomFaults", "CustomListing", "CustomState", "SandboxError", "whole_number"]


@dataclass
class CustomListing:
    listing_id: str
    sku: str
    quantity: int


@dataclass
class CustomFaults:
    """What goes wrong, on purpose, for API calls and webhook deliveries."""

    latency_ms: int = 0
    latency_jitter_ms: int = 0
    """Each API call waits ``latency_ms`` plus up to this much more (``sandbox.adversity``)."""
    error_rate: float = 0.0
    """Share of API calls answered 503, drawn from ``random.Random(seed)``."""
    seed: int = 0
    throttle_next: int = 0
    """The next N API calls get a 429 with ``Retry-After: 1``."""
    drop_webhooks: bool = False
    duplicate_webhooks: bool = False
    webhook_delay_ms: int = 0
    """Each webhook goes out ``uniform(d, 2d)`` ms after its event."""
    rng: random.Random = field(init=False, repr=False)
    jitter_rng: random.Random = field(init=False, repr=False)
    delay_rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.jitter_rng = fault_rng("latency_jitter_ms", self.seed)
        self.delay_rng = fault_rng("webhook_delay_ms", self.seed)


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
        """Add a listing showing ``quantity``; its id defaults to the next free ``"L-<n>"``.
        ValueError for an id that is empty, has blanks around it or is taken."""
        if listing_id is None:
            listing_id = f"L-{next(self._ids)}"
            while listing_id in self.listings:
                listing_id = f"L-{next(self._ids)}"
        elif not listing_id or listing_id != listing_id.strip():
            raise ValueError(f"{listing_id!r} cannot be a listing id: empty or blanks around it")
        elif listing_id in self.listings:
            taken = self.listings[listing_id].sku
            raise ValueError(f"listing {listing_id} is SKU {taken!r}'s already")
        listing = CustomListing(listing_id, sku, quantity)
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


def whole_number(raw: str, name: str) -> int:
    if not raw.isdigit():
        raise SandboxError(400, f"{name} must be a whole number", value=raw)
    return int(raw)
