"""A ledger wired to running Shopify and WooCommerce emulators, for the push pipeline tests."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update

from stocksync.channels.base import ChannelConnector, PushResult, PushStatus, QuantityPush
from stocksync.channels.shopify import ShopifyConfig, ShopifyConnector
from stocksync.channels.woocommerce import WooCommerceConfig, WooCommerceConnector
from stocksync.ledger.service import Ledger
from stocksync.ledger.tables import ChannelRow, ListingRow, SkuRow
from stocksync.sandbox.server import serve_in_thread
from stocksync.sandbox.shopify import DEFAULT_LOCATION, ShopifyState
from stocksync.sandbox.shopify import create_app as shopify_app
from stocksync.sandbox.woocommerce import WooState
from stocksync.sandbox.woocommerce import create_app as woo_app
from tests.factories import add_channels, load_catalog

SHOPIFY = "shopify-main"
WOO = "woo-site"
AMAZON = "amazon-eu"
"""Orders come from here; no connector, so it is never drained."""


class RecordingConnector:
    """The real connector, with every push and its result kept in order (and an optional hook)."""

    def __init__(
        self,
        inner: ChannelConnector,
        after_push: Callable[[Sequence[QuantityPush]], None] | None = None,
        *,
        max_batch: int | None = None,
        log: list[tuple[str, int, int | None, PushStatus]] | None = None,
        lock: threading.Lock | None = None,
    ) -> None:
        """``log`` and ``lock`` may be shared by several wrappers, to keep one global order."""
        self.inner = inner
        self.name = inner.name
        self.compare_and_set = inner.compare_and_set
        self.max_batch = max_batch or inner.max_batch
        self.after_push = after_push
        self.log = [] if log is None else log
        self._lock = lock or threading.Lock()

    def push_quantities(self, pushes: Sequence[QuantityPush]) -> list[PushResult]:
        # appended before the drain records the outcome (and frees the lease): real push order
        results = self.inner.push_quantities(pushes)
        with self._lock:
            # a push the connector rebased on a fresh count went out as that: log what was set
            self.log.extend(
                (p.listing_id, p.quantity, p.expected, r.status)
                if r.applied_quantity is None
                else (p.listing_id, r.applied_quantity, r.quantity_seen, r.status)
                for p, r in zip(pushes, results, strict=True)
            )
        if self.after_push is not None:
            self.after_push(pushes)
        return results

    def applied(self) -> list[tuple[str, int]]:
        return [(ext, q) for ext, q, _, status in self.log if status is PushStatus.APPLIED]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@dataclass
class Shops:
    shopify: ShopifyState
    woo: WooState
    items: dict[str, str] = field(default_factory=dict)
    """SKU → Shopify inventory item gid."""
    products: dict[str, int] = field(default_factory=dict)
    """SKU → WooCommerce product id."""
    connectors: dict[str, RecordingConnector] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)

    def new_connectors(self) -> dict[str, ChannelConnector]:
        """A fresh, unwrapped connector per channel (one per thread); closed with the shops."""
        made: dict[str, ChannelConnector] = {
            SHOPIFY: _shopify(self.shopify, self.urls[SHOPIFY]),
            WOO: _woo(self.urls[WOO]),
        }
        self.opened.extend(made.values())
        return made

    opened: list[ChannelConnector] = field(default_factory=list)

    def shows(self, sku: str) -> dict[str, int | None]:
        return {
            SHOPIFY: self.shopify.available(self.items[sku]),
            WOO: self.woo.stock_of(self.products[sku]),
        }


@contextmanager
def running_shops(skus: Sequence[str]) -> Iterator[Shops]:
    """Both emulators on loopback ports, each listing ``skus`` with a count of 0."""
    shops = Shops(ShopifyState(), WooState(consumer_key="ck_teal", consumer_secret="cs_teal"))
    for sku in skus:
        shops.items[sku] = shops.shopify.stock(sku, 0)
        shops.products[sku] = shops.woo.add_product(sku, 0).id
    shopify_url, stop_shopify = serve_in_thread(shopify_app(shops.shopify))
    woo_url, stop_woo = serve_in_thread(woo_app(shops.woo))
    shops.urls = {SHOPIFY: shopify_url, WOO: woo_url}
    made = shops.new_connectors()
    shops.connectors = {name: RecordingConnector(conn) for name, conn in made.items()}
    try:
        yield shops
    finally:
        for conn in shops.opened:
            conn.close()
        stop_shopify()
        stop_woo()


def _shopify(state: ShopifyState, url: str) -> ShopifyConnector:
    config = ShopifyConfig(
        name=SHOPIFY, shop_url=url, access_token=state.access_token,
        webhook_secret=state.app_secret, timeout_s=5.0,
    )  # fmt: skip
    return ShopifyConnector(config)


def _woo(url: str) -> WooCommerceConnector:
    config = WooCommerceConfig(
        name=WOO, base_url=url, consumer_key="ck_teal", consumer_secret="cs_teal",
        webhook_secret="wh", timeout_s=5.0,
    )  # fmt: skip
    return WooCommerceConnector(config)


def list_in_ledger(ledger: Ledger, shops: Shops, stock: dict[str, int]) -> None:
    """Three channels, ``stock`` on hand in one warehouse, listings keyed as each shop keys them."""
    add_channels(ledger, (SHOPIFY, "shopify", 30), (AMAZON, "amazon", 20), (WOO, "woocommerce", 10))
    rows = ["sku,location,on_hand,listing:shopify-main,listing:amazon-eu,listing:woo-site"]
    rows += [
        f"{sku},berlin,{qty},{shops.items[sku]},AMZ-{sku},{shops.products[sku]}"
        for sku, qty in stock.items()
    ]
    load_catalog(ledger, "\n".join(rows) + "\n")
    refs = {
        gid: {"inventory_item_id": gid, "location_id": DEFAULT_LOCATION}
        for gid in shops.items.values()
    }
    ledger.run(lambda s: _set_refs(s, refs))


def _set_refs(session: Any, refs: dict[str, dict[str, str]]) -> None:
    shopify_id = session.execute(select(ChannelRow.id).where(ChannelRow.name == SHOPIFY)).scalar()
    for ext, value in refs.items():
        session.execute(
            update(ListingRow)
            .where(ListingRow.channel_id == shopify_id, ListingRow.external_id == ext)
            .values(external_refs=value)
        )


@dataclass(frozen=True)
class ListingView:
    desired: int
    expected: int | None
    pushed: int | None
    version: int
    pushed_version: int
    dirty: bool
    attempts: int
    last_error: str | None
    next_attempt_at: Any
    lease_owner: str | None
    unheard: int


def listing(ledger: Ledger, channel: str, sku: str) -> ListingView:
    stmt = (
        select(
            ListingRow.desired_qty,
            ListingRow.expected_qty,
            ListingRow.pushed_qty,
            ListingRow.version,
            ListingRow.pushed_version,
            ListingRow.dirty,
            ListingRow.attempts,
            ListingRow.last_error,
            ListingRow.next_attempt_at,
            ListingRow.lease_owner,
            ListingRow.unheard_qty,
        )  # fmt: skip
        .join(ChannelRow, ChannelRow.id == ListingRow.channel_id)
        .join(SkuRow, SkuRow.id == ListingRow.sku_id)
        .where(ChannelRow.name == channel, SkuRow.sku == sku)
    )
    return ListingView(*ledger.run(lambda s: s.execute(stmt).one()))
