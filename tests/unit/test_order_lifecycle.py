"""An order line's lifecycle as pure rules: each transition, each refusal and the numbers it names."""

from __future__ import annotations

import pytest

from stocksync.domain.errors import (
    InvalidRequestError,
    LineUnitsError,
    MissingUnitsError,
    QuantityError,
    ShippedFromError,
    UnreturnedUnitsError,
)
from stocksync.domain.model import LineStatus, OrderStatus
from stocksync.domain.orders import (
    Allocation,
    Line,
    Order,
    StockTake,
    cancel,
    cancel_lines,
    commit,
    fall_short,
    order_status,
    placed,
    releasable,
    release_shortfall,
    restock,
    restock_lines,
    returnable_units,
    returned_from,
    ship,
    ship_lines,
    shippable,
    units_by_sku,
    units_of_lines,
)

TEAL_MUG, OAK_COASTER, GIFT_SET = 101, 102, 201
BERLIN, LEEDS, MUNICH = 1, 2, 3


def mug_line(quantity: int = 5, line_no: int = 1) -> Line:
    return placed(line_no=line_no, sku_id=TEAL_MUG, sku="TEAL-MUG-350ML", quantity=quantity,
                  recipe={TEAL_MUG: 1}, external_line_id="866550311766439020")  # fmt: skip


def counts(line: Line) -> tuple[int, int, int, int, int]:
    return (line.committed, line.short, line.cancelled, line.shipped, line.returned)


# --- one line ------------------------------------------------------------------------------------


def test_a_placed_line_is_all_short_until_commit_finds_it_stock() -> None:
    line = mug_line(5)

    assert counts(line) == (0, 5, 0, 0, 0)
    assert counts(commit(line, 3)) == (3, 2, 0, 0, 0)
    assert commit(line, 3).status is LineStatus.OVERSOLD
    assert commit(line, 5).status is LineStatus.COMMITTED


def test_a_cancel_drops_short_units_before_committed_ones() -> None:
    line = commit(mug_line(5), 3)

    assert counts(cancel(line, 1)) == (3, 1, 1, 0, 0)
    assert counts(cancel(line, 4)) == (1, 0, 4, 0, 0)
    assert cancel(line, 5).status is LineStatus.CANCELLED


def test_shipping_takes_committed_units_and_a_return_counts_shipped_ones() -> None:
    shipped = ship(commit(mug_line(2), 2), 2)

    assert counts(shipped) == (0, 0, 0, 2, 0)
    assert shipped.status is LineStatus.SHIPPED
    assert counts(restock(shipped, 1)) == (0, 0, 0, 2, 1)


def test_a_count_puts_committed_units_back_short() -> None:
    assert counts(fall_short(commit(mug_line(4), 4), 3)) == (1, 3, 0, 0, 0)


@pytest.mark.parametrize(
    ("transition", "units", "held"),
    [
        (commit, 3, 2),  # two units short
        (cancel, 6, 5),  # three committed and two short
        (ship, 4, 3),
        (restock, 1, 0),  # nothing shipped
        (fall_short, 4, 3),
        (ship, -1, 3),
    ],
)
def test_a_transition_asked_for_more_than_the_line_holds_names_the_line_and_the_numbers(
    transition, units: int, held: int
) -> None:
    line = commit(mug_line(5), 3)  # three committed, two short

    with pytest.raises(LineUnitsError) as refused:
        transition(line, units)

    assert (refused.value.line_no, refused.value.units, refused.value.held) == (1, units, held)
    assert str(refused.value) == f"line 1 of the order has fewer than {units} units"


def test_an_order_reads_its_status_from_its_lines() -> None:
    filled, unfilled = commit(mug_line(2), 2), mug_line(3, line_no=2)

    assert order_status([filled, unfilled]) is OrderStatus.PARTIALLY_OVERSOLD
    assert order_status([unfilled]) is OrderStatus.OVERSOLD
    assert order_status([filled, cancel(unfilled, 3)]) is OrderStatus.COMMITTED
    assert order_status([ship(filled, 2)]) is OrderStatus.SHIPPED
    assert order_status([cancel(filled, 2)]) is OrderStatus.CANCELLED


# --- what an action takes ------------------------------------------------------------------------


def test_units_by_sku_take_the_skus_lines_in_order_or_everything_there_is_room_for() -> None:
    lines = [commit(mug_line(2), 2), commit(mug_line(3, line_no=2), 1)]

    assert units_by_sku(lines, {"TEAL-MUG-350ML": 3}, shippable) == {1: 2, 2: 1}
    assert units_by_sku(lines, None, releasable) == {1: 2, 2: 3}


