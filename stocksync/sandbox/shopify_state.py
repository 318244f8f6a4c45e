"""What one emulated Shopify shop holds: inventory items and levels, orders, faults, call records.

Tests read and change the state directly; every change that Shopify announces goes out as a webhook.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from stocksync.sandbox.adversity import fault_rng
from stocksync.sandbox.shopify_cost import CostBucket
from stocksync.sandbox.shopify_values import Json, gid, gid_number, now
from stocksync.sandbox.shopify_webhooks import Delivery, WebhookSender

__all__ = ["DEFAULT_LOCATION", "CallRecord", "Faults", "InventoryItem", "ShopifyState"]

DEFAULT_LOCATION = "gid://shopify/Location/124656943"


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
    latency_jitter_ms: int = 0
    """Each GraphQL call waits ``latency_ms`` plus up to this much more (``sandbox.adversity``)."""
    error_rate: float = 0.0
    """Share of GraphQL calls answered 503 (drawn from the state's seeded RNG)."""
    timeout_rate: float = 0.0
    """Share of GraphQL calls that hang for ``hang_s`` before answering (the client times out)."""
    hang_s: float = 2.0
    lost_answers: int = 0
    """The next this many GraphQL calls run to the end and are then answered 503: the client
    cannot tell whether a mutation landed (a gateway that lost the answer)."""
    throttle_status: int = 200
    """HTTP status of a THROTTLED answer: 200 as usually observed, or 429."""
    drop_webhook_rate: float = 0.0
    duplicate_webhooks: bool = False
    """Deliver every webhook twice, with the same X-Shopify-Event-Id."""
    reorder_webhooks: bool = False
    """Hold each webhook back and send it after the next one (or after a short idle spell)."""
    webhook_delay_ms: int = 0
    """Each webhook joins the delivery queue ``uniform(d, 2d)`` ms after its event."""


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One GraphQL call as the emulator saw it."""

    operation: str
    requested_cost: int
    actual_cost: int | None
    throttled: bool
    size: int = 0
    """How many quantities an ``inventorySetQuantities`` (or changes an
    ``inventoryAdjustQuantities``) carried."""


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
    webhook_workers: int = 1
    """Deliveries in flight at once. Shopify sends from many workers with no ordering guarantee;
    one keeps the delivery order of tests deterministic (the reorder fault relies on it)."""
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
    requests: int = 0
    """GraphQL requests received, whatever they were answered (faults and throttling included)."""
    deliveries: list[Delivery] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.lock = threading.RLock()
        self.rng = random.Random(self.seed)
        self.jitter_rng = fault_rng("latency_jitter_ms", self.seed)
        self.delay_rng = fault_rng("webhook_delay_ms", self.seed)
        self.bucket = CostBucket(self.bucket_size, self.restore_rate, self.clock)
        self.webhooks = WebhookSender(self)
        self._next_small_id = 43729076

    def new_id(self) -> int:
        """A fresh 64-bit id, beyond JavaScript's safe integers like Shopify's order ids."""
        return self.rng.randrange(2**60, 2**63)

    def stock(
        self,
        sku: str,
        available: int,
        location: str = DEFAULT_LOCATION,
        *,
        item_gid: str | None = None,
    ) -> str:
        """Set ``available`` for ``sku`` at ``location`` (creating both) and return the item gid.

        A new item takes ``item_gid`` (``gid://shopify/InventoryItem/N``) when given, else the
        next id of the shop's own; ValueError for a gid of another form, one another SKU's item
        holds, or one other than the item ``sku`` has already.
        """
        with self.lock:
            wanted = _item_number(item_gid) if item_gid is not None else None
            item = self.item_by_sku(sku)
            if item is None:
                item = self._new_item(sku, wanted)
            elif wanted is not None and item.id != wanted:
                raise ValueError(
                    f"SKU {sku!r} is inventory item {gid('InventoryItem', item.id)} already, "
                    f"it cannot become {item_gid}"
                )
            self.locations.add(location)
            item.levels[location] = available
            item.updated_at[location] = now()
            return gid("InventoryItem", item.id)

    def _new_item(self, sku: str, item_id: int | None = None) -> InventoryItem:
        """An item under ``item_id`` (checked free) or the next free id; its variant and product
        ids follow from it, so they are as unique as it is."""
        if item_id is None:
            self._next_small_id += 1
            while self._next_small_id in self.items:
                self._next_small_id += 1
            item_id = self._next_small_id
        elif item_id in self.items:
            taken = self.items[item_id].sku
            raise ValueError(
                f"inventory item {gid('InventoryItem', item_id)} is SKU {taken!r}'s already"
            )
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
        item.updated_at[location] = now()
        if value != before:
            self.webhooks.publish("inventory_levels/update", _level_payload(item, location))

    def touch(self, order: Json) -> None:
        """Bump an order's ``updated_at`` and announce it with ``orders/updated``."""
        order["updated_at"] = now().isoformat()
        self.webhooks.publish("orders/updated", order)


def _item_number(item_gid: str) -> int:
    """N of ``gid://shopify/InventoryItem/N``; ValueError for anything else."""
    number = gid_number(item_gid) if item_gid.startswith("gid://shopify/InventoryItem/") else None
    if number is None or number <= 0 or "?" in item_gid:
        raise ValueError(
            f"{item_gid!r} is not an inventory item id: expected gid://shopify/InventoryItem/<n>"
        )
    return number


def _level_payload(item: InventoryItem, location: str) -> Json:
    loc = gid_number(location)
    return {
        "inventory_item_id": item.id,
        "location_id": loc,
        "available": item.levels[location],
        "updated_at": item.updated_at[location].isoformat(),
        "admin_graphql_api_id": f"gid://shopify/InventoryLevel/{loc}?inventory_item_id={item.id}",
    }
