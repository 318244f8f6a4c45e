"""The shopper stream: deterministic per seed, arriving at the scenario's rates."""

from __future__ import annotations

import random
import re
from collections import Counter

import pytest

from stocksync.simulate.catalog import build_catalog
from stocksync.simulate.records import Cancel, Checkout, Return
from stocksync.simulate.scenario import Bundle, Burst, CatalogSpec, ChannelSpec, Scenario
from stocksync.simulate.stream import draw_stream, event_key

CHANNELS = (
    ChannelSpec(name="shopify-main", kind="shopify", share_of_orders=0.5),
    ChannelSpec(name="amazon-eu", kind="amazon", share_of_orders=0.3),
    ChannelSpec(name="woo-site", kind="woocommerce", share_of_orders=0.2),
)


def scenario(**fields: object) -> Scenario:
    fields.setdefault("catalog", CatalogSpec(skus=50, units_per_line_max=3))
    return Scenario(name="stream", channels=CHANNELS, **fields)  # type: ignore[arg-type]


def stream_of(s: Scenario) -> list[Checkout | Cancel | Return]:
    return draw_stream(s, build_catalog(s))


def checkouts(events: list[Checkout | Cancel | Return]) -> list[Checkout]:
    return [e for e in events if isinstance(e, Checkout)]


def test_the_same_seed_draws_the_same_stream_and_another_seed_another() -> None:
    first = stream_of(scenario(seed=5, hours=6))
    assert first == stream_of(scenario(seed=5, hours=6))
    assert first != stream_of(scenario(seed=6, hours=6))


def test_the_stream_uses_its_own_generator_not_the_global_one() -> None:
    random.seed(99)
    before = random.getstate()
    a = stream_of(scenario(seed=5, hours=2))
    assert random.getstate() == before
    random.random()
    assert stream_of(scenario(seed=5, hours=2)) == a


def test_events_are_sorted_with_unique_refs() -> None:
    events = stream_of(scenario(seed=3, hours=12))
    assert events == sorted(events, key=event_key)
    refs = [c.ref for c in checkouts(events)]
    assert len(set(refs)) == len(refs)
    assert all(re.fullmatch(r"o\d{6}", ref) for ref in refs)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_mean_arrivals_match_orders_per_day_over_a_long_run(seed: int) -> None:
    # 10 days × 2,000 a day: 20,000 expected, standard deviation ~141
    n = len(checkouts(stream_of(scenario(seed=seed, hours=240, orders_per_day=2000))))
    assert abs(n - 20_000) < 600