def test_asking_a_sku_for_more_units_than_its_lines_hold_names_what_is_missing() -> None:
    with pytest.raises(MissingUnitsError) as refused:
        units_by_sku([commit(mug_line(2), 2)], {"TEAL-MUG-350ML": 5}, shippable)

    assert (refused.value.sku, refused.value.missing) == ("TEAL-MUG-350ML", 3)
    assert str(refused.value) == "the order has 3 fewer units of 'TEAL-MUG-350ML' to act on"
    with pytest.raises(QuantityError, match="the units of 'TEAL-MUG-350ML'"):
        units_by_sku([mug_line()], {"TEAL-MUG-350ML": 0}, releasable)


def test_named_lines_must_exist_and_hold_the_units() -> None:
    lines = [commit(mug_line(2), 1)]

    assert units_of_lines(lines, {1: 2}, releasable) == {1: 2}
    with pytest.raises(LineUnitsError) as refused:
        units_of_lines(lines, {3: 1}, releasable)
    assert (refused.value.line_no, refused.value.units, refused.value.held) == (3, 1, 0)
    with pytest.raises(QuantityError, match="the units of line 1"):
        units_of_lines(lines, {1: 0}, releasable)


def test_returned_units_come_from_the_skus_shipped_unreturned_units_in_line_order() -> None:
    first = restock(ship(commit(mug_line(2), 2), 2), 1)
    second = ship(commit(mug_line(3, line_no=2), 3), 3)
    order = Order(external_id="1001", lines=(first, second))

    assert returnable_units(order, sku="TEAL-MUG-350ML", qty=3) == {1: 1, 2: 2}
    assert returnable_units(order, sku="TEAL-MUG-350ML", qty=2, line_no=2) == {2: 2}
    with pytest.raises(UnreturnedUnitsError) as refused:
        returnable_units(order, sku="TEAL-MUG-350ML", qty=2, line_no=1)
    assert (refused.value.order, refused.value.sku, refused.value.units) == (
        "1001", "TEAL-MUG-350ML", 2,
    )  # fmt: skip
    assert str(refused.value) == (
        "order '1001' has fewer than 2 shipped, unreturned units of 'TEAL-MUG-350ML'"
    )


def test_every_order_units_error_is_an_invalid_request() -> None:
    assert issubclass(MissingUnitsError, InvalidRequestError)
    assert issubclass(ShippedFromError, InvalidRequestError)


# --- which allocations give the units ------------------------------------------------------------


def split_mug_order() -> Order:
    """Four mugs committed, three at Leeds and one at Berlin; one short."""
    return Order(
        external_id="1001",
        lines=(commit(mug_line(5), 4),),
        allocations=(
            Allocation(line_no=1, sku_id=TEAL_MUG, location_id=LEEDS, committed=3),
            Allocation(line_no=1, sku_id=TEAL_MUG, location_id=BERLIN, committed=1),
        ),
    )


def test_a_cancel_releases_short_units_first_then_allocations_in_location_order() -> None:
    change = cancel_lines(split_mug_order(), {1: 3})

    assert [counts(ln) for ln in change.lines] == [(2, 0, 3, 0, 0)]
    assert change.takes == (StockTake(1, TEAL_MUG, BERLIN, 1), StockTake(1, TEAL_MUG, LEEDS, 1))
    assert [(a.location_id, a.committed) for a in change.allocations] == [(BERLIN, 0), (LEEDS, 2)]


def test_a_shipment_moves_committed_units_of_an_allocation_to_shipped() -> None:
    change = ship_lines(split_mug_order(), {1: 2})

    assert change.takes == (StockTake(1, TEAL_MUG, BERLIN, 1), StockTake(1, TEAL_MUG, LEEDS, 1))
    assert [(a.location_id, a.committed, a.shipped) for a in change.allocations] == [
        (BERLIN, 0, 1),
        (LEEDS, 2, 1),
    ]
    assert change.status is OrderStatus.PARTIALLY_OVERSOLD


