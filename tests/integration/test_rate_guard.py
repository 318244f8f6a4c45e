"""A last-units guard that grows with the sales rate: a rush hides the SKU from a slow channel
sooner, and once the rush is over the periodic refresh lists it again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from stocksync.domain.clock import utcnow
from stocksync.ledger.queries import stock_report
from stocksync.ledger.results import LineIn
from stocksync.ledger.service import Ledger
from stocksync.ledger.tables import ListingRow, MovementRow
from tests.factories import channel, load_catalog, shop_with

SKU = "TEAL-MUG-350ML"


def desired(ledger: Ledger) -> dict[str, int]:
    return desired_of(ledger, SKU)


def desired_of(ledger: Ledger, sku: str) -> dict[str, int]:
    [report] = ledger.run(lambda s: stock_report(s, [sku]))
    return {li.channel: li.desired for li in report.listings}


def rush(ledger: Ledger, orders: int) -> None:
    for n in range(orders):
        ledger.record_order("woo-site", f"rush-{n}", [LineIn(SKU, 1)])


def rush_is_over(ledger: Ledger) -> None:
    """Move every journal entry a minute back, as if the clock had run on: out of the rate's
    windows, within the time poll-orders has to list the SKU again (GUARD_GRACE_S)."""
    a_minute_ago = utcnow() - timedelta(seconds=60)
    ledger.run(lambda s: s.execute(update(MovementRow).values(created_at=a_minute_ago)))


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

    rush(ledger, 25)  # >= 25 units in the last 10 s: at least 2.5/s, x 60 s = 100 > 15 left

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

    # 37 units in one order is a rate of 37/10 per second, but only 3 are left: hidden either
    # way. A single unit after a quiet period is not a rush:
    assert desired(ledger)["amazon-eu"] == 0
    rush_is_over(ledger)
    ledger.receive(SKU, 20, location="berlin")

    assert desired(ledger) == {"shopify-main": 23, "amazon-eu": 23, "woo-site": 23}


def test_a_sku_hidden_long_after_its_rush_is_reported_by_verify(ledger: Ledger) -> None:
    shop(ledger)
    rush(ledger, 25)
    long_ago = datetime(2026, 1, 1, tzinfo=UTC)

    # as if the rush ended long ago and poll-orders never listed the SKU again
    ledger.run(lambda s: s.execute(update(MovementRow).values(created_at=long_ago)))

    [mismatch] = ledger.verify()
    assert (mismatch.subject, mismatch.field, mismatch.expected, mismatch.actual) == (
        f"amazon-eu/{SKU}", "desired_qty", 15, 0,
    )  # fmt: skip


def test_a_bundle_hidden_by_a_rush_is_listed_again_after_it(ledger: Ledger) -> None:
    shop(ledger)
    load_catalog(
        ledger,
        "sku,location,on_hand,components,listing:shopify-main,listing:amazon-eu\n"
        f"MUG-PAIR,,,{SKU}*2,gid-pair,B0PAIR\n",
    )
    rush(ledger, 25)  # 15 mugs left: 7 pairs, under the pair's guard of ~ 1.25/s x 60 s
    assert desired_of(ledger, "MUG-PAIR") == {"shopify-main": 7, "amazon-eu": 0}
    rush_is_over(ledger)
    ledger.receive(SKU, 60, location="berlin")  # the mug and the pair are recomputed: listed
    assert desired(ledger)["amazon-eu"] == 75
    # a pair still hidden (by a rush of its own, say) while the mug itself is listed
    ledger.run(
        lambda s: s.execute(
            update(ListingRow).values(desired_qty=0).where(ListingRow.external_id == "B0PAIR")
        )
    )

    assert ledger.refresh_rate_guards() == 1

    assert desired_of(ledger, "MUG-PAIR") == {"shopify-main": 37, "amazon-eu": 37}
    assert ledger.verify() == []
