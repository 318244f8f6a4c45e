"""What a channel's cumulative line numbers ask of the ledger: late and repeated reports add nothing."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from stocksync.domain.messages import ChannelOrderLine
from stocksync.domain.orders import Line
from stocksync.ledger.ingest import line_change

TEAL_MUG = 101


def line(quantity: int, *, shipped: int = 0, cancelled: int = 0, returned: int = 0) -> Line:
    held = quantity - shipped - cancelled
    return Line(7, 1, TEAL_MUG, "TEAL-MUG-350ML", quantity, held, 0, cancelled, shipped,
                returned, "866550311766439020", {TEAL_MUG: 1})  # fmt: skip


def reported(quantity: int, cancelled: int = 0, refunded: int = 0, restocked: int = 0):
    return ChannelOrderLine("866550311766439020", "TEAL-MUG-350ML", None, quantity,
                            cancelled, refunded, restocked)  # fmt: skip


def applied(ln: Line, report: ChannelOrderLine) -> Line:
    change = line_change(ln, report)
    return replace(
        ln,
        committed=ln.committed - change.cancel,
        cancelled=change.cancelled_after,
        returned=change.returned_after,
    )


def test_refunded_units_that_have_not_shipped_are_cancelled_whether_restocked_or_not() -> None:
    assert line_change(line(3), reported(3, refunded=1)).cancel == 1
    assert line_change(line(3), reported(3, refunded=2, restocked=2)).cancel == 2


def test_a_restocked_unit_that_shipped_comes_back_on_hand() -> None:
    change = line_change(line(2, shipped=2), reported(2, refunded=1, restocked=1))
    assert (change.cancel, change.put_back) == (0, 1)


def test_a_refund_without_restock_after_shipping_changes_no_stock() -> None:
    change = line_change(line(2, shipped=2), reported(2, refunded=2))
    assert (change.cancel, change.put_back) == (0, 0)


def test_a_restock_counts_against_unshipped_units_first() -> None:
    change = line_change(line(3, shipped=1), reported(3, refunded=3, restocked=2))
    assert (change.cancel, change.put_back) == (2, 0)


def test_a_cancelled_order_with_its_refunds_cancels_each_unit_once() -> None:
    change = line_change(line(2), reported(2, cancelled=2, refunded=2, restocked=2))
    assert (change.cancel, change.cancelled_after) == (2, 2)


@st.composite
def histories(draw: st.DrawFn) -> tuple[Line, list[ChannelOrderLine]]:
    """A line as shipped so far, and a channel's growing reports about it."""
    quantity = draw(st.integers(1, 6))
    shipped = draw(st.integers(0, quantity))
    reports, cancelled, refunded, restocked = [], 0, 0, 0
    for _ in range(draw(st.integers(1, 5))):
        cancelled = draw(st.integers(cancelled, quantity))
        refunded = draw(st.integers(refunded, quantity))
        restocked = draw(st.integers(restocked, refunded))
        reports.append(reported(quantity, cancelled, refunded, restocked))
    return line(quantity, shipped=shipped), reports


@given(histories(), st.randoms())
def test_reports_in_any_order_and_repeated_end_where_the_latest_alone_ends(history, rnd) -> None:
    start, reports = history
    shuffled = reports + reports
    rnd.shuffle(shuffled)

    state = start
    for report in shuffled:
        before = state
        state = applied(state, report)
        assert state.cancelled >= before.cancelled and state.returned >= before.returned
        assert state.cancelled <= state.quantity - state.shipped
        assert state.returned <= state.shipped

    assert state == applied(start, reports[-1])
