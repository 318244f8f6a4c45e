"""The accounting on a run whose answer is worked out by hand.

Stock: MUG 3, TRAY 2, and KIT = 1 MUG + 1 TRAY. Channel X holds back nothing, Y one unit.

    t    event                          shelf after (MUG, TRAY)  counted
    100  o1 X buys 2 MUG   accepted     (1, 2)
    200  o2 Y buys 2 MUG   accepted     (0, 2)                   1 line short by 1
    300  o3 Y buys KIT + TRAY accepted  (0, 1)                   KIT short by 1, TRAY filled
    400  o4 X buys 1 TRAY  refused      (0, 1)                   refused in stock (1 unit)
    600  o1 cancelled                   (2, 1)
    600  o5 X buys 2 MUG   refused      (2, 1)                   in stock: the cancel came first
    700  o3's TRAY returned             (2, 2)
    700  o6 Y buys 2 TRAY  accepted     (2, 0)                   filled: the return came first
    800  o7 X buys 1 KIT   refused      (2, 0)                   not in stock
"""

from __future__ import annotations

import json

import pytest

from stocksync.simulate.accounting import GapStats, account, percentile, withheld_unit_hours
from stocksync.simulate.records import Answered, Cancel, ModeRun, Return, Shown

STOCK = {"MUG": 3, "TRAY": 2}
BUNDLES = {"KIT": {"MUG": 1, "TRAY": 1}}
BUFFERS = {"X": 0, "Y": 1}


def answer(t: float, ref: str, channel: str, accepted: bool, *lines: tuple[str, int]) -> Answered:
    return Answered(t=t, ref=ref, channel=channel, lines=tuple(lines), accepted=accepted)


def show(t: float, channel: str, sku: str, qty: int) -> Shown:
    return Shown(t=t, channel=channel, sku=sku, qty=qty)


def known_run() -> ModeRun:
    return ModeRun(
        mode="poll",
        answered=[
            answer(100, "o1", "X", True, ("MUG", 2)),
            answer(200, "o2", "Y", True, ("MUG", 2)),
            answer(300, "o3", "Y", True, ("KIT", 1), ("TRAY", 1)),
            answer(400, "o4", "X", False, ("TRAY", 1)),
            answer(600, "o5", "X", False, ("MUG", 2)),
            answer(700, "o6", "Y", True, ("TRAY", 2)),
            answer(800, "o7", "X", False, ("KIT", 1)),
        ],
        cancelled=[Cancel(t=600, ref="o1")],
        returned=[Return(t=700, ref="o3", lines=(("TRAY", 1),))],
        shown=[
            show(0, "X", "MUG", 3),
            show(100, "X", "MUG", 1),
            show(1800, "X", "MUG", 2),
            show(0, "X", "KIT", 2),
            show(200, "X", "KIT", 0),
            show(50, "Y", "TRAY", 1),
            show(0, "Y", "KIT", 0),
            show(4000, "Y", "KIT", 5),
        ],  # fmt: skip
        gaps_s=[10.0, 20.0, 30.0, 40.0],
        api_calls={"X": 5, "Y": 7},
        real_seconds=0.25,
        ledger_short_lines=2,
        notes=["a note"],
    )


def outcome():
    return account(known_run(), stock=STOCK, bundles=BUNDLES, buffers=BUFFERS, end_t=3600.0)


def test_oversells_are_accepted_orders_the_shelf_could_not_fill() -> None:
    o = outcome()
    assert (o.orders_placed, o.orders_accepted, o.orders_refused) == (7, 4, 3)
    assert (o.oversold_orders, o.oversold_lines, o.oversold_units) == (2, 2, 2)
    assert o.seller_cancellations == 2
    assert o.cancel_rate == pytest.approx(0.5)
    y = o.channels["Y"]
    assert (y.orders_accepted, y.oversold_orders, y.oversold_units) == (3, 2, 2)
    assert y.cancel_rate == pytest.approx(2 / 3)
    assert o.channels["X"].oversold_orders == 0 and o.channels["X"].cancel_rate == 0.0


