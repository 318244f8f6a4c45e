"""Allocation: how a pool of available stock becomes the quantity each channel lists."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stocksync.domain.allocation import Claim, bundle_pool, pool, sellable_quantities, shape
from stocksync.domain.model import ChannelPolicy

CHANNEL_NAMES = ["amazon-eu", "amazon-us", "shopify-main", "shopify-outlet", "woo-site", "ebay-de"]
SKUS = ["TEAL-MUG-350ML", "OAK-COASTER-4PK", "LINEN-TOWEL-50CM", "GIFT-BOX-S"]

pools = st.integers(min_value=0, max_value=300)
policies = st.builds(
    ChannelPolicy,
    buffer=st.integers(0, 40),
    max_listed=st.none() | st.integers(0, 200),
    share_pct=st.integers(0, 100),
    zero_below=st.integers(0, 40),
    last_units=st.integers(0, 40),
    last_seconds=st.sampled_from([0.0, 0.0, 2.5, 10.0]),
)
location_sets = st.frozensets(st.integers(1, 4), min_size=1, max_size=4)


@st.composite
def claim_lists(draw: st.DrawFn, pool_qty: int | None = None, last_units_at_least: int = 0):
    names = draw(st.lists(st.sampled_from(CHANNEL_NAMES), min_size=1, max_size=5, unique=True))
    locations = draw(location_sets) if pool_qty is not None else None
    claims = []
    for name in names:
        policy = draw(policies)
        if policy.last_units < last_units_at_least:
            policy = replace(policy, last_units=last_units_at_least)
        claims.append(
            Claim(
                channel=name,
                priority=draw(st.integers(0, 3)),
                pool=draw(pools) if pool_qty is None else pool_qty,
                policy=policy,
                locations=draw(location_sets) if locations is None else locations,
                rate=draw(st.sampled_from([0.0, 0.4, 3.0])),
            )
        )
    return claims


def claim(channel: str, pool_qty: int, priority: int = 0, locations=(1,), **policy: int) -> Claim:
    return Claim(channel, priority, pool_qty, ChannelPolicy(**policy), frozenset(locations))


# --- properties --------------------------------------------------------------------------------


@given(pools, policies)
def test_shape_lists_between_zero_and_the_pool(pool_qty: int, policy: ChannelPolicy) -> None:
    assert 0 <= shape(pool_qty, policy) <= pool_qty


@given(claim_lists())
def test_sellable_quantities_lie_between_zero_and_each_channels_pool(claims: list[Claim]) -> None:
    result = sellable_quantities(claims)
    assert set(result) == {c.channel for c in claims}
    for c in claims:
        assert 0 <= result[c.channel] <= c.pool
        assert result[c.channel] in (0, shape(c.pool, c.policy))


@given(pools, st.integers(0, 100), policies)
def test_a_bigger_pool_never_shapes_to_fewer_units(pool_qty: int, extra: int, policy) -> None:
    assert shape(pool_qty + extra, policy) >= shape(pool_qty, policy)


@given(claim_lists(), st.data())
def test_a_bigger_pool_never_lists_less_on_that_channel_when_the_others_are_fixed(
    claims: list[Claim], data: st.DataObject
) -> None:
    # What holds: a channel's own listing is non-decreasing in its own pool. It may jump from
    # hidden (0) to shown once the pool passes last_units. Other channels are NOT monotone in
    # this channel's pool: see the example test below.
    i = data.draw(st.integers(0, len(claims) - 1))
    extra = data.draw(st.integers(1, 100))
    grown = list(claims)
    c = claims[i]
    grown[i] = replace(c, pool=c.pool + extra)
    assert sellable_quantities(grown)[c.channel] >= sellable_quantities(claims)[c.channel]


@st.composite
def shared_low_pool(draw: st.DrawFn) -> list[Claim]:
    pool_qty = draw(st.integers(0, 40))
    return draw(claim_lists(pool_qty=pool_qty, last_units_at_least=pool_qty))


@given(shared_low_pool())
def test_on_shared_stock_at_or_below_every_last_units_only_the_top_ranked_channel_shows_it(
    claims: list[Claim],
) -> None:
    result = sellable_quantities(claims)
    showing = [ch for ch, qty in result.items() if qty > 0]
    assert len(showing) <= 1
    would_show = [c for c in claims if shape(c.pool, c.policy) > 0]
    if would_show:
        top = min(would_show, key=lambda c: (-c.priority, c.channel))
        assert showing == [top.channel]
        assert result[top.channel] == shape(top.pool, top.policy)
    else:
        assert showing == []


@st.composite
def pool_above_every_last_units(draw: st.DrawFn) -> list[Claim]:
    claims = draw(claim_lists())
    return [replace(c, pool=c.pool + c.last_units + 1) for c in claims]


@given(pool_above_every_last_units())
def test_above_every_last_units_the_guard_changes_nothing(claims: list[Claim]) -> None:
    assert sellable_quantities(claims) == {c.channel: shape(c.pool, c.policy) for c in claims}


@given(claim_lists())
def test_channels_sharing_no_location_are_not_hidden_by_each_others_guard(claims) -> None:
    apart = [
        replace(c, locations=frozenset({10 * n + loc for loc in c.locations}))
        for n, c in enumerate(claims)
    ]
    assert sellable_quantities(apart) == {c.channel: shape(c.pool, c.policy) for c in apart}


@given(
    st.dictionaries(st.sampled_from(SKUS), st.integers(-10, 200)),
    st.dictionaries(st.sampled_from(SKUS), st.integers(1, 6), min_size=1),
)
def test_bundle_pool_is_the_most_bundles_the_scarcest_component_allows(
    component_pools: dict[str, int], components: dict[str, int]
) -> None:
    bundles = bundle_pool(component_pools, components)
    assert bundles >= 0
    for sku, qty in components.items():
        assert bundles * qty <= max(0, component_pools.get(sku, 0))
    assert any((bundles + 1) * qty > component_pools.get(sku, 0) for sku, qty in components.items())


# --- policy knobs by example -------------------------------------------------------------------


def test_buffer_holds_units_back_from_the_channel() -> None:
    assert shape(10, ChannelPolicy(buffer=3)) == 7


def test_buffer_larger_than_the_pool_lists_nothing() -> None:
    assert shape(2, ChannelPolicy(buffer=5)) == 0


def test_max_listed_caps_what_the_channel_shows() -> None:
    assert shape(120, ChannelPolicy(max_listed=25)) == 25
    assert shape(10, ChannelPolicy(max_listed=25)) == 10


def test_max_listed_of_zero_lists_nothing() -> None:
    assert shape(50, ChannelPolicy(max_listed=0)) == 0


def test_share_percentage_rounds_down() -> None:
    assert shape(7, ChannelPolicy(share_pct=50)) == 3
    assert shape(9, ChannelPolicy(share_pct=33)) == 2


def test_share_percentage_applies_to_the_pool_after_the_buffer() -> None:
    assert shape(12, ChannelPolicy(buffer=2, share_pct=50)) == 5


def test_max_listed_applies_after_the_share() -> None:
    assert shape(100, ChannelPolicy(share_pct=50, max_listed=40)) == 40
    assert shape(60, ChannelPolicy(share_pct=50, max_listed=40)) == 30


def test_pool_at_or_below_the_zero_below_threshold_lists_nothing() -> None:
    policy = ChannelPolicy(zero_below=3)
    assert shape(2, policy) == 0
    assert shape(3, policy) == 0
    assert shape(4, policy) == 4


@pytest.mark.parametrize(
    "bad",
    [
        {"buffer": -1},
        {"zero_below": -1},
        {"last_units": -1},
        {"last_seconds": -0.5},
        {"last_seconds": float("inf")},
        {"last_seconds": float("nan")},
        {"max_listed": -1},
        {"share_pct": -1},
        {"share_pct": 101},
    ],
)
def test_invalid_policy_values_raise_value_error(bad: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        ChannelPolicy(**bad)


def test_bundle_pool_with_no_components_raises_value_error() -> None:
    with pytest.raises(ValueError):
        bundle_pool({"TEAL-MUG-350ML": 10}, {})


def test_bundle_pool_counts_whole_gift_sets_from_the_scarcest_component() -> None:
    stock = {"TEAL-MUG-350ML": 9, "OAK-COASTER-4PK": 3}
    assert bundle_pool(stock, {"TEAL-MUG-350ML": 2, "OAK-COASTER-4PK": 1}) == 3
    assert bundle_pool(stock, {"TEAL-MUG-350ML": 2, "GIFT-BOX-S": 1}) == 0


def test_pool_sums_the_channels_locations_and_counts_a_shortfall_against_them() -> None:
    available = {1: 8, 2: -3, 3: 50}
    assert pool(available, [1, 2]) == 5
    assert pool(available, [2]) == 0
    assert pool(available, [1, 4]) == 8


# --- last-units guard by example ---------------------------------------------------------------


def test_last_units_go_to_the_highest_priority_channel() -> None:
    claims = [
        claim("amazon-eu", 2, priority=20, last_units=2),
        claim("shopify-main", 2, priority=30, last_units=2),
        claim("woo-site", 2, priority=10, last_units=2),
    ]
    assert sellable_quantities(claims) == {"amazon-eu": 0, "shopify-main": 2, "woo-site": 0}


def test_the_guard_grows_to_what_the_sku_sells_in_the_channels_last_seconds() -> None:
    def shown_at(pool_qty: int, rate: float) -> dict[str, int]:
        return sellable_quantities(
            [
                claim("shopify-main", pool_qty, priority=30, last_units=2),
                replace(claim("amazon-eu", pool_qty, 20, last_units=2, last_seconds=5), rate=rate),
                replace(claim("woo-site", pool_qty, priority=10, last_units=2), rate=rate),
            ]
        )

    # No sales lately: the fixed guard of 2. At 3 units/s the guard of amazon-eu covers 5 s of
    # sales, 15 units; woo-site has no last_seconds; the top channel keeps the last units.
    assert shown_at(15, rate=0.0) == {"shopify-main": 15, "amazon-eu": 15, "woo-site": 15}
    assert shown_at(15, rate=3.0) == {"shopify-main": 15, "amazon-eu": 0, "woo-site": 15}
    assert shown_at(16, rate=3.0) == {"shopify-main": 16, "amazon-eu": 16, "woo-site": 16}
    assert shown_at(2, rate=0.1) == {"shopify-main": 2, "amazon-eu": 0, "woo-site": 0}


def test_last_units_tie_goes_to_the_channel_name_sorting_first() -> None:
    claims = [claim("woo-site", 1, last_units=3), claim("amazon-eu", 1, last_units=3)]
    assert sellable_quantities(claims) == {"woo-site": 0, "amazon-eu": 1}


def test_a_top_channel_that_shows_nothing_does_not_hide_the_last_units() -> None:
    claims = [
        claim("shopify-main", 2, priority=30, last_units=2, zero_below=5),
        claim("amazon-eu", 2, priority=20, last_units=2),
    ]
    assert sellable_quantities(claims) == {"shopify-main": 0, "amazon-eu": 2}


def test_growing_one_channels_pool_can_hide_a_lower_ranked_channel() -> None:
    amazon = claim("amazon-eu", 3, priority=20, locations=(2,), last_units=3)
    before = [claim("shopify-main", 0, priority=30, locations=(1, 2), last_units=3), amazon]
    after = [claim("shopify-main", 2, priority=30, locations=(1, 2), last_units=3), amazon]
    assert sellable_quantities(before) == {"shopify-main": 0, "amazon-eu": 3}
    assert sellable_quantities(after) == {"shopify-main": 2, "amazon-eu": 0}


def test_a_channel_hidden_by_the_guard_does_not_hide_the_channels_below_it() -> None:
    # shopify-main sells from berlin (1), amazon-eu from berlin and leeds (1, 2), woo-site from leeds.
    claims = [
        claim("shopify-main", 2, priority=3, locations=(1,), last_units=2),
        claim("amazon-eu", 2, priority=2, locations=(1, 2), last_units=2),
        claim("woo-site", 1, priority=1, locations=(2,), last_units=2),
    ]

    # amazon-eu yields to shopify-main; leeds' last unit still shows on woo-site
    assert sellable_quantities(claims) == {"shopify-main": 2, "amazon-eu": 0, "woo-site": 1}


@pytest.mark.parametrize("components", [{"TEAL-MUG-350ML": 0}, {"TEAL-MUG-350ML": -1}])
def test_bundle_pool_refuses_a_component_quantity_that_is_not_positive(
    components: dict[str, int],
) -> None:
    with pytest.raises(ValueError):
        bundle_pool({"TEAL-MUG-350ML": 5}, components)
