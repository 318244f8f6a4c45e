"""The measured sync gap and the guard it sizes: pure rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from stocksync.domain.allocation import Claim, reserve, sellable_quantities
from stocksync.domain.listing_state import settled_at_zero
from stocksync.domain.model import ChannelPolicy
from stocksync.domain.sync_lag import (
    RECENT_S,
    SyncLag,
    gap_seconds,
    high_percentile,
    lag_of,
    settle_seconds,
    summarise,
)

LOC = frozenset({1})


def test_the_high_percentile_is_nearest_rank_over_the_samples_that_count() -> None:
    samples = [float(n) for n in range(1, 101)]  # 1 .. 100 s

    assert high_percentile(samples) == 99.0
    assert high_percentile(samples, 50) == 50.0
    assert high_percentile([]) == 0.0
    # a catch-up (an order read hours later) and a negative clock skew are not gaps
    assert high_percentile([0.5, 4000.0, -3.0]) == 0.5


def old(*lags: float) -> list[tuple[float, float]]:
    """Samples taken two minutes ago: only the percentile counts them."""
    return [(120.0, lag) for lag in lags]


def test_read_backs_say_when_a_push_showed_where_a_channel_has_them() -> None:
    lag = summarise(applied=old(0.2, 0.3), read_back=old(2.5, 3.0), orders=old(0.4, -0.1))

    assert lag == SyncLag(push_s=3.0, order_s=0.4, push_samples=2, order_samples=2, read_back=True)
    assert summarise(applied=old(0.2, 0.3), read_back=[], orders=[]).push_s == 0.3


def test_a_lag_that_grows_counts_as_soon_as_its_first_samples_arrive() -> None:
    steady = old(*[0.1] * 1000)
    burst = [(2.0, 4.0), (1.0, 5.0)]  # two late orders among a thousand: not 1% of them

    assert lag_of(steady) == 0.1
    assert lag_of(steady + burst) == 5.0
    assert lag_of(steady + [(RECENT_S + 1, 5.0)]) == 0.1  # no longer recent, and a rare one


def test_a_channels_gap_is_its_own_push_plus_the_latest_channels_orders() -> None:
    lags = {
        "amazon-eu": SyncLag(push_s=3.0, order_s=1.0),
        "woo-site": SyncLag(push_s=0.5, order_s=9.0),
        "shopify-main": SyncLag(push_s=0.2, order_s=0.8),
    }

    assert gap_seconds(lags, "amazon-eu") == pytest.approx(3.0 + 9.0)
    # its own late orders count too: until the ledger hears of them the pool looks larger
    assert gap_seconds(lags, "woo-site") == pytest.approx(0.5 + 9.0)
    assert gap_seconds({"woo-site": SyncLag(order_s=2.0)}, "amazon-eu") == 2.0
    assert gap_seconds({}, "woo-site") == 0.0


def _claims(amazon: ChannelPolicy, gap_s: float, rate: float, pool: int) -> list[Claim]:
    top = Claim("shopify-main", 30, pool, ChannelPolicy(last_units=2), LOC, rate, 0.0)
    return [top, Claim("amazon-eu", 20, pool, amazon, LOC, rate, gap_s)]


@pytest.mark.parametrize(
    ("policy", "gap_s", "threshold"),
    [
        (ChannelPolicy(last_units=2), 0.0, 2),  # nothing measured: the fixed guard
        (ChannelPolicy(last_units=2), 4.0, 12),  # 3/s × 4 s
        (ChannelPolicy(last_units=2, last_seconds=5), 4.0, 15),  # last_seconds is longer
        (ChannelPolicy(last_units=2, last_seconds=5), 6.0, 18),  # the measured gap is longer
        (ChannelPolicy(last_units=2, guard_max=8), 6.0, 8),  # capped ...
        (ChannelPolicy(last_units=10, guard_max=8), 6.0, 10),  # ... never below last_units
        (ChannelPolicy(last_units=2, measured_guard=False), 6.0, 2),  # the seller opted out
        (ChannelPolicy(), 6.0, 0),  # no guard at all: the gap adds none
    ],
)
def test_the_guard_covers_the_sales_of_the_measured_gap(
    policy: ChannelPolicy, gap_s: float, threshold: int
) -> None:
    _, amazon = _claims(policy, gap_s, rate=3.0, pool=14)

    assert amazon.last_units == threshold


def test_a_channel_whose_gap_outlasts_the_pool_lists_none_while_the_top_channel_keeps_it() -> None:
    claims = _claims(ChannelPolicy(last_units=2), gap_s=5.0, rate=3.0, pool=14)

    assert sellable_quantities(claims) == {"shopify-main": 14, "amazon-eu": 0}
    quiet = _claims(ChannelPolicy(last_units=2), gap_s=5.0, rate=0.0, pool=14)
    assert sellable_quantities(quiet) == {"shopify-main": 14, "amazon-eu": 14}


def _kept(
    top: ChannelPolicy,
    pool: int,
    amazon_rate: float = 3.0,
    *,
    amazon_settled: bool = False,
) -> list[Claim]:
    """Shopify keeps the last units; Amazon sells ``amazon_rate`` a second of the SKU's 4 and its
    orders reach the ledger 2 s late; Shopify's own 12 s late orders are off its own count."""
    amazon = ChannelPolicy(last_units=2)
    rate = amazon_rate + 1.0
    return [
        Claim("shopify-main", 30, pool, top, LOC, rate, 0.0, 1.0, 12.0),
        Claim("amazon-eu", 20, pool, amazon, LOC, rate, 4.0, amazon_rate, 2.0, amazon_settled),
    ]


