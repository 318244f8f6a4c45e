"""Where a Shopify shop is and how the connector talks to it (secrets kept out of ``repr``)."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ShopifyConfig"]


@dataclass(frozen=True, slots=True)
class ShopifyConfig:
    """Where a shop is and how to talk to it."""

    name: str
    shop_url: str
    """``https://{shop}.myshopify.com`` (or an emulator's base URL)."""
    access_token: str = field(repr=False)
    api_version: str = "2026-01"
    webhook_secret: str = field(default="", repr=False)
    """The app's client secret: it signs webhooks."""
    location_id: str | None = "gid://shopify/Location/124656943"
    """The location whose ``available`` counts this connector pushes and reads."""
    timeout_s: float = 10.0
    delta_pushes: bool = True
    """Push a change of a count we know as a delta (``inventoryAdjustQuantities``): it cannot go
    stale under the shop's own sales, and the count it met tells which of them we have not heard
    of. False: every push is a compare-and-set of the whole count (``inventorySetQuantities``)."""
    reason: str = "correction"
    reference_document_uri: str = "gid://stocksync/Sync/quantities"
    max_throttle_retries: int = 5
    mutation_replays: int = 1
    """Times a mutation whose answer was lost (5xx, timeout) is sent again at once under its
    idempotency key (applied at most once); after that its outcome is unknown to the drain."""
    max_order_pages: int = 10