def test_refused_in_stock_counts_the_sales_the_shelf_could_have_made() -> None:
    o = outcome()
    assert (o.refused_in_stock, o.refused_in_stock_units) == (2, 3)  # o4 and o5, not o7
    assert o.channels["X"].refused_in_stock == 2
    assert o.channels["Y"].refused_in_stock == 0
    assert (o.customer_cancellations, o.returns) == (1, 1)


def test_withheld_unit_hours_integrate_stock_beyond_the_buffer_a_channel_was_not_shown() -> None:
    o = outcome()
    # X MUG: 2 available, 1 shown from 600 to 1800 s -> 1200; X KIT: 1 available, 0 shown from
    # 600 to 700 s -> 100. Y TRAY: before its first record (shown 0) 2 - 1 - 0 for 50 s -> 50;
    # Y KIT: 2 - 1 - 0 from 0 to 100 s -> 100 (its record past the end counts for nothing).
    # Y lists MUG too, but with no Shown record that pair does not count.
    assert o.channels["X"].withheld_unit_hours == pytest.approx(1300 / 3600, abs=1e-9)
    assert o.channels["Y"].withheld_unit_hours == pytest.approx(150 / 3600, abs=1e-9)
    assert o.withheld_unit_hours == pytest.approx(1450 / 3600, abs=1e-9)


def test_gap_percentiles_interpolate_between_ranks_and_the_rest_is_copied() -> None:
    o = outcome()
    assert o.gaps == GapStats(count=4, p50=25.0, p90=37.0, p99=pytest.approx(39.7), max=40.0)
    assert o.gaps_real is None
    assert o.api_calls == 12 and o.channels["Y"].api_calls == 7
    assert (o.mode, o.compression, o.real_seconds) == ("poll", 1.0, 0.25)
    assert o.ledger_short_lines == 2 and o.notes == ["a note"]


def test_the_checkouts_at_one_instant_follow_the_returns_and_cancels_there() -> None:
    run = known_run()
    run.returned = []  # without the return, o6 finds 1 TRAY and goes short
    o = account(run, stock=STOCK, bundles=BUNDLES, buffers=BUFFERS, end_t=3600.0)
    assert (o.oversold_orders, o.oversold_units) == (3, 3)


def test_the_outcome_is_json_ready_and_rounded() -> None:
    data = json.loads(json.dumps(outcome().to_dict()))
    assert data["cancel_rate"] == 0.5
    assert data["over_amazon_limit"] is True and data["over_walmart_limit"] is True
    assert data["withheld_unit_hours"] == round(1450 / 3600, 3)
    assert data["gaps_s"] == {"count": 4, "p50": 25.0, "p90": 37.0, "p99": 39.7, "max": 40.0}
    assert data["channels"]["Y"]["seller_cancellations"] == 2
    assert data["channels"]["X"]["refused_in_stock_units"] == 3


@pytest.mark.parametrize(
    ("oversold", "amazon", "walmart"), [(1, False, True), (2, True, True), (0, False, False)]
)
def test_the_cancel_rate_is_held_against_amazons_and_walmarts_limits(
    oversold: int, amazon: bool, walmart: bool
) -> None:
    # 40 accepted orders of one unit each from 39 units: the 40th goes short (1 in 40 = 2.5 %)
    stock = {"MUG": 40 - oversold}
    run = ModeRun(
        mode="poll",
        answered=[answer(float(i), f"o{i}", "X", True, ("MUG", 1)) for i in range(40)],
    )
    o = account(run, stock=stock, bundles={}, buffers={"X": 0}, end_t=100.0)
    assert o.seller_cancellations == oversold
    assert (o.over_amazon_limit, o.over_walmart_limit) == (amazon, walmart)


def test_percentiles_and_integrals_on_their_own() -> None:
    assert percentile([], 0.5) is None
    assert percentile([7.0], 0.99) == 7.0
    assert GapStats.of([]).count == 0 and GapStats.of([]).p50 is None
    # available 5 throughout; shown 2 from 1800 s: 5 for half an hour, then 3 for half an hour
    assert withheld_unit_hours([(0.0, 5)], [(1800.0, 2)], 0, 3600.0) == pytest.approx(4.0)
    assert withheld_unit_hours([(0.0, 5)], [(0.0, 9)], 0, 3600.0) == 0.0
