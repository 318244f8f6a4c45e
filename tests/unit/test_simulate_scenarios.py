"""The shipped scenarios: they load, fit the live mode's limits, and the baselines oversell."""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path

import pytest

from stocksync.simulate.accounting import account
from stocksync.simulate.baselines import run_baseline
from stocksync.simulate.catalog import build_catalog
from stocksync.simulate.scenario import (
    Adversity,
    Bundle,
    Burst,
    CatalogSpec,
    ChannelSpec,
    Outage,
    Scenario,
    load_scenario,
)
from stocksync.simulate.stream import draw_stream, normalised_curve

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
SHIPPED = ["quiet-weekday", "flash-sale", "holiday-peak", "flash-sale-busy-host"]


def shipped(name: str) -> Scenario:
    return load_scenario(SCENARIOS / f"{name}.yaml")


@pytest.mark.parametrize("name", SHIPPED)
def test_a_shipped_scenario_loads_with_the_three_channels(name: str) -> None:
    s = shipped(name)
    assert s.name == name
    channels = {c.name: c for c in s.channels}
    assert list(channels) == ["shopify-main", "amazon-eu", "woo-site"]
    shop, amazon, woo = channels.values()
    assert (shop.kind, shop.priority, shop.last_units, shop.buffer) == ("shopify", 30, 5, 0)
    assert (amazon.kind, amazon.priority, amazon.buffer, amazon.last_units) == ("amazon", 20, 1, 5)
    assert (woo.kind, woo.priority, woo.buffer, woo.last_seconds) == ("woocommerce", 10, 1, 5.0)
    total = sum(c.share_of_orders for c in s.channels)
    assert [round(c.share_of_orders / total, 2) for c in s.channels] == [0.45, 0.35, 0.2]
    catalog = build_catalog(s)
    assert len(catalog.skus) == 200 and len(catalog.scarce) == 5 and len(catalog.bundles) == 3
    parts = [set(parts) for parts in catalog.bundles.values()]
    assert all(any(p & q for q in parts if q is not p) for p in parts)  # components shared
    assert (s.cancel_rate, s.return_rate) == (0.02, 0.05)


@pytest.mark.parametrize("name", SHIPPED)
def test_a_shipped_scenario_fits_what_the_live_mode_can_replay(name: str) -> None:
    s = shipped(name)
    base = s.orders_per_day / 86400.0 * s.compression  # real checkouts per second
    peak = base * max(normalised_curve(s.daily_curve)) * math.prod(b.factor for b in s.bursts)
    assert s.end_t / s.compression <= 240
    assert base <= 30
    assert peak <= 90


def test_the_busy_host_is_the_flash_sale_with_adversity() -> None:
    sale, busy = shipped("flash-sale"), shipped("flash-sale-busy-host")
    assert busy.adversity == Adversity(
        busy_processes=2, latency_ms=300, jitter_ms=200, webhook_delay_ms=500
    )
    same = dataclasses.replace(busy, name=sale.name, description=sale.description,
                               adversity=sale.adversity)  # fmt: skip
    assert same == sale


@pytest.mark.parametrize("mode", ["manual", "poll"])
def test_both_baselines_oversell_the_flash_sale(mode: str) -> None:
    s = shipped("flash-sale")
    catalog = build_catalog(s)
    run = run_baseline(s, catalog, draw_stream(s, catalog), mode)
    buffers = {c.name: c.buffer for c in s.channels}
    outcome = account(run, stock=catalog.stock, bundles=catalog.bundles, buffers=buffers,
                      end_t=s.end_t)  # fmt: skip
    assert outcome.oversold_orders > 0
    assert outcome.over_amazon_limit


def test_the_readme_documents_every_scenario_field() -> None:
    readme = (SCENARIOS / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `(\w+)` \|", readme, flags=re.MULTILINE))
    documented |= set(re.findall(r"`(\w+)` \(", readme))  # the outage's fields, in prose
    for cls in (Scenario, CatalogSpec, Bundle, ChannelSpec, Burst, Adversity, Outage):
        missing = {f.name for f in dataclasses.fields(cls)} - documented
        assert not missing, (cls.__name__, missing)
    for name in SHIPPED:
        assert f"`{name}.yaml`" in readme
