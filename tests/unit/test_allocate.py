"""allocate(): the seam where a policy chooses which locations an order line takes its units from."""

from __future__ import annotations

import copy
from collections.abc import Mapping

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stocksync.domain.allocation import allocate
from stocksync.domain.commit import Take, most_available

TEAL_MUG_350ML, OAK_COASTER_4PK = 101, 102
BERLIN_WAREHOUSE, HAMBURG_3PL, MUNICH_STORE = 1, 2, 3

sku_ids = st.sampled_from([TEAL_MUG_350ML, OAK_COASTER_4PK])
recipes = st.dictionaries(sku_ids, st.integers(1, 3), min_size=1)
stock = st.dictionaries(sku_ids, st.dictionaries(st.sampled_from([1, 2, 3]), st.integers(-5, 20)))


def prefer(location: int):
    """A routing policy: everything from ``location`` if it has it all, else the default."""

    def policy(
        quantity: int, recipe: Mapping[int, int], available: Mapping[int, Mapping[int, int]]
    ) -> list[Take]:
        if all(
            available.get(sku, {}).get(location, 0) >= quantity * n for sku, n in recipe.items()
        ):
            return [Take(sku, location, quantity * n) for sku, n in sorted(recipe.items())]
        return most_available(quantity, recipe, available)

    return policy


@given(st.integers(-2, 30), recipes, stock)
def test_the_default_policy_is_the_most_available_location_first(quantity, recipe, available):
    expected = most_available(quantity, recipe, copy.deepcopy(available)) if quantity > 0 else []

    units, takes = allocate(quantity, recipe, available)

    assert takes == expected
    for sku, per_unit in recipe.items():
        assert sum(t.qty for t in takes if t.sku_id == sku) == units * per_unit


def test_the_default_policy_splits_from_the_fullest_location_and_bundles_by_component() -> None:
    available = {
        TEAL_MUG_350ML: {BERLIN_WAREHOUSE: 4, HAMBURG_3PL: 5},
        OAK_COASTER_4PK: {MUNICH_STORE: 10},
    }

    units, takes = allocate(7, {TEAL_MUG_350ML: 1, OAK_COASTER_4PK: 1}, available)

    assert units == 7
    assert takes == [
        Take(TEAL_MUG_350ML, HAMBURG_3PL, 5),
        Take(TEAL_MUG_350ML, BERLIN_WAREHOUSE, 2),
        Take(OAK_COASTER_4PK, MUNICH_STORE, 7),
    ]
    assert available[TEAL_MUG_350ML] == {BERLIN_WAREHOUSE: 2, HAMBURG_3PL: 0}


def test_a_custom_policy_is_honoured_and_its_takes_come_off_the_available_counts() -> None:
    available = {TEAL_MUG_350ML: {BERLIN_WAREHOUSE: 3, HAMBURG_3PL: 9}}

    units, takes = allocate(2, {TEAL_MUG_350ML: 1}, available, prefer(BERLIN_WAREHOUSE))

    assert (units, takes) == (2, [Take(TEAL_MUG_350ML, BERLIN_WAREHOUSE, 2)])
    assert available == {TEAL_MUG_350ML: {BERLIN_WAREHOUSE: 1, HAMBURG_3PL: 9}}


def test_a_policy_may_fill_fewer_units_and_its_repeated_takes_are_merged() -> None:
    def one_at_a_time(quantity, recipe, available):
        return [Take(TEAL_MUG_350ML, HAMBURG_3PL, 1), Take(TEAL_MUG_350ML, HAMBURG_3PL, 1)]

    available = {TEAL_MUG_350ML: {HAMBURG_3PL: 9}}

    assert allocate(5, {TEAL_MUG_350ML: 1}, available, one_at_a_time) == (
        2,
        [Take(TEAL_MUG_350ML, HAMBURG_3PL, 2)],
    )
    assert available == {TEAL_MUG_350ML: {HAMBURG_3PL: 7}}


@pytest.mark.parametrize(
    ("takes", "problem"),
    [
        (
            [Take(TEAL_MUG_350ML, BERLIN_WAREHOUSE, 4), Take(OAK_COASTER_4PK, HAMBURG_3PL, 4)],
            "more than is available",
        ),
        (  # Munich does not feed the channel
            [Take(TEAL_MUG_350ML, MUNICH_STORE, 1), Take(OAK_COASTER_4PK, HAMBURG_3PL, 1)],
            "more than is available",
        ),
        ([Take(TEAL_MUG_350ML, HAMBURG_3PL, 0)], "no units"),
        ([Take(TEAL_MUG_350ML, HAMBURG_3PL, 3)], "whole number"),  # one coaster per mug missing
        (
            [Take(TEAL_MUG_350ML, HAMBURG_3PL, 6), Take(OAK_COASTER_4PK, HAMBURG_3PL, 6)],
            "whole number",
        ),
    ],
)
def test_a_policy_that_breaks_the_rules_is_refused_and_takes_nothing(takes, problem) -> None:
    available = {
        TEAL_MUG_350ML: {BERLIN_WAREHOUSE: 3, HAMBURG_3PL: 9},
        OAK_COASTER_4PK: {HAMBURG_3PL: 9},
    }
    before = copy.deepcopy(available)

    with pytest.raises(ValueError, match=problem):
        allocate(5, {TEAL_MUG_350ML: 1, OAK_COASTER_4PK: 1}, available, lambda *_: takes)

    assert available == before
