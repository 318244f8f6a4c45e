"""The value rules of a scenario, checked after its types: each failure names the field path.

Kept apart from :mod:`stocksync.simulate.scenario` so the dataclasses read as the scenario's
description and this module as its rules (``channels[1].buffer: must be >= 0``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from stocksync.domain.model import ChannelKind

if TYPE_CHECKING:
    from stocksync.simulate.scenario import Adversity, Burst, CatalogSpec, Scenario

__all__ = ["ScenarioError", "check_scenario", "top_n"]

KINDS = tuple(sorted(kind.value for kind in ChannelKind))
_TOP = re.compile(r"top:(\d+)")


class ScenarioError(ValueError):
    """A scenario that cannot run; ``path`` names the field (``channels[1].buffer``)."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}" if path else problem)
        self.path = path
        self.problem = problem


def top_n(name: str) -> int | None:
    """N for a burst's ``top:N`` (the N most popular SKUs), None for a SKU name."""
    match = _TOP.fullmatch(name)
    return int(match.group(1)) if match else None


def check_scenario(s: Scenario) -> None:
    """Raise ScenarioError for the first value a scenario cannot run with."""
    _positive("hours", s.hours)
    if not 0 <= s.start_hour < 24:
        raise ScenarioError("start_hour", "must be >= 0 and < 24")
    _at_least("orders_per_day", s.orders_per_day)
    if len(s.daily_curve) != 24:
        raise ScenarioError("daily_curve", f"must have 24 entries, got {len(s.daily_curve)}")
    for hour, weight in enumerate(s.daily_curve):
        _at_least(f"daily_curve[{hour}]", weight)
    if sum(s.daily_curve) <= 0:
        raise ScenarioError("daily_curve", "needs at least one hour above 0")
    _share("cancel_rate", s.cancel_rate)
    _share("return_rate", s.return_rate)
    if s.cancel_rate + s.return_rate > 1:
        raise ScenarioError("return_rate", "cancel_rate + return_rate must be <= 1")
    _positive("cancel_after_min", s.cancel_after_min)
    _positive("return_after_h", s.return_after_h)
    _positive("manual_every_h", s.manual_every_h)
    _positive("poll_every_min", s.poll_every_min)
    _positive("compression", s.compression)
    if not s.location:
        raise ScenarioError("location", "must not be empty")
    _check_catalog(s.catalog)
    _check_channels(s)
    listed = set(s.catalog.sku_names()) | {b.sku for b in s.catalog.bundles}
    for i, burst in enumerate(s.bursts):
        _check_burst(f"bursts[{i}]", burst, listed, s.catalog.skus)
    _check_adversity(s.adversity, {c.name for c in s.channels})


def _check_catalog(c: CatalogSpec) -> None:
    _at_least("catalog.skus", c.skus, low=1)
    if not c.prefix:
        raise ScenarioError("catalog.prefix", "must not be empty")
    for name in ("zipf_s", "stock_days", "min_stock", "scarce_days"):
        _at_least(f"catalog.{name}", getattr(c, name))
    if not 0 <= c.scarce <= c.skus:
        raise ScenarioError("catalog.scarce", f"must be between 0 and catalog.skus ({c.skus})")
    _at_least("catalog.units_per_line_max", c.units_per_line_max, low=1)
    _share("catalog.two_lines_share", c.two_lines_share)
    plain = set(c.sku_names())
    seen: set[str] = set()
    for i, bundle in enumerate(c.bundles):
        where = f"catalog.bundles[{i}]"
        if bundle.sku in plain or bundle.sku in seen or not bundle.sku:
            raise ScenarioError(f"{where}.sku", f"must be a new, unique SKU name: {bundle.sku!r}")
        seen.add(bundle.sku)
        if not bundle.components:
            raise ScenarioError(f"{where}.components", "needs at least one component")
        names = [sku for sku, _ in bundle.components]
        if len(set(names)) != len(names):
            raise ScenarioError(f"{where}.components", "names a component twice")
        for j, (sku, units) in enumerate(bundle.components):
            if sku not in plain:
                raise ScenarioError(
                    f"{where}.components[{j}]", f"names no SKU of the catalog: {sku!r}"
                )
            _at_least(f"{where}.components[{j}]", units, low=1)
        _share(f"{where}.share_of_orders", bundle.share_of_orders)
    if sum(b.share_of_orders for b in c.bundles) > 1:
        raise ScenarioError("catalog.bundles", "their share_of_orders must add up to <= 1")


def _check_channels(s: Scenario) -> None:
    if not s.channels:
        raise ScenarioError("channels", "needs at least one channel")
    seen: set[str] = set()
    for i, ch in enumerate(s.channels):
        where = f"channels[{i}]"
        if not ch.name:
            raise ScenarioError(f"{where}.name", "must not be empty")
        if ch.name in seen:
            raise ScenarioError(f"{where}.name", f"duplicate channel name {ch.name!r}")
        seen.add(ch.name)
        if ch.kind not in KINDS:
            raise ScenarioError(f"{where}.kind", f"must be one of {', '.join(KINDS)}")
        for name in ("share_of_orders", "buffer", "last_units", "last_seconds"):
            _at_least(f"{where}.{name}", getattr(ch, name))
        if ch.guard_max is not None:
            _at_least(f"{where}.guard_max", ch.guard_max)
    if sum(ch.share_of_orders for ch in s.channels) <= 0:
        raise ScenarioError("channels", "at least one channel needs a share_of_orders above 0")


def _check_burst(where: str, b: Burst, listed: set[str], skus: int) -> None:
    _at_least(f"{where}.start_h", b.start_h)
    _positive(f"{where}.minutes", b.minutes)
    _positive(f"{where}.factor", b.factor)
    _share(f"{where}.sku_share", b.sku_share)
    if b.sku_share > 0 and not b.skus:
        raise ScenarioError(f"{where}.skus", "a burst with a sku_share needs SKUs")
    for j, name in enumerate(b.skus):
        n = top_n(name)
        if n is not None and not 1 <= n <= skus:
            raise ScenarioError(f"{where}.skus[{j}]", f"top:N needs N from 1 to {skus}")
        if n is None and name not in listed:
            raise ScenarioError(f"{where}.skus[{j}]", f"names no SKU of the catalog: {name!r}")


def _check_adversity(a: Adversity, channels: Iterable[str]) -> None:
    for name in ("busy_processes", "latency_ms", "jitter_ms", "webhook_delay_ms"):
        _at_least(f"adversity.{name}", getattr(a, name))
    known = set(channels)
    for i, outage in enumerate(a.outages):
        where = f"adversity.outages[{i}]"
        if outage.channel not in known:
            raise ScenarioError(
                f"{where}.channel", f"names no channel of this scenario: {outage.channel!r}"
            )
        _at_least(f"{where}.start_h", outage.start_h)
        _positive(f"{where}.minutes", outage.minutes)


def _at_least(where: str, value: float, *, low: float = 0) -> None:
    if value < low:
        raise ScenarioError(where, f"must be >= {low}")


def _positive(where: str, value: float) -> None:
    if value <= 0:
        raise ScenarioError(where, "must be > 0")


def _share(where: str, value: float) -> None:
    if not 0 <= value <= 1:
        raise ScenarioError(where, "must be between 0 and 1")
