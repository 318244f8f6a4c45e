"""One adapter per emulator kind, so the harness can drive all four the same way.

Each adapter owns an emulator's state: it stocks it, builds its ASGI app, names the connector
config that reaches it, reports its listings the way the ledger stores them, reads what it shows,
shapes a shopper order for its endpoint, points its webhooks somewhere and maps the uniform fault
names onto the emulator's own. The emulators stay as they are; this is the only place that knows
how each one differs.
"""

from __future__ import annotations

import secrets
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

from pydantic import SecretStr

from stocksync.channels.base import ChannelConnector
from stocksync.channels.custom import CustomChannelConfig, get_field
from stocksync.channels.registry import build_connector
from stocksync.channels.woocommerce_parsing import parse_listing_id
from stocksync.sandbox import amazon, custom, shopify, woocommerce

__all__ = [
    "EMULATORS",
    "EXAMPLE_CUSTOM_CONFIG",
    "FAULTS",
    "KINDS",
    "Emulator",
    "connector_from_fields",
    "emulator_for",
]

Listings = dict[str, tuple[str, dict[str, str]]]

EXAMPLE_CUSTOM_CONFIG = Path(__file__).parents[1] / "samples" / "custom-channel.example.json"
FAULTS = frozenset(
    {"latency_ms", "latency_jitter_ms", "error_rate", "seed", "timeout_rate", "hang_s",
     "throttle_next", "drop_webhooks", "duplicate_webhooks", "reorder_webhooks",
     "webhook_delay_ms"}
)  # fmt: skip
"""The uniform fault names; each emulator supports a subset (``Emulator.faults``)."""
TIMEOUT_S = 10.0


def _secret(prefix: str = "") -> str:
    return prefix + secrets.token_hex(12)


class Emulator(ABC):
    """An emulator's state and what the harness needs to know about its channel kind."""

    kind: ClassVar[str]
    faults: ClassVar[frozenset[str]]
    """The uniform fault names this emulator can inject."""
    signs_body: ClassVar[bool] = True
    """Whether a webhook's authentication covers its body (an HMAC), not just a shared secret."""
    state: Any

    def __init__(self, name: str, clock: Callable[[], datetime], **limits: Any) -> None:
        self.name = name
        self.ids: dict[str, str] = {}
        """SKU → listing id for what the harness stocked (a lookup, not a scan, per call)."""

    def stock(self, sku: str, quantity: int, listing_id: str | None = None) -> None:
        """Create a listing for ``sku`` showing ``quantity``, under ``listing_id`` when given
        (the channel's form of id, as a catalog's ``listing:<channel>`` cell names it; ValueError
        when the emulator cannot take it), else under an id of the emulator's own."""
        try:
            self.ids[sku] = self.add(sku, quantity, listing_id)
        except ValueError as exc:
            raise ValueError(f"{self.kind} emulator {self.name!r}, SKU {sku!r}: {exc}") from exc

    def listing_id(self, sku: str) -> str:
        known = self.ids.get(sku)
        return known if known is not None else self.listings()[sku][0]

    @abstractmethod
    def add(self, sku: str, quantity: int, listing_id: str | None = None) -> str:
        """Add a listing to the state (under ``listing_id`` if given) and return its id."""

    @abstractmethod
    def app(self) -> Any:
        """The ASGI app serving this state."""

    @abstractmethod
    def fields(self, base_url: str) -> dict[str, Any]:
        """The connector config's fields (secrets included) for an emulator at ``base_url``."""

    @abstractmethod
    def listings(self) -> Listings:
        """SKU → (listing id, refs) as the ledger stores them."""

    @abstractmethod
    def shown(self, listing_id: str) -> int:
        """The count the channel shows shoppers for one listing."""

    @abstractmethod
    def order_body(self, lines: Mapping[str, int]) -> dict[str, Any]:
        """The shopper endpoint's request body for SKU → units."""

    @abstractmethod
    def order_id(self, answer: Any) -> str:
        """The order's id, as the connector's ``ChannelOrder.external_id`` names it."""

    @abstractmethod
    def deliver_webhooks_to(self, url: str | None) -> None:
        """Send the channel's webhooks (or notifications) to ``url``; None stops them."""

    @abstractmethod
    def apply_faults(self, changes: Mapping[str, Any]) -> None:
        """Change the named faults (uniform names, already checked against ``faults``)."""

    @abstractmethod
    def push_calls(self) -> int:
        """Quantity-setting calls the emulator has received."""

    @abstractmethod
    def api_calls(self) -> int:
        """Calls the emulator's API has received, however they were answered (shopper and
        sandbox endpoints are not the channel's API)."""

    @abstractmethod
    def cancel_path(self, order_id: str) -> str:
        """The shopper endpoint that cancels order ``order_id`` as its customer would."""