def test_the_channel_keeping_the_last_units_holds_back_the_others_unheard_sales() -> None:
    # 4/s × 4 s hides Amazon below 17; Shopify lists the pool less Amazon's 3/s × 2 s
    assert sellable_quantities(_kept(ChannelPolicy(last_units=2), pool=14)) == {
        "shopify-main": 8, "amazon-eu": 0,
    }  # fmt: skip
    # down to the reserve: no one lists until the late orders arrive or Amazon settles
    assert sellable_quantities(_kept(ChannelPolicy(last_units=2), pool=5)) == {
        "shopify-main": 0, "amazon-eu": 0,
    }  # fmt: skip
    # Amazon sold nothing lately: nothing of its can be unheard (Shopify's own sales are the
    # SKU's rate, and they hide Amazon, but Shopify holds nothing back for itself)
    assert sellable_quantities(_kept(ChannelPolicy(last_units=2), pool=3, amazon_rate=0.0)) == {
        "shopify-main": 3, "amazon-eu": 0,
    }  # fmt: skip


def test_the_reserve_adds_each_other_channels_rate_times_its_own_lateness() -> None:
    top = ChannelPolicy(last_units=2)
    woo = Claim("woo-site", 10, 14, ChannelPolicy(last_units=2), LOC, 4.0, 4.0, 0.5, 3.0)
    claims = [*_kept(top, pool=14), woo]
    assert reserve(claims, claims[0]) == 8  # 3/s × 2 s + 0.5/s × 3 s = 7.5
    assert sellable_quantities(claims)["shopify-main"] == 6


def test_the_reserve_is_capped_and_only_where_the_guard_follows_the_gap() -> None:
    capped = _kept(ChannelPolicy(last_units=2, guard_max=4), pool=14)
    assert sellable_quantities(capped)["shopify-main"] == 10
    fixed = _kept(ChannelPolicy(last_units=2, measured_guard=False), pool=14)
    assert sellable_quantities(fixed)["shopify-main"] == 14
    # nothing behind it hidden: nothing kept, nothing reserved
    above = _kept(ChannelPolicy(last_units=2), pool=40)
    assert sellable_quantities(above) == {"shopify-main": 40, "amazon-eu": 40}


def test_a_channel_settled_at_zero_adds_nothing_to_the_reserve() -> None:
    top = ChannelPolicy(last_units=2)
    assert sellable_quantities(_kept(top, pool=5, amazon_settled=True)) == {
        "shopify-main": 5, "amazon-eu": 0,
    }  # fmt: skip
    # a third channel still showing stock (no guard, so never hidden) still counts
    unguarded = Claim("b2b-portal", 5, 5, ChannelPolicy(), LOC, 4.0, 0.0, 2.0, 1.0)
    claims = [*_kept(top, pool=5, amazon_settled=True), unguarded]
    assert sellable_quantities(claims)["shopify-main"] == 3
    # one that sells from another location has no say in this one's stock
    elsewhere = Claim("b2b-portal", 5, 5, ChannelPolicy(), frozenset({2}), 4.0, 0.0, 2.0, 1.0)
    claims = [*_kept(top, pool=5, amazon_settled=True), elsewhere]
    assert sellable_quantities(claims)["shopify-main"] == 5


T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expected", "unheard", "pushed_s_ago", "settled"),
    [
        (0, 0, 3.0, True),  # pushed to 0 longer ago than its orders take: every sale is in
        (0, 0, 1.0, False),  # orders taken before the push may still be on their way
        (-1, 0, 3.0, True),  # a late sale of its own took it below 0: heard of, in the pool
        (2, 0, 9.0, False),  # still shows stock
        (0, 1, 9.0, False),  # sold a unit the ledger has not heard of yet
        (None, 0, 9.0, False),  # nothing known of what it shows
        (0, 0, None, False),  # never pushed
    ],
)
def test_a_listing_settles_at_zero_once_its_orders_have_had_time_to_arrive(
    expected: int | None, unheard: int, pushed_s_ago: float | None, settled: bool
) -> None:
    pushed_at = None if pushed_s_ago is None else T0 - timedelta(seconds=pushed_s_ago)
    assert settled_at_zero(expected, unheard, pushed_at, 2.5, T0) is settled


def test_settling_takes_the_channels_own_push_to_shown_and_order_lateness() -> None:
    lags = {"amazon-eu": SyncLag(push_s=3.0, order_s=1.5), "woo-site": SyncLag(order_s=9.0)}
    assert settle_seconds(lags, "amazon-eu") == 4.5
    assert settle_seconds(lags, "shopify-main") == 0.0
