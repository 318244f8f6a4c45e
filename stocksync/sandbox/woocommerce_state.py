"""What one emulated WooCommerce shop holds: products and variations, orders, refunds, the
webhook, faults and call counts; and the WordPress REST error every part of the emulator raises.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi.responses import JSONResponse

__all__ = [
    "WooError",
    "WooFaults",
    "WooProduct",
    "WooState",
    "WooVariation",
    "WooWebhook",
    "stock_holder",
]


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
            holder = stock_holder(self, product_id, variation_id)
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


def stock_holder(
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
