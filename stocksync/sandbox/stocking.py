"""What each sandbox channel should show, read from a catalog CSV (the ledger's import format).

A SKU is stocked on a channel when its ``listing:<channel>`` cell is filled; it shows the SKU's
``on_hand`` summed over locations, and a bundle shows as many sets as its components make. This
is a starting picture for an emulator, not the ledger's allocation (no buffers, no commitments).
The cell itself is the listing id the emulator serves the SKU under, so the ledger that imports
the same file pushes to the listings the emulators hold.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict

__all__ = [
    "KIND_HINTS",
    "LISTING_PREFIX",
    "channel_for_kind",
    "listing_ids_by_channel",
    "stock_by_channel",
]

LISTING_PREFIX = "listing:"
KIND_HINTS = {
    "shopify": ("shopify",),
    "woocommerce": ("woocommerce", "woo"),
    "amazon": ("amazon",),
    "custom": ("custom", "b2b", "portal"),
}
"""Words in a channel name that mark its kind (``woo-site`` is a WooCommerce channel)."""


def stock_by_channel(text: str) -> dict[str, dict[str, int]]:
    """Channel name → SKU → the quantity it shows, for every ``listing:<channel>`` column."""
    rows = list(csv.DictReader(io.StringIO(text)))
    channels = (
        [c[len(LISTING_PREFIX) :] for c in rows[0] if c.startswith(LISTING_PREFIX)] if rows else []
    )
    on_hand: dict[str, int] = defaultdict(int)
    recipes: dict[str, dict[str, int]] = {}
    listed: dict[str, list[str]] = {channel: [] for channel in channels}
    for row in rows:
        sku = row["sku"].strip()
        if row.get("components"):
            recipes[sku] = _components(row["components"])
        elif row.get("on_hand"):
            on_hand[sku] += int(row["on_hand"])
        for channel in channels:
            if (row.get(LISTING_PREFIX + channel) or "").strip() and sku not in listed[channel]:
                listed[channel].append(sku)
    return {
        channel: {sku: _shown(sku, on_hand, recipes) for sku in skus}
        for channel, skus in listed.items()
    }


def listing_ids_by_channel(text: str) -> dict[str, dict[str, str]]:
    """Channel name → SKU → the listing id its ``listing:<channel>`` cell names.

    A SKU's id may stand on any of its rows (the others left empty); ValueError when two of its
    rows name different ids for one channel.
    """
    ids: dict[str, dict[str, str]] = {}
    for row in csv.DictReader(io.StringIO(text)):
        sku = row["sku"].strip()
        for column, cell in row.items():
            if not (column or "").startswith(LISTING_PREFIX) or not (cell or "").strip():
                continue
            channel, listing_id = column[len(LISTING_PREFIX) :], cell.strip()
            known = ids.setdefault(channel, {}).setdefault(sku, listing_id)
            if known != listing_id:
                raise ValueError(
                    f"SKU {sku!r} has two listing ids on {channel}: {known!r} and {listing_id!r}"
                )
    return ids


def channel_for_kind(kind: str, channels: list[str]) -> str | None:
    """The first catalog channel whose name marks it as ``kind``, if any."""
    hints = KIND_HINTS.get(kind, (kind,))
    return next((c for c in channels if any(h in c.lower() for h in hints)), None)


def _components(text: str) -> dict[str, int]:
    recipe: dict[str, int] = {}
    for part in text.split(";"):
        sku, _, quantity = part.strip().partition("*")
        recipe[sku.strip()] = int(quantity or 1)
    return recipe


def _shown(sku: str, on_hand: dict[str, int], recipes: dict[str, dict[str, int]]) -> int:
    recipe = recipes.get(sku)
    if recipe is None:
        return on_hand.get(sku, 0)
    return min(_shown(part, on_hand, recipes) // units for part, units in recipe.items())
