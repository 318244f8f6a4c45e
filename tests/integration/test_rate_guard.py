"""A last-units guard that grows with the sales rate: a rush hides the SKU from a slow channel
sooner, and once the rush is over the periodic refresh lists it again."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import update

from stocksync.ledger.queries import stock_report
from stocksync.ledger.results import LineIn
from stocksync.ledger.service import Ledger
from stocksync.ledger.tables import MovementRow
from tests.factories import channel, shop_with

SKU = "TEAL-MUG-350ML"


def desired(ledger: Ledger) -> dict[str, int]:
    [report] = ledger.run(lambda s: stock_report(s, [SKU]))
    return {li.channel: li.desired for li in report.listings}


def rush(ledger: Ledger, orders: int) -> None:
    for n in range(orders):
        ledger.record_order("woo-site", f"rush-{n}", [LineIn(SKU, 1)])


def rush_is_over(ledger: Ledger) -> None:
    """Move every journal entry to long ago, as if the clock had run on."""
    long_ago = datetime(2026, 1, 1, tzinfo=UTC)
    ledger.run(lambda s: s.execute(update(MovementRow).values(created_at=long_ago)))


def shop(ledger: Ledger) -> None:
    shop_with(
        ledger,
        {SKU: {"berlin": 40}},
        channels=(
            channel("shopify-main", "shopify", 30, last_units=2),
            channel("amazon-eu", "amazon", 20, last_units=2, last_seconds=60),
            channel("woo-site", "woocommerce", 10, last_units=2),
        ),
    )


def test_a_rush_hides_the_sku_from_the_channel_whose_guard_grows_with_the_rate(
    ledger: Ledger,
) -> None:
    shop(ledger)

    rush(ledger, 25)  # >= 25 units in the last 15 s: at least 1.67/s, x 60 s = 100 > 15 left

    assert desired(ledger) == {"shopify-main": 15, "amazon-eu": 0, "woo-site": 15}
    assert ledger.verify() == []
    assert ledger.refresh_rate_guards() == 0  # the rush is still on: nothing to list again


def test_once_the_rush_is_over_the_refresh_lists_the_sku_again(ledger: Ledger) -> None:
    shop(ledger)
    rush(ledger, 25)
    rush_is_over(ledger)

    assert ledger.verify() == []  # hidden by a rate that has fallen since: not a mismatch
    assert ledger.refresh_rate_guards() == 1

    after = ledger.run(lambda s: stock_report(s, [SKU]))[0].listings
    amazon = next(li for li in after if li.channel == "amazon-eu")
    assert (amazon.desired, amazon.dirty) == (15, True)
    assert ledger.refresh_rate_guards() == 0
    assert ledger.verify() == []


def test_a_slow_sale_leaves_the_fixed_guard_alone(ledger: Ledger) -> None:
    shop(ledger)
    ledger.record_order("woo-site", "slow-1", [LineIn(SKU, 37)])

    # 37 units in one order is a rate of 37/15 per second, but only 3 are left: hidden either
    # way. A single unit after a quiet period is not a rush:
    assert desired(ledger)["amazon-eu"] == 0
    rush_is_over(ledger)
    ledger.receive(SKU, 20, location="berlin")

    assert desired(ledger) == {"shopify-main": 23, "amazon-eu": 23, "woo-site": 23}