class ShopifyEmulator(Emulator):
    kind = "shopify"
    faults = frozenset(
        {"latency_ms", "latency_jitter_ms", "error_rate", "timeout_rate", "hang_s",
         "lost_answers", "drop_webhooks", "duplicate_webhooks", "reorder_webhooks",
         "webhook_delay_ms"}
    )  # fmt: skip

    def __init__(self, name: str, clock: Callable[[], datetime], **limits: Any) -> None:
        super().__init__(name, clock)
        self.state = shopify.ShopifyState(
            access_token=_secret("shpat_"), app_secret=_secret(), **limits
        )

    def add(self, sku: str, quantity: int, listing_id: str | None = None) -> str:
        """``listing_id`` is an inventory item gid; the variant and product ids follow from it."""
        return str(self.state.stock(sku, quantity, item_gid=listing_id))

    def app(self) -> Any:
        return shopify.create_app(self.state)

    def fields(self, base_url: str) -> dict[str, Any]:
        return {"name": self.name, "shop_url": base_url, "access_token": self.state.access_token,
                "webhook_secret": self.state.app_secret, "location_id": shopify.DEFAULT_LOCATION,
                "timeout_s": TIMEOUT_S}  # fmt: skip

    def listings(self) -> Listings:
        with self.state.lock:
            items = list(self.state.items.values())
        found: Listings = {}
        for item in items:
            item_gid = shopify.gid("InventoryItem", item.id)
            refs = {"inventory_item_id": item_gid, "location_id": shopify.DEFAULT_LOCATION,
                    "variant_id": shopify.gid("ProductVariant", item.variant_id)}  # fmt: skip
            found[item.sku] = (item_gid, refs)
        return found

    def shown(self, listing_id: str) -> int:
        with self.state.lock:
            return int(self.state.available(listing_id) or 0)

    def order_body(self, lines: Mapping[str, int]) -> dict[str, Any]:
        wanted = [
            {"inventory_item_id": self.listing_id(s), "quantity": q} for s, q in lines.items()
        ]
        return {"lines": wanted, "location_id": shopify.DEFAULT_LOCATION}

    def order_id(self, answer: Any) -> str:
        return str(answer["id"])

    def deliver_webhooks_to(self, url: str | None) -> None:
        self.state.webhook_url = url

    def apply_faults(self, changes: Mapping[str, Any]) -> None:
        with self.state.lock:
            for name, value in changes.items():
                if name == "drop_webhooks":
                    self.state.faults.drop_webhook_rate = 1.0 if value else 0.0
                else:
                    setattr(self.state.faults, name, value)

    def push_calls(self) -> int:
        with self.state.lock:
            calls = list(self.state.calls)
        return sum(1 for c in calls if c.operation in shopify.INVENTORY_WRITES and not c.throttled)

    def api_calls(self) -> int:
        with self.state.lock:
            return int(self.state.requests)

    def cancel_path(self, order_id: str) -> str:
        return f"/_sandbox/shopper/orders/{order_id}/cancel"


