"""Committing stock for an order line: whole units only, across the channel's locations."""

from __future__ import annotations

import copy
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stocksync.domain.allocation import allocate
from stocksync.domain.commit import Take

# SKU ids and location ids as the ledger stores them.
TEAL_MUG_350ML, OAK_COASTER_4PK, GIFT_BOX_S = 101, 102, 103
BERLIN_WAREHOUSE, HAMBURG_3PL, MUNICH_STORE = 1, 2, 3

sku_ids = st.sampled_from([TEAL_MUG_350ML, OAK_COASTER_4PK, GIFT_BOX_S])
location_ids = st.sampled_from([BERLIN_WAREHOUSE, HAMBURG_3PL, MUNICH_STORE])
recipes = st.dictionaries(sku_ids, st.integers(1, 4), min_size=1)
stock = st.dictionaries(sku_ids, st.dictionaries(location_ids, st.integers(0, 25)))
stock_with_shortfalls = st.dictionaries(
    sku_ids, st.dictionaries(location_ids, st.integers(-10, 25))
)
quantities = st.integers(-3, 40)


def taken_by_sku(takes: list[Take]) -> Counter[int]:
    total: Counter[int] = Counter()
    for take in takes:
        total[take.sku_id] += take.qty
    return total


# --- properties --------------------------------------------------------------------------------


@given(quantities, recipes, stock_with_shortfalls)
def test_a_line_never_takes_more_than_a_location_has(quantity, recipe, available) -> None:
    before = copy.deepcopy(available)
    _, takes = allocate(quantity, recipe, available)
    seen = set()
    for take in takes:
        assert (take.sku_id, take.location_id) not in seen
        seen.add((take.sku_id, take.location_id))
        assert 0 < take.qty <= before[take.sku_id][take.location_id]
    for sku, by_location in available.items():
        for loc, qty in by_location.items():
            assert qty >= min(0, before[sku][loc])


@given(quantities, recipes, stock_with_shortfalls)
def test_a_line_takes_whole_units_of_every_component(quantity, recipe, available) -> None:
    units, takes = allocate(quantity, recipe, available)
    assert 0 <= units <= max(0, quantity)
    totals = taken_by_sku(takes)
    assert set(totals) <= set(recipe)
    for sku, per_unit in recipe.items():
        assert totals[sku] == units * per_unit


