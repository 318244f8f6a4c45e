"""Explaining a listing: the steps of the rules, ending on the quantity the rules give."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from stocksync.domain.allocation import Claim, sellable_quantities
from stocksync.domain.explain import (
    Available,
    Buffer,
    Bundle,
    BundlePart,
    Guard,
    Listed,
    MaxListed,
    Pool,
    Reserve,
    Share,
    StockAt,
    Unheard,
    ZeroOut,
    explain_sku,
)
from stocksync.domain.listing_state import settled_at_zero
from stocksync.domain.model import ChannelPolicy
from stocksync.domain.sync_lag import Gap
from stocksync.ledger.listings import ListingWithRules, desired_quantities

CHANNELS = ["shopify-main", "amazon-eu", "woo-site", "b2b-portal"]
LOCATIONS = {1: "berlin-dc", 2: "leeds-3pl", 3: "madrid-store"}
COMPONENTS = {10: "TEAL-MUG-350ML", 11: "OAK-COASTER", 12: "LINEN-NAPKIN-GREY"}
BUNDLE_ID, PLAIN_ID = 20, 10
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)

policies = st.builds(
    ChannelPolicy,
    buffer=st.integers(0, 12),
    max_listed=st.none() | st.integers(0, 60),
    share_pct=st.integers(0, 100),
    zero_below=st.integers(0, 12),
    last_units=st.integers(0, 15),
    last_seconds=st.sampled_from([0.0, 0.0, 2.5, 5.0]),
    measured_guard=st.booleans(),
    guard_max=st.none() | st.integers(0, 20),
)


@dataclass(frozen=True)
class Case:
    """One listed SKU (plain, or a bundle) on several channels, in both shapes: the ledger's ids
    for :func:`desired_quantities`, names for :func:`explain_sku`."""

    listings: list[ListingWithRules]
    stock: dict[int, dict[int, tuple[int, int]]]
    feeds: dict[int, frozenset[int]]
    recipe: dict[int, int] | None
    rates: dict[int, float]
    gaps: dict[int, Gap]
    channel_rates: dict[tuple[int, int], float]

    @property
    def sku_id(self) -> int:
        return BUNDLE_ID if self.recipe else PLAIN_ID

    def desired(self) -> dict[str, int]:
        available = {
            s: {loc: on - com for loc, (on, com) in by_loc.items()}
            for s, by_loc in self.stock.items()
        }
        recipes = {BUNDLE_ID: self.recipe} if self.recipe else {}
        by_id = desired_quantities(
            self.listings, available, self.feeds, recipes, self.rates, self.gaps, NOW,
            channel_rates=self.channel_rates,
        )  # fmt: skip
        return {row.channel: by_id[row.id] for row in self.listings}

    def explained(self) -> dict[str, int]:
        stock = [
            StockAt(COMPONENTS[s], loc, LOCATIONS[loc], on, com)
            for s, by_loc in self.stock.items()
            for loc, (on, com) in by_loc.items()
        ]
        listed = []
        for row in self.listings:
            gap = self.gaps.get(row.channel_id, Gap())
            feeds = self.feeds.get(row.channel_id, frozenset())
            settled = settled_at_zero(
                row.expected_qty, row.unheard_qty, row.pushed_at, gap.settle_s, NOW
            )
            listed.append(
                Listed(row.channel, row.priority, row.policy, feeds, gap.guard_s, gap.own_late_s,
                       settled)
            )  # fmt: skip
        components = {COMPONENTS[c]: n for c, n in self.recipe.items()} if self.recipe else None
        rates = {COMPONENTS[s]: r for s, r in self.rates.items()}
        names = {row.channel_id: row.channel for row in self.listings}
        channel_rates = {(COMPONENTS[s], names[ch]): r for (s, ch), r in self.channel_rates.items()}
        sku = "MUG-GIFT-SET" if self.recipe else COMPONENTS[PLAIN_ID]
        result = explain_sku(sku, listed, stock, components, rates, channel_rates)
        return {channel: e.qty for channel, e in result.items()}


@st.composite
def cases(draw: st.DrawFn) -> Case:
    bundle = draw(st.booleans())
    recipe = (
        draw(st.dictionaries(st.sampled_from(list(COMPONENTS)), st.integers(1, 4), min_size=1))
        if bundle
        else None
    )
    stocked = list(recipe) if recipe else [PLAIN_ID]
    stock: dict[int, dict[int, tuple[int, int]]] = {}
    for sku in stocked:
        locs = draw(st.lists(st.sampled_from(list(LOCATIONS)), max_size=3, unique=True))
        stock[sku] = {}
        for loc in locs:
            on_hand = draw(st.integers(0, 80))
            # a count may leave a location committed beyond its stock: it counts against the pool
            stock[sku][loc] = (on_hand, draw(st.integers(0, on_hand + 5)))
    names = draw(st.lists(st.sampled_from(CHANNELS), min_size=1, max_size=4, unique=True))
    listings = [
        ListingWithRules(
            id=n + 1,
            channel_id=n + 1,
            sku_id=BUNDLE_ID if recipe else PLAIN_ID,
            desired_qty=0,
            expected_qty=draw(st.sampled_from([None, 0, 0, 3])),
            version=0,
            dirty=False,
            channel=name,
            priority=draw(st.integers(0, 3)),
            policy=draw(policies),
            unheard_qty=draw(st.sampled_from([0, 0, 0, 1])),
            pushed_at=draw(st.sampled_from([None, NOW - timedelta(seconds=5), NOW])),
        )
        for n, name in enumerate(names)
    ]
    feeds = {
        row.channel_id: draw(st.frozensets(st.sampled_from(list(LOCATIONS)), min_size=1))
        for row in listings
        if draw(st.booleans())
    }
    rates = draw(st.dictionaries(st.sampled_from(stocked), st.floats(0, 8, allow_nan=False)))
    seconds = st.sampled_from([0.0, 0.0, 0.4, 2.5, 7.0])
    gaps = {
        row.channel_id: Gap(draw(seconds), draw(seconds), draw(seconds))
        for row in listings
        if draw(st.booleans())
    }
    channel_rates = {
        (sku, row.channel_id): draw(st.floats(0, 4, allow_nan=False))
        for sku in stocked
        for row in listings
        if draw(st.booleans())
    }
    return Case(listings, stock, feeds, recipe, rates, gaps, channel_rates)


@settings(max_examples=400)
@given(cases())
def test_the_explained_quantity_is_what_the_ledger_computes_for_every_input(case: Case) -> None:
    assert case.explained() == case.desired()


@given(cases())
def test_every_step_of_an_explanation_counts_whole_units(case: Case) -> None:
    listed = [Listed(r.channel, r.priority, r.policy) for r in case.listings]
    stock = [
        StockAt(COMPONENTS[s], loc, LOCATIONS[loc], on, com)
        for s, by_loc in case.stock.items()
        for loc, (on, com) in by_loc.items()
    ]
    for e in explain_sku("TEAL-MUG-350ML", listed, stock).values():
        assert e.steps, "a listing always has its pool explained"
        assert all(isinstance(step.qty, int) for step in e.steps)
        assert all(step.describe() for step in e.steps)
        assert e.qty >= 0


# --- by example --------------------------------------------------------------------------------


def stock_at(sku: str, location_id: int, on_hand: int, committed: int = 0) -> StockAt:
    return StockAt(sku, location_id, LOCATIONS[location_id], on_hand, committed)


def test_a_buffer_share_and_maximum_are_explained_in_the_order_they_apply() -> None:
    amazon = Listed("amazon-eu", 20, ChannelPolicy(buffer=2, share_pct=50, max_listed=20))
    stock = [stock_at("OAK-COASTER", 1, 48, 3), stock_at("OAK-COASTER", 2, 16)]

    e = explain_sku("OAK-COASTER", [amazon], stock)["amazon-eu"]

    assert e.steps == (
        Available("OAK-COASTER", "berlin-dc", 48, 3, 45),
        Available("OAK-COASTER", "leeds-3pl", 16, 0, 16),
        Pool("OAK-COASTER", ("berlin-dc", "leeds-3pl"), 61),
        Buffer(2, 59),
        Share(50, 59, 29),
        MaxListed(20, 20),
    )
    assert e.qty == 20


def test_only_the_channels_own_locations_count_towards_its_pool() -> None:
    amazon = Listed("amazon-eu", 20, ChannelPolicy(), feeds=frozenset({1}))
    stock = [stock_at("TEAL-MUG-350ML", 1, 2), stock_at("TEAL-MUG-350ML", 2, 1)]

    e = explain_sku("TEAL-MUG-350ML", [amazon], stock)["amazon-eu"]

    assert e.steps == (
        Available("TEAL-MUG-350ML", "berlin-dc", 2, 0, 2),
        Pool("TEAL-MUG-350ML", ("berlin-dc",), 2),
    )
    assert e.qty == 2


def test_a_bundle_lists_the_whole_sets_its_scarcest_component_allows() -> None:
    shop = Listed("shopify-main", 30, ChannelPolicy())
    stock = [stock_at("TEAL-MUG-350ML", 1, 3), stock_at("OAK-COASTER", 1, 4)]

    e = explain_sku(
        "MUG-GIFT-SET", [shop], stock, components={"TEAL-MUG-350ML": 1, "OAK-COASTER": 2}
    )["shopify-main"]

    assert e.steps[-1] == Bundle(
        (BundlePart("TEAL-MUG-350ML", 1, 3), BundlePart("OAK-COASTER", 2, 4)), 2
    )
    assert "OAK-COASTER 4 ÷ 2 = 2" in e.steps[-1].describe()
    assert e.qty == 2


def test_a_zero_out_threshold_stops_the_chain_at_zero() -> None:
    woo = Listed("woo-site", 10, ChannelPolicy(zero_below=5, buffer=1))

    e = explain_sku("SLATE-TRAY-L", [woo], [stock_at("SLATE-TRAY-L", 1, 4)])["woo-site"]

    assert e.steps[-1] == ZeroOut(5, 4, True, 0)
    assert e.qty == 0


def test_the_guard_grown_by_the_sales_rate_names_the_channel_that_keeps_the_last_units() -> None:
    shop = Listed("shopify-main", 30, ChannelPolicy(last_units=2))
    amazon = Listed("amazon-eu", 20, ChannelPolicy(last_units=2, last_seconds=5))
    stock = [stock_at("TEAL-MUG-350ML", 1, 12)]

    result = explain_sku("TEAL-MUG-350ML", [shop, amazon], stock, rates={"TEAL-MUG-350ML": 3.0})

    guard = result["amazon-eu"].steps[-1]
    assert guard == Guard(2, 3.0, 5.0, 15, 12, 12, "shopify-main", True, 0, 0.0, True)
    assert guard.describe() == (
        "last 15 units (2 grown by 3.00/s × 5 s): pool 12 is down to them; "
        "only shopify-main, ranked higher on this stock, lists them"
    )
    assert result["amazon-eu"].qty == 0
    top = result["shopify-main"].steps[-1]
    assert isinstance(top, Guard) and not top.hidden and top.ahead is None
    assert top.describe() == (
        "last 2 units: pool 12 is above them, not applied "
        "(at or below: this channel ranks first on this stock and keeps them)"
    )
    assert result["shopify-main"].qty == 12


def test_the_channel_keeping_the_last_units_explains_its_reserve() -> None:
    shop = Listed("shopify-main", 30, ChannelPolicy(last_units=2))
    amazon = Listed("amazon-eu", 20, ChannelPolicy(last_units=2, last_seconds=5), late_s=1.5)
    stock = [stock_at("TEAL-MUG-350ML", 1, 12)]
    rates = {"TEAL-MUG-350ML": 3.0}
    own = {("TEAL-MUG-350ML", "amazon-eu"): 2.0}

    result = explain_sku("TEAL-MUG-350ML", [shop, amazon], stock, rates=rates, channel_rates=own)

    reserve = result["shopify-main"].steps[-1]
    assert reserve == Reserve(3, 9, (Unheard("amazon-eu", 2.0, 1.5, False),))
    assert reserve.describe() == (
        "−3 held back while this channel keeps the last units, what the other channels may "
        "have sold that the ledger has not heard of yet (amazon-eu 2.00/s × 1.5 s; never below 0)"
    )
    assert (result["shopify-main"].qty, result["amazon-eu"].qty) == (9, 0)

    settled = Listed("amazon-eu", 20, amazon.policy, late_s=1.5, settled=True)
    result = explain_sku("TEAL-MUG-350ML", [shop, settled], stock, rates=rates, channel_rates=own)
    released = result["shopify-main"].steps[-1]
    assert released == Reserve(0, 12, (Unheard("amazon-eu", 2.0, 1.5, True),))
    assert released.describe() == (
        "nothing held back: the other channels' unheard sales round to 0 (amazon-eu settled at 0)"
    )
    assert result["shopify-main"].qty == 12


def test_a_channel_is_hidden_by_the_higher_ranked_one_it_shares_a_location_with() -> None:
    # shopify-main sells from berlin (1), amazon-eu from berlin and leeds, woo-site from leeds (2)
    listed = [
        Listed("shopify-main", 3, ChannelPolicy(last_units=2), frozenset({1})),
        Listed("amazon-eu", 2, ChannelPolicy(last_units=2), frozenset({1, 2})),
        Listed("woo-site", 1, ChannelPolicy(last_units=2), frozenset({2})),
    ]
    stock = [stock_at("TEAL-MUG-350ML", 1, 2), stock_at("TEAL-MUG-350ML", 2, 1)]
    claims = [
        Claim("shopify-main", 3, 2, ChannelPolicy(last_units=2), frozenset({1})),
        Claim("amazon-eu", 2, 3, ChannelPolicy(last_units=2), frozenset({1, 2})),
        Claim("woo-site", 1, 1, ChannelPolicy(last_units=2), frozenset({2})),
    ]

    explained = explain_sku("TEAL-MUG-350ML", listed, stock)

    assert {ch: e.qty for ch, e in explained.items()} == sellable_quantities(claims)
    assert {ch: e.qty for ch, e in explained.items()} == {
        "shopify-main": 2,
        "amazon-eu": 3,
        "woo-site": 0,
    }
    assert explained["woo-site"].steps[-1].ahead == "amazon-eu"  # type: ignore[union-attr]
