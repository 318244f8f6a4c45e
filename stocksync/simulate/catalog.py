"""The simulated shop's catalog: a Zipf long tail of SKUs, their starting stock and bundles.

Stock is sized from expected sales so every scenario has the same shape whatever its volume:
most SKUs start with ``stock_days`` of sales, the few most popular start scarce (``scarce_days``),
and bundle sales are counted against their components. Bursts are left out of the expectation on
purpose: a flash sale is what runs the scarce SKUs out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from stocksync.simulate.scenario import Scenario

__all__ = ["SimCatalog", "build_catalog"]


@dataclass(frozen=True)
class SimCatalog:
    """What the shop sells and holds at the start; every channel lists :meth:`all_listed`."""

    skus: tuple[str, ...]
    """Plain SKUs by popularity rank, most popular first."""
    stock: dict[str, int]
    """Initial on hand of each plain SKU (one location)."""
    weights: dict[str, float]
    """Share of plain-SKU lines each SKU takes (Zipf, adding up to 1)."""
    bundles: dict[str, dict[str, int]]
    """Bundle SKU → component → units per bundle."""
    scarce: tuple[str, ...]
    """The SKUs that start with ``scarce_days`` of sales."""
    expected_daily: dict[str, float]
    """Expected units of each plain SKU sold per day, bundles' use of it included."""

    def scarcest(self) -> str:
        """The plain SKU whose starting stock covers the fewest expected hours (ties by name)."""
        return min(self.skus, key=lambda sku: (self.hours_covered(sku), sku))

    def hours_covered(self, sku: str) -> float:
        """Hours of expected sales the starting stock of ``sku`` covers (inf if none expected)."""
        daily = self.expected_daily.get(sku, 0.0)
        return math.inf if daily <= 0 else self.stock.get(sku, 0) / daily * 24.0

    def all_listed(self) -> tuple[str, ...]:
        """Every listing: the plain SKUs, then the bundles (a bundle is its own listing)."""
        return self.skus + tuple(self.bundles)


def build_catalog(scenario: Scenario) -> SimCatalog:
    """The catalog a scenario describes, deterministic (no randomness in it)."""
    spec = scenario.catalog
    skus = spec.sku_names()
    raw = [1.0 / rank**spec.zipf_s for rank in range(1, len(skus) + 1)]
    total = sum(raw)
    weights = {sku: w / total for sku, w in zip(skus, raw, strict=True)}
    # units per day over all lines: checkouts × lines per checkout × mean units per line
    units_per_day = (
        scenario.orders_per_day * (1.0 + spec.two_lines_share) * (1 + spec.units_per_line_max) / 2.0
    )
    bundle_share = sum(b.share_of_orders for b in spec.bundles)
    expected = {sku: units_per_day * (1.0 - bundle_share) * weights[sku] for sku in skus}
    for bundle in spec.bundles:
        for sku, per_bundle in bundle.components:
            expected[sku] += units_per_day * bundle.share_of_orders * per_bundle
    scarce = skus[: spec.scarce]
    stock = {
        sku: max(
            spec.min_stock,
            _whole(expected[sku] * (spec.scarce_days if sku in scarce else spec.stock_days)),
        )
        for sku in skus
    }
    bundles = {b.sku: dict(b.components) for b in spec.bundles}
    return SimCatalog(
        skus=skus,
        stock=stock,
        weights=weights,
        bundles=bundles,
        scarce=scarce,
        expected_daily=expected,
    )


def _whole(units: float) -> int:
    """``units`` rounded up, ignoring float noise (14.000000001 is 14)."""
    return math.ceil(units - 1e-9)
