"""Alerts from the ledger to a fake Slack: cooldowns, once-only oversold reports, outages."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from stocksync.alerts.service import alert_low_stock, alert_oversold, post_digest
from stocksync.alerts.slack import SlackNotifier
from stocksync.ledger.results import LineIn
from stocksync.ledger.service import Ledger
from tests.factories import add_channels, load_catalog
from tests.fake_slack import TOKEN, FakeSlack, fake_slack

CATALOG = """sku,location,on_hand,title,reorder_point,lead_time_days,listing:shopify-main,listing:woo-site
TEAL-MUG-350ML,berlin,5,Teal mug 350 ml,4,14,gid://shopify/InventoryItem/1,101
OAK-COASTER,berlin,40,Oak coaster,10,30,gid://shopify/InventoryItem/2,102
"""
COOLDOWN = timedelta(hours=12)


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with fake_slack() as running:
        yield running


@pytest.fixture
def shop(ledger: Ledger) -> Ledger:
    add_channels(ledger, ("shopify-main", "shopify", 2), ("woo-site", "woocommerce", 1))
    load_catalog(ledger, CATALOG)
    return ledger


def _notifier(slack: FakeSlack, retries: int = 3) -> SlackNotifier:
    return SlackNotifier(TOKEN, "#stock", base_url=slack.api_url, max_retries=retries)


def test_a_low_sku_alerts_once_per_cooldown(shop: Ledger, slack: FakeSlack) -> None:
    shop.record_order("shopify-main", "1001", [LineIn("TEAL-MUG-350ML", 2)])
    now = datetime.now(UTC)

    first = alert_low_stock(shop, _notifier(slack), cooldown=COOLDOWN, now=now)
    again = alert_low_stock(shop, _notifier(slack), cooldown=COOLDOWN, now=now + timedelta(hours=1))
    later = alert_low_stock(
        shop, _notifier(slack), cooldown=COOLDOWN, now=now + timedelta(hours=13)
    )

    assert first.sent == ["low:TEAL-MUG-350ML"]
    assert again.sent == [] and again.suppressed == ["low:TEAL-MUG-350ML"]
    assert later.sent == ["low:TEAL-MUG-350ML"]
    assert len(slack.posts) == 2 and "TEAL-MUG-350ML (3 left)" in slack.posts[0]["text"]


def test_skus_above_their_reorder_point_do_not_alert(shop: Ledger, slack: FakeSlack) -> None:
    report = alert_low_stock(shop, _notifier(slack), ["OAK-COASTER"], cooldown=COOLDOWN)
    assert report.sent == [] and slack.calls == 0


def test_an_alert_lost_to_a_slack_outage_is_sent_by_the_next_check(
    shop: Ledger, slack: FakeSlack
) -> None:
    shop.record_order("shopify-main", "1001", [LineIn("TEAL-MUG-350ML", 2)])
    slack.failures = [503, 503]

    failed = alert_low_stock(shop, _notifier(slack, retries=1), cooldown=COOLDOWN)
    retried = alert_low_stock(shop, _notifier(slack, retries=1), cooldown=COOLDOWN)

    assert failed.failed == ["low:TEAL-MUG-350ML"] and "503" in (failed.error or "")
    assert retried.sent == ["low:TEAL-MUG-350ML"] and len(slack.posts) == 1


def test_an_oversold_line_is_reported_once(shop: Ledger, slack: FakeSlack) -> None:
    shop.record_order("shopify-main", "1001", [LineIn("TEAL-MUG-350ML", 5)])
    shop.record_order("woo-site", "2001", [LineIn("TEAL-MUG-350ML", 1)])

    first = alert_oversold(shop, _notifier(slack))
    second = alert_oversold(shop, _notifier(slack))

    assert first.sent == ["oversold:woo-site:2001:TEAL-MUG-350ML"]
    assert second.sent == [] and second.suppressed == first.sent
    assert len(slack.posts) == 1 and slack.posts[0]["text"] == "Oversold: TEAL-MUG-350ML"


def test_the_digest_lists_low_skus_among_all(shop: Ledger, slack: FakeSlack) -> None:
    shop.record_order("shopify-main", "1001", [LineIn("TEAL-MUG-350ML", 2)])

    report = post_digest(shop, _notifier(slack))

    assert report.sent == ["digest"]
    assert slack.posts[0]["text"] == "Stock digest: 1 of 2 SKUs at or below their reorder points"


@pytest.mark.postgres
def test_two_checkers_at_once_claim_an_alert_once(shop: Ledger) -> None:
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from stocksync.ledger.alert_claims import claim_alerts

    start = Barrier(4)

    def claim(_: int) -> list[str]:
        start.wait()
        return shop.call(claim_alerts, ["low:TEAL-MUG-350ML"], cooldown=COOLDOWN)

    with ThreadPoolExecutor(4) as pool:
        claimed = list(pool.map(claim, range(4)))

    assert sorted(len(c) for c in claimed) == [0, 0, 0, 1]