class WooCommerceEmulator(Emulator):
    kind = "woocommerce"
    faults = frozenset(
        {"latency_ms", "latency_jitter_ms", "error_rate", "seed", "throttle_next",
         "drop_webhooks", "duplicate_webhooks", "reorder_webhooks", "webhook_delay_ms"}
    )  # fmt: skip

    def __init__(self, name: str, clock: Callable[[], datetime], **limits: Any) -> None:
        super().__init__(name, clock)
        self.state = woocommerce.WooState(
            consumer_key=_secret("ck_"), consumer_secret=_secret("cs_"),
            webhook_secret=_secret(), clock=clock, **limits,
        )  # fmt: skip

    def add(self, sku: str, quantity: int, listing_id: str | None = None) -> str:
        """``listing_id`` ``"P"`` is simple product P; ``"P/V"`` is variation V of variable
        product P (created, without a SKU of its own, with its first variation)."""
        with self.state.lock:
            if listing_id is None:
                return str(self.state.add_product(sku, quantity).id)
            ids = parse_listing_id(listing_id)
            if ids is None:
                raise ValueError(
                    f"{listing_id!r} is not a WooCommerce listing id: PRODUCT or PRODUCT/VARIATION"
                )
            product, variation = ids
            if not variation:
                return str(self.state.add_product(sku, quantity, product_id=product).id)
            made = self.state.add_variation(product, sku, quantity, variation_id=variation)
            return f"{product}/{made.id}"

    def app(self) -> Any:
        return woocommerce.create_app(self.state)

    def fields(self, base_url: str) -> dict[str, Any]:
        state = self.state
        return {"name": self.name, "base_url": base_url, "consumer_key": state.consumer_key,
                "consumer_secret": state.consumer_secret, "webhook_secret": state.webhook_secret,
                "timeout_s": TIMEOUT_S}  # fmt: skip

    def listings(self) -> Listings:
        found: Listings = {}
        with self.state.lock:
            for product in self.state.products.values():
                if product.type != "variable" or product.manage_stock:  # else: no stock of its own
                    found[product.sku] = (str(product.id), {})
                for variation in product.variations.values():
                    found[variation.sku] = (f"{product.id}/{variation.id}", {})
        return found

    def shown(self, listing_id: str) -> int:
        product, _, variation = listing_id.partition("/")
        return int(self.state.stock_of(int(product), int(variation or 0)) or 0)

    def order_body(self, lines: Mapping[str, int]) -> dict[str, Any]:
        wanted = []
        for sku, units in lines.items():
            product, _, variation = self.listing_id(sku).partition("/")
            wanted.append(
                {"product_id": int(product), "variation_id": int(variation or 0), "quantity": units}
            )
        return {"lines": wanted}

    def order_id(self, answer: Any) -> str:
        return str(answer["id"])

    def deliver_webhooks_to(self, url: str | None) -> None:
        with self.state.lock:
            self.state.webhook.delivery_url = url

    def apply_faults(self, changes: Mapping[str, Any]) -> None:
        with self.state.lock:
            self.state.faults = replace(self.state.faults, **changes)

    def push_calls(self) -> int:
        with self.state.lock:
            calls = dict(self.state.calls)
        return sum(
            n for call, n in calls.items() if call.startswith("POST ") and call.endswith("/batch")
        )

    def api_calls(self) -> int:
        with self.state.lock:
            return sum(self.state.calls.values())

    def cancel_path(self, order_id: str) -> str:
        return f"/_sandbox/shopper/orders/{order_id}/cancel"


class AmazonEmulator(Emulator):
    kind = "amazon"
    faults = frozenset(
        {"latency_ms", "latency_jitter_ms", "error_rate", "seed", "throttle_next",
         "drop_webhooks", "duplicate_webhooks", "reorder_webhooks", "webhook_delay_ms"}
    )  # fmt: skip
    signs_body = False
    """The SQS/EventBridge relay proves itself with a shared-secret header, not a body HMAC."""

    def __init__(self, name: str, clock: Callable[[], datetime], **limits: Any) -> None:
        super().__init__(name, clock)
        self.state = amazon.AmazonState(
            client_secret=_secret(), refresh_token=_secret("Atzr|"), clock=clock, **limits
        )
        self.notification_secret = _secret()

    def add(self, sku: str, quantity: int, listing_id: str | None = None) -> str:
        """``listing_id`` is the seller SKU (by default the SKU itself)."""
        return str(self.state.add_listing(listing_id or sku, quantity, name=sku).sku)

    def app(self) -> Any:
        return amazon.create_app(self.state)

    def fields(self, base_url: str) -> dict[str, Any]:
        state = self.state
        return {"name": self.name, "endpoint": base_url, "token_url": f"{base_url}/auth/o2/token",
                "client_id": state.client_id, "client_secret": state.client_secret,
                "refresh_token": state.refresh_token, "seller_id": state.seller_id,
                "marketplace_id": state.marketplace_id,
                "notification_secret": self.notification_secret, "timeout_s": TIMEOUT_S}  # fmt: skip

    def listings(self) -> Listings:
        """Keyed by our SKU where a listing was stocked under a seller SKU of its own."""
        ours = {seller_sku: sku for sku, seller_sku in self.ids.items()}
        with self.state.lock:
            return {ours.get(seller, seller): (seller, {}) for seller in self.state.listings}

    def shown(self, listing_id: str) -> int:
        return int(self.state.quantity_of(listing_id))

    def order_body(self, lines: Mapping[str, int]) -> dict[str, Any]:
        return {"lines": [{"sku": self.listing_id(s), "quantity": q} for s, q in lines.items()]}

    def order_id(self, answer: Any) -> str:
        return str(answer["AmazonOrderId"])

    def deliver_webhooks_to(self, url: str | None) -> None:
        target = amazon.NotificationTarget(url, self.notification_secret) if url else None
        with self.state.lock:
            self.state.notifications = target

    def apply_faults(self, changes: Mapping[str, Any]) -> None:
        named = {
            k.replace("_webhooks", "_notifications").replace("webhook_", "notification_"): v
            for k, v in changes.items()
        }
        with self.state.lock:
            self.state.faults = replace(self.state.faults, **named)

    def push_calls(self) -> int:
        with self.state.lock:
            return int(self.state.calls["patchListingsItem"] + self.state.calls["createFeed"])

    def api_calls(self) -> int:
        with self.state.lock:
            return sum(self.state.calls.values())

    def cancel_path(self, order_id: str) -> str:
        return f"/_sandbox/shopper/orders/{order_id}/cancel"