def test_the_daily_curve_places_the_arrivals() -> None:
    curve = [0.0] * 24
    curve[3], curve[15] = 1.0, 3.0
    orders = checkouts(stream_of(scenario(hours=96, orders_per_day=2000, daily_curve=curve)))
    hours = Counter(int(c.t // 3600) % 24 for c in orders)
    assert set(hours) == {3, 15}
    assert hours[15] / hours[3] == pytest.approx(3.0, rel=0.15)
    assert len(orders) == pytest.approx(8000, rel=0.05)  # the curve keeps the day's mean


def test_the_start_hour_shifts_the_curve() -> None:
    curve = [0.0] * 24
    curve[20] = 1.0
    orders = checkouts(stream_of(scenario(hours=4, start_hour=18, daily_curve=curve)))
    assert orders and all(2 * 3600 <= c.t < 3 * 3600 for c in orders)


def test_a_burst_multiplies_the_rate_while_it_lasts() -> None:
    burst = Burst(start_h=10, minutes=120, factor=5)
    orders = checkouts(stream_of(scenario(hours=24, orders_per_day=4000, bursts=(burst,))))
    inside = sum(10 * 3600 <= c.t < 12 * 3600 for c in orders)
    before = sum(0 <= c.t < 10 * 3600 for c in orders) / 5  # per 2 hours
    assert inside / before == pytest.approx(5.0, rel=0.15)


def test_a_burst_gives_its_sku_share_to_its_skus() -> None:
    burst = Burst(start_h=0, minutes=600, factor=1, skus=("top:2",), sku_share=0.6)
    catalog = CatalogSpec(skus=50, zipf_s=0.0, two_lines_share=0.0)
    orders = checkouts(stream_of(scenario(hours=10, catalog=catalog, bursts=(burst,))))
    lines = Counter(sku for c in orders for sku, _ in c.lines)
    top = (lines["SIM-0001"] + lines["SIM-0002"]) / sum(lines.values())
    assert top == pytest.approx(0.6 + 0.4 * 2 / 50, abs=0.04)
    assert lines["SIM-0001"] == pytest.approx(lines["SIM-0002"], rel=0.2)


def test_channels_and_bundles_take_their_shares() -> None:
    kit = Bundle(sku="KIT", components=(("SIM-0001", 1), ("SIM-0002", 1)), share_of_orders=0.2)
    catalog = CatalogSpec(skus=50, bundles=(kit,), two_lines_share=0.0)
    orders = checkouts(stream_of(scenario(hours=48, orders_per_day=3000, catalog=catalog)))
    channels = Counter(c.channel for c in orders)
    assert channels["shopify-main"] / len(orders) == pytest.approx(0.5, abs=0.03)
    assert channels["woo-site"] / len(orders) == pytest.approx(0.2, abs=0.03)
    kits = sum(c.lines[0][0] == "KIT" for c in orders)
    assert kits / len(orders) == pytest.approx(0.2, abs=0.03)


def test_a_checkout_has_one_line_or_two_distinct_ones_of_allowed_units() -> None:
    orders = checkouts(stream_of(scenario(hours=48, orders_per_day=3000)))
    assert {len(c.lines) for c in orders} == {1, 2}
    assert all(len({sku for sku, _ in c.lines}) == len(c.lines) for c in orders)
    assert {units for c in orders for _, units in c.lines} == {1, 2, 3}
    two = sum(len(c.lines) == 2 for c in orders) / len(orders)
    assert two == pytest.approx(0.15, abs=0.03)


def test_each_checkout_draws_at_most_one_follow_up_at_its_rate() -> None:
    s = scenario(hours=240, orders_per_day=2000, cancel_rate=0.1, return_rate=0.2,
                 cancel_after_min=30, return_after_h=2)  # fmt: skip
    events = stream_of(s)
    orders = {c.ref: c for c in checkouts(events)}
    cancels = [e for e in events if isinstance(e, Cancel)]
    returns = [e for e in events if isinstance(e, Return)]
    refs = [e.ref for e in cancels + returns]
    assert len(set(refs)) == len(refs)
    assert len(cancels) / len(orders) == pytest.approx(0.1, abs=0.01)
    assert len(returns) / len(orders) == pytest.approx(0.2, abs=0.015)
    delays = [e.t - orders[e.ref].t for e in cancels]
    assert min(delays) > 0
    assert sum(delays) / len(delays) == pytest.approx(1800, rel=0.1)
    for back in returns:
        bought = dict(orders[back.ref].lines)
        assert back.t > orders[back.ref].t
        assert back.lines and all(1 <= units <= bought[sku] for sku, units in back.lines)
    assert any(len(r.lines) < len(orders[r.ref].lines) for r in returns)  # one line of two


def test_follow_ups_beyond_the_end_are_dropped() -> None:
    s = scenario(hours=2, orders_per_day=20000, cancel_rate=0.5, return_rate=0.5,
                 cancel_after_min=60, return_after_h=24)  # fmt: skip
    events = stream_of(s)
    follow = [e for e in events if not isinstance(e, Checkout)]
    assert all(e.t <= s.end_t for e in follow)
    # half the checkouts are cancelled (mean 1 h later) and half returned (mean 24 h later)
    assert len(follow) < 0.5 * len(checkouts(events))
    assert any(isinstance(e, Cancel) for e in follow)
