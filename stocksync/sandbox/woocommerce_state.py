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

from stocksync.sandbox.adversity import fault_rng

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
    latency_jitter_ms: int = 0
    """Each API call waits ``latency_ms`` plus up to this much more (``sandbox.adversity``)."""
    error_rate: float = 0.0
    """Share of API calls answered 503 by the host, drawn from ``random.Random(seed)``."""
    seed: int = 0
    throttle_next: int = 0
    """The next N API calls get a 429 with ``Retry-After: 1``."""
    drop_webhooks: bool = False
    duplicate_webhooks: bool = False
    reorder_webhooks: bool = False
    """Hold each delivery until the next one has been sent."""
    webhook_delay_ms: int = 0
    """Each delivery joins the queue ``uniform(d, 2d)`` ms after its event."""
    rng: random.Random = field(init=False, repr=False)
    jitter_rng: random.Random = field(init=False, repr=False)
    delay_rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.jitter_rng = fault_rng("latency_jitter_ms", self.seed)
        self.delay_rng = fault_rng("webhook_delay_ms", self.seed)


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
    _post_ids: set[int] = field(default_factory=set, repr=False)
    """Every post id handed out, generated or given."""
    _next_item_id: int = 1000

    def next_post_id(self) -> int:
        """Products, variations, orders and refunds share WordPress's post ids; one given to a
        product or variation (``product_id``, ``variation_id``) is skipped."""
        self._next_post_id += 1
        while self._post_id_used(self._next_post_id):
            self._next_post_id += 1
        self._post_ids.add(self._next_post_id)
        return self._next_post_id

    def _post_id_used(self, post_id: int) -> bool:
        return post_id in self._post_ids or post_id in self.products or post_id in self.orders

    def _take_post_id(self, post_id: int | None, what: str) -> int:
        """``post_id`` for a new ``what`` (ValueError if it is not positive or is taken), else
        the next free one."""
        if post_id is None:
            return self.next_post_id()
        if isinstance(post_id, bool) or not isinstance(post_id, int) or post_id <= 0:
            raise ValueError(
                f"{post_id!r} cannot be the id of {what}: post ids are whole numbers > 0"
            )
        if self._post_id_used(post_id):
            raise ValueError(f"post id {post_id} is taken already; it cannot be {what}")
        self._post_ids.add(post_id)
        return post_id

    def next_item_id(self) -> int:
        """Order items (lines, refund lines) have their own id sequence."""
        self._next_item_id += 1
        return self._next_item_id

    def add_product(
        self,
        sku: str,
        stock: int | None,
        *,
        name: str = "",
        price: str = "10.00",
        product_id: int | None = None,
    ) -> WooProduct:
        """Add a simple product that manages its stock (``stock=None``: stock not managed),
        under ``product_id`` when given (ValueError if that post id is taken)."""
        product = WooProduct(
            id=self._take_post_id(product_id, f"product {sku!r}"), sku=sku, name=name or sku,
            stock_quantity=stock, manage_stock=stock is not None, price=price,
            date_modified_gmt=self.now(),
        )  # fmt: skip
        self.products[product.id] = product
        return product

    def add_variation(
        self, product_id: int, sku: str, stock: int | None, *, variation_id: int | None = None
    ) -> WooVariation:
        """Add a variation (SKU, stock; ``None``: not managed) to variable product ``product_id``,
        creating that product (without a SKU) if there is none; under ``variation_id`` when
        given. ValueError when the product is not variable or an id is taken."""
        if variation_id is not None and (
            variation_id == product_id or self._post_id_used(variation_id)
        ):
            raise ValueError(
                f"post id {variation_id} is taken already; it cannot be variation {sku!r}"
            )
        product = self.products.get(product_id)
        if product is None:
            product = WooProduct(
                id=self._take_post_id(product_id, f"the parent of {sku!r}"), sku="",
                name=f"Variable product {product_id}", stock_quantity=None, manage_stock=False,
                type="variable", date_modified_gmt=self.now(),
            )  # fmt: skip
            self.products[product.id] = product
        elif product.type != "variable":
            raise ValueError(
                f"product {product_id} is a {product.type} product ({product.sku!r}); "
                f"it has no variations, so {sku!r} cannot be one"
            )
        variation = WooVariation(
            self._take_post_id(variation_id, f"variation {sku!r}"), sku, stock,
            stock is not None, date_modified_gmt=self.now(),
        )  # fmt: skip
        product.variations[variation.id] = variation
        return variation

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