@given(quantities, recipes, stock)
def test_a_line_fills_as_many_units_as_the_stock_allows(quantity, recipe, available) -> None:
    on_hand = {sku: sum(available.get(sku, {}).values()) for sku in recipe}
    units, _ = allocate(quantity, recipe, available)
    fillable = min([max(0, quantity)] + [on_hand[sku] // n for sku, n in recipe.items()])
    assert units == fillable
    if units < quantity:
        assert any(on_hand[sku] < (units + 1) * n for sku, n in recipe.items())


@given(quantities, recipes, stock_with_shortfalls)
def test_the_available_counts_go_down_by_exactly_what_was_taken(quantity, recipe, available):
    before = copy.deepcopy(available)
    _, takes = allocate(quantity, recipe, available)
    expected = copy.deepcopy(before)
    for take in takes:
        expected[take.sku_id][take.location_id] -= take.qty
    assert available == expected


@given(st.lists(st.integers(0, 10), min_size=1, max_size=5), recipes, stock)
def test_consecutive_lines_never_commit_more_than_the_stock_held(lines, recipe, available) -> None:
    before = copy.deepcopy(available)
    filled = sum(allocate(qty, recipe, available)[0] for qty in lines)
    for sku, per_unit in recipe.items():
        assert filled * per_unit <= sum(before.get(sku, {}).values())
    for by_location in available.values():
        assert all(qty >= 0 for qty in by_location.values())


# --- examples ----------------------------------------------------------------------------------


def test_a_line_takes_from_the_fullest_location_first() -> None:
    available = {TEAL_MUG_350ML: {BERLIN_WAREHOUSE: 4, HAMBURG_3PL: 9}}
    units, takes = allocate(3, {TEAL_MUG_350ML: 1}, available)
    assert units == 3
    assert takes == [Take(TEAL_MUG_350ML, HAMBURG_3PL, 3)]
    assert available == {TEAL_MUG_350ML: {BERLIN_WAREHOUSE: 4, HAMBURG_3PL: 6}}


def test_a_line_splits_across_locations_when_one_is_not_enough() -> None:
    available = {TEAL_MUG_350ML: {BERLIN_WAREHOUSE: 4, HAMBURG_3PL: 5, MUNICH_STORE: 1}}
    units, takes = allocate(7, {TEAL_MUG_350ML: 1}, available)
    assert units == 7
    assert takes == [
        Take(TEAL_MUG_350ML, HAMBURG_3PL, 5),
        Take(TEAL_MUG_350ML, BERLIN_WAREHOUSE, 2),
    ]


def test_equal_locations_are_taken_in_location_id_order() -> None:
    available = {TEAL_MUG_350ML: {MUNICH_STORE: 3, BERLIN_WAREHOUSE: 3}}
    _, takes = allocate(4, {TEAL_MUG_350ML: 1}, available)
    assert takes == [
        Take(TEAL_MUG_350ML, BERLIN_WAREHOUSE, 3),
        Take(TEAL_MUG_350ML, MUNICH_STORE, 1),
    ]


def test_a_line_for_more_than_the_stock_fills_only_what_exists() -> None:
    available = {TEAL_MUG_350ML: {BERLIN_WAREHOUSE: 2}}
    units, takes = allocate(5, {TEAL_MUG_350ML: 1}, available)
    assert units == 2
    assert takes == [Take(TEAL_MUG_350ML, BERLIN_WAREHOUSE, 2)]
    assert available == {TEAL_MUG_350ML: {BERLIN_WAREHOUSE: 0}}


def test_a_bundle_takes_only_whole_gift_sets() -> None:
    recipe = {TEAL_MUG_350ML: 2, OAK_COASTER_4PK: 1}
    available = {TEAL_MUG_350ML: {BERLIN_WAREHOUSE: 5}, OAK_COASTER_4PK: {HAMBURG_3PL: 10}}
    units, takes = allocate(4, recipe, available)
    assert units == 2
    assert takes == [
        Take(TEAL_MUG_350ML, BERLIN_WAREHOUSE, 4),
        Take(OAK_COASTER_4PK, HAMBURG_3PL, 2),
    ]
    assert available == {TEAL_MUG_350ML: {BERLIN_WAREHOUSE: 1}, OAK_COASTER_4PK: {HAMBURG_3PL: 8}}


def test_a_bundle_with_a_missing_component_takes_nothing() -> None:
    available = {TEAL_MUG_350ML: {BERLIN_WAREHOUSE: 5}}
    units, takes = allocate(1, {TEAL_MUG_350ML: 1, GIFT_BOX_S: 1}, available)
    assert (units, takes) == (0, [])
    assert available == {TEAL_MUG_350ML: {BERLIN_WAREHOUSE: 5}}


def test_a_zero_or_negative_quantity_takes_nothing() -> None:
    available = {TEAL_MUG_350ML: {BERLIN_WAREHOUSE: 5}}
    assert allocate(0, {TEAL_MUG_350ML: 1}, available) == (0, [])
    assert allocate(-2, {TEAL_MUG_350ML: 1}, available) == (0, [])
    assert available == {TEAL_MUG_350ML: {BERLIN_WAREHOUSE: 5}}


def test_a_second_line_sees_what_the_first_line_took() -> None:
    available = {TEAL_MUG_350ML: {BERLIN_WAREHOUSE: 3}}
    assert allocate(2, {TEAL_MUG_350ML: 1}, available)[0] == 2
    assert allocate(2, {TEAL_MUG_350ML: 1}, available)[0] == 1
    assert allocate(2, {TEAL_MUG_350ML: 1}, available) == (0, [])


def test_a_location_short_of_its_commitments_counts_against_the_line() -> None:
    available = {TEAL_MUG_350ML: {BERLIN_WAREHOUSE: 5, HAMBURG_3PL: -3}}
    units, takes = allocate(4, {TEAL_MUG_350ML: 1}, available)
    assert units == 2
    assert takes == [Take(TEAL_MUG_350ML, BERLIN_WAREHOUSE, 2)]
    assert available == {TEAL_MUG_350ML: {BERLIN_WAREHOUSE: 3, HAMBURG_3PL: -3}}


@pytest.mark.parametrize("recipe", [{}, {1: 0}, {1: 2, 2: -1}])
def test_a_recipe_without_positive_quantities_is_refused(recipe: dict[int, int]) -> None:
    with pytest.raises(ValueError):
        allocate(1, recipe, {1: {10: 5}, 2: {10: 5}})