class CustomEmulator(Emulator):
    kind = "custom"
    faults = frozenset(
        {"latency_ms", "latency_jitter_ms", "error_rate", "seed", "throttle_next",
         "drop_webhooks", "duplicate_webhooks", "webhook_delay_ms"}
    )  # fmt: skip

    def __init__(
        self,
        name: str,
        clock: Callable[[], datetime],
        config: CustomChannelConfig | Mapping[str, Any] | str | Path = EXAMPLE_CUSTOM_CONFIG,
        **limits: Any,
    ) -> None:
        super().__init__(name, clock)
        loaded = (
            config if isinstance(config, CustomChannelConfig) else CustomChannelConfig.load(config)
        )
        auth = loaded.auth.model_copy(update={"value": SecretStr(_secret("Bearer "))})
        hook = loaded.webhook.model_copy(update={"secret": SecretStr(_secret())})
        self.config = loaded.model_copy(update={"name": name, "auth": auth, "webhook": hook})
        self.state = custom.CustomState(clock=clock, **limits)

    def add(self, sku: str, quantity: int, listing_id: str | None = None) -> str:
        with self.state.lock:
            return str(self.state.add_listing(sku, quantity, listing_id).listing_id)

    def app(self) -> Any:
        return custom.create_app(self.state, self.config)

    def fields(self, base_url: str) -> dict[str, Any]:
        config = custom.retarget(self.config, base_url)
        data: dict[str, Any] = config.model_dump(mode="json", exclude_none=True)
        data["auth"]["value"] = config.auth.value.get_secret_value()
        data["webhook"]["secret"] = config.webhook.secret.get_secret_value()
        return data

    def listings(self) -> Listings:
        with self.state.lock:
            return {x.sku: (x.listing_id, {}) for x in self.state.listings.values()}

    def shown(self, listing_id: str) -> int:
        return int(self.state.quantity_of(listing_id))

    def order_body(self, lines: Mapping[str, int]) -> dict[str, Any]:
        return {
            "lines": [{"listing_id": self.listing_id(s), "quantity": q} for s, q in lines.items()]
        }

    def order_id(self, answer: Any) -> str:
        return str(get_field(answer, self.config.orders.id_field))

    def deliver_webhooks_to(self, url: str | None) -> None:
        with self.state.lock:
            self.state.webhook_url = url

    def apply_faults(self, changes: Mapping[str, Any]) -> None:
        with self.state.lock:
            self.state.faults = replace(self.state.faults, **changes)

    def push_calls(self) -> int:
        push = self.config.push
        call = f"{push.method} {urlsplit(self.config.base_url).path.rstrip('/')}{push.path}"
        with self.state.lock:
            return int(self.state.calls[call])

    def api_calls(self) -> int:
        with self.state.lock:
            return sum(self.state.calls.values())

    def cancel_path(self, order_id: str) -> str:
        return f"/_sandbox/orders/{order_id}/cancel"


EMULATORS: dict[str, type[Emulator]] = {
    e.kind: e for e in (ShopifyEmulator, WooCommerceEmulator, AmazonEmulator, CustomEmulator)
}
KINDS = tuple(EMULATORS)


def emulator_for(kind: str, name: str, clock: Callable[[], datetime], **limits: Any) -> Emulator:
    """A fresh emulator state of ``kind``; ``limits`` go to its state (or, for custom, ``config``)."""
    if kind not in EMULATORS:
        raise ValueError(f"unknown emulator kind {kind!r}; one of {', '.join(KINDS)}")
    return EMULATORS[kind](name, clock, **limits)


def connector_from_fields(fields: Mapping[str, Any]) -> ChannelConnector:
    """The connector a channel config entry (``{"kind": ..., "name": ..., <fields>}``) describes,
    built by the channel registry as the channels file and the CLI build it."""
    rest = {k: v for k, v in fields.items() if k != "kind"}
    return build_connector(str(fields["kind"]), str(fields["name"]), rest)
