"""Every count the ledger stores fits its 32-bit columns; the domain says so before the database."""

from __future__ import annotations

import pytest

from stocksync.domain.errors import QuantityError
from stocksync.domain.model import (
    MAX_QUANTITY,
    ChannelPolicy,
    LineStatus,
    OrderStatus,
    check_quantity,
)
from stocksync.domain.orders import Line, line_status, order_status


def test_a_quantity_within_bounds_is_returned_as_is() -> None:
    assert check_quantity("a count", 0, low=0) == 0
    assert check_quantity("units received", MAX_QUANTITY) == MAX_QUANTITY


@pytest.mark.parametrize("quantity", [0, MAX_QUANTITY + 1])
def test_a_quantity_out_of_bounds_is_an_error_carrying_it(quantity: int) -> None:
    with pytest.raises(QuantityError) as refused:
        check_quantity("units received", quantity)

    assert (refused.value.what, refused.value.quantity) == ("units received", quantity)
    assert (refused.value.low, refused.value.high) == (1, MAX_QUANTITY)
    assert str(refused.value) == f"units received must be 1 to 2,147,483,647, not {quantity:,}"


@pytest.mark.parametrize("field", ["buffer", "max_listed", "zero_below", "last_units"])
@pytest.mark.parametrize("value", [-1, MAX_QUANTITY + 1])
def test_a_channel_policy_count_outside_the_columns_is_refused(field: str, value: int) -> None:
    with pytest.raises(ValueError, match=field):
        ChannelPolicy(**{field: value})


def test_a_channel_policy_at_the_limit_is_kept() -> None:
    assert ChannelPolicy(buffer=MAX_QUANTITY, max_listed=MAX_QUANTITY).buffer == MAX_QUANTITY


def test_a_line_of_no_units_recorded_before_they_were_refused_reads_cancelled() -> None:
    """Like the order it is in (order_status has always called such an order cancelled)."""
    legacy = Line(7, 2, 101, "TEAL-MUG-350ML", 0, 0, 0, 0, 0, 0, None, {101: 1})

    assert line_status(legacy) is LineStatus.CANCELLED
    assert order_status([legacy]) is OrderStatus.CANCELLED