def test_a_bundle_gives_back_every_component() -> None:
    gift = commit(
        placed(line_no=1, sku_id=GIFT_SET, sku="MUG-GIFT-SET", quantity=1,
               recipe={TEAL_MUG: 1, OAK_COASTER: 2}),
        1,
    )  # fmt: skip
    order = Order(
        external_id="1002",
        lines=(gift,),
        allocations=(
            Allocation(line_no=1, sku_id=TEAL_MUG, location_id=BERLIN, committed=1),
            Allocation(line_no=1, sku_id=OAK_COASTER, location_id=BERLIN, committed=1),
            Allocation(line_no=1, sku_id=OAK_COASTER, location_id=LEEDS, committed=1),
        ),
    )

    assert cancel_lines(order, {1: 1}).takes == (
        StockTake(1, TEAL_MUG, BERLIN, 1),
        StockTake(1, OAK_COASTER, BERLIN, 1),
        StockTake(1, OAK_COASTER, LEEDS, 1),
    )


def test_a_count_releases_from_the_counted_location_first_and_says_what_is_left() -> None:
    change, left = release_shortfall(
        split_mug_order(), [1], sku_id=TEAL_MUG, location=LEEDS, deficit=2
    )

    assert left == 0
    assert change.takes == (StockTake(1, TEAL_MUG, LEEDS, 2),)
    assert [counts(ln) for ln in change.lines] == [(2, 3, 0, 0, 0)]
    _, left = release_shortfall(split_mug_order(), [1], sku_id=TEAL_MUG, location=BERLIN, deficit=3)
    assert left == 2  # Berlin held only one of them


def shipped_mug_order(returned_at_berlin: int = 0) -> Order:
    """Three mugs shipped: one from Berlin, two from Leeds."""
    line = ship(commit(mug_line(3), 3), 3)
    return Order(
        external_id="1001",
        lines=(restock(line, returned_at_berlin),),
        allocations=(
            Allocation(line_no=1, sku_id=TEAL_MUG, location_id=BERLIN, shipped=1,
                       returned=returned_at_berlin),
            Allocation(line_no=1, sku_id=TEAL_MUG, location_id=LEEDS, shipped=2),
        ),
    )  # fmt: skip


def test_a_return_goes_back_where_its_units_shipped_from_after_earlier_returns() -> None:
    change = restock_lines(shipped_mug_order(returned_at_berlin=1), {1: 1})

    assert change.takes == (StockTake(1, TEAL_MUG, LEEDS, 1),)
    assert [(a.location_id, a.returned) for a in change.allocations] == [(LEEDS, 1)]
    assert [counts(ln) for ln in change.lines] == [(0, 0, 0, 3, 2)]


def test_a_return_to_a_chosen_location_counts_against_the_allocations_it_shipped_from() -> None:
    change = restock_lines(shipped_mug_order(), {1: 2}, location=MUNICH)

    assert change.takes == (StockTake(1, TEAL_MUG, MUNICH, 2),)
    assert [(a.location_id, a.returned) for a in change.allocations] == [(BERLIN, 1), (LEEDS, 1)]


def test_a_return_of_a_component_that_never_shipped_needs_a_chosen_location() -> None:
    """The bundle's recipe changed after it shipped: nothing says where the new part came from."""
    line = ship(commit(placed(line_no=1, sku_id=GIFT_SET, sku="MUG-GIFT-SET", quantity=1,
                              recipe={TEAL_MUG: 1, OAK_COASTER: 1}), 1), 1)  # fmt: skip
    order = Order(
        external_id="1002",
        lines=(line,),
        allocations=(Allocation(line_no=1, sku_id=TEAL_MUG, location_id=BERLIN, shipped=1),),
    )

    with pytest.raises(ShippedFromError) as refused:
        restock_lines(order, {1: 1})
    assert (refused.value.line_no, refused.value.units, refused.value.sku_id) == (1, 1, OAK_COASTER)
    assert str(refused.value) == "line 1 shipped too few units to return 1"
    chosen = restock_lines(order, {1: 1}, location=MUNICH)
    assert chosen.takes == (StockTake(1, TEAL_MUG, MUNICH, 1), StockTake(1, OAK_COASTER, MUNICH, 1))
    assert [(a.sku_id, a.returned) for a in chosen.allocations] == [(TEAL_MUG, 1)]


def test_returned_units_count_location_by_location_never_beyond_what_shipped() -> None:
    assert returned_from({LEEDS: 2, BERLIN: 1}, 2) == {BERLIN: 1, LEEDS: 1}
    assert returned_from({LEEDS: 2, BERLIN: 1}, 5) == {BERLIN: 1, LEEDS: 2}
    assert returned_from({LEEDS: 2}, 0) == {LEEDS: 0}
