"""Builders for ledger test data with realistic names."""

from __future__ import annotations

from collections.abc import Sequence

from stocksync.domain.model import ChannelPolicy
from stocksync.ledger.catalog import import_catalog
from stocksync.ledger.config import ChannelInfo, LocationInfo, add_channel, add_location
from stocksync.ledger.service import Ledger


def add_locations(ledger: Ledger, *names: str) -> None:
    for name in names:
        ledger.run(lambda s, n=name: add_location(s, LocationInfo(n, "warehouse", "DE")))


def add_channels(ledger: Ledger, *specs: tuple[str, str, int] | ChannelInfo) -> None:
    """Channels as (name, kind, priority) or full ChannelInfo."""
    for spec in specs:
        info = spec if isinstance(spec, ChannelInfo) else ChannelInfo(spec[0], spec[1], spec[2])
        ledger.run(lambda s, i=info: add_channel(s, i))


def channel(
    name: str, kind: str, priority: int = 0, locations: Sequence[str] = (), **policy: int
) -> ChannelInfo:
    return ChannelInfo(name, kind, priority, ChannelPolicy(**policy), tuple(locations))


def load_catalog(ledger: Ledger, csv_text: str) -> None:
    ledger.run(lambda s: import_catalog(s, csv_text))


THREE_CHANNELS = (
    ("shopify-main", "shopify", 30),
    ("amazon-eu", "amazon", 20),
    ("woo-site", "woocommerce", 10),
)


def shop_with(ledger: Ledger, stock: dict[str, dict[str, int]], *, channels=THREE_CHANNELS) -> None:
    """Three channels listing every SKU in ``stock`` (SKU → location → on hand)."""
    add_channels(ledger, *channels)
    names = [c[0] if isinstance(c, tuple) else c.name for c in channels]
    lines = ["sku,location,on_hand," + ",".join(f"listing:{n}" for n in names)]
    for sku, by_loc in stock.items():
        for loc, qty in by_loc.items():
            lines.append(f"{sku},{loc},{qty}," + ",".join(f"{n}-{sku}" for n in names))
    load_catalog(ledger, "\n".join(lines) + "\n")
