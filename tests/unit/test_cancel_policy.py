"""Which order an oversold line says to cancel, from the orders the ledger names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from stocksync.alerts.oversold import CancelPolicy, oversold_lines
from stocksync.ledger.oversold_orders import OrderRef, ShortLine

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def _order(external_id: str, placed_at: datetime, channel: str = "shopify-main") -> OrderRef:
    return OrderRef(channel=channel, external_id=external_id, placed_at=placed_at, quantity=1)


def _cancelled(
    short: OrderRef, *rivals: OrderRef, policy: CancelPolicy = CancelPolicy.LATER
) -> str:
    line = ShortLine(sku="TEAL-MUG-350ML", short=1, order=short, competitors=rivals)
    [oversold] = oversold_lines([line], policy=policy)
    assert (oversold.sku, oversold.short, oversold.order, oversold.competitors) == (
        line.sku, line.short, short, rivals,
    )  # fmt: skip
    return oversold.cancel.external_id


def test_the_order_placed_last_is_cancelled_whichever_was_recorded_short() -> None:
    short = _order("2001", T0, channel="woo-site")
    newest = _order("1002", T0 + timedelta(seconds=9))
    older = _order("1003", T0 + timedelta(seconds=3))

    assert _cancelled(short, older, newest) == "1002"
    assert _cancelled(_order("2002", T0 + timedelta(seconds=10)), older, newest) == "2002"


def test_the_short_policy_and_a_line_without_rivals_cancel_the_order_recorded_short() -> None:
    short = _order("2001", T0)
    later = _order("1001", T0 + timedelta(seconds=5))

    assert _cancelled(short, later, policy=CancelPolicy.SHORT) == "2001"
    assert _cancelled(short) == "2001"


def test_an_order_placed_at_the_same_moment_keeps_the_short_one_cancelled() -> None:
    assert _cancelled(_order("2001", T0), _order("1001", T0)) == "2001"


def test_times_without_a_zone_are_utc_and_compare_with_zoned_ones() -> None:
    """SQLite hands times back without their zone."""
    short = _order("2001", T0.replace(tzinfo=None))
    rival = _order("1001", datetime(2026, 11, 27, 11, 0, 5, tzinfo=timezone(timedelta(hours=1))))
    earlier = _order(
        "1002", datetime(2026, 11, 27, 10, 59, 55, tzinfo=timezone(timedelta(hours=1)))
    )

    assert _cancelled(short, rival) == "1001"
    assert _cancelled(short, earlier) == "2001"
