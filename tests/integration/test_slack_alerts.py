"""Alerts reach Slack through the real slack-sdk client, pointed at a local fake of its API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from stocksync.alerts.low_stock import LowStock
from stocksync.alerts.oversold import OversoldLine
from stocksync.alerts.reorder import advise
from stocksync.alerts.slack import AlertDeliveryError, SlackNotifier
from stocksync.alerts.slack_messages import (
    MAX_ITEMS,
    digest_messages,
    low_stock_messages,
    oversold_message,
)
from stocksync.ledger.oversold_orders import OrderRef
from tests.fake_slack import TOKEN, FakeSlack, fake_slack


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with fake_slack() as running:
        yield running


def _mug(available: int = 3) -> LowStock:
    return LowStock(
        sku="TEAL-MUG-350ML",
        title="Teal mug 350 ml",
        reorder_point=4,
        lead_time_days=14,
        available=available,
        by_location={"berlin": available - 1, "leeds": 1},
        demand=56,
        advice=advise(
            available=available, demand=56, window_days=28, lead_time_days=14, reorder_point=4
        ),
    )


def _texts(post: dict) -> str:
    return "\n".join(
        str(b.get("text", {}).get("text", "")) + " ".join(f["text"] for f in b.get("fields", []))
        for b in post["blocks"]
    )


def test_a_low_stock_alert_names_the_sku_its_locations_cover_and_reorder(slack: FakeSlack) -> None:
    notifier = SlackNotifier(TOKEN, "#stock", base_url=slack.api_url)

    ts = notifier.post(low_stock_messages([_mug()])[0])

    assert ts and len(slack.posts) == 1
    post = slack.posts[0]
    assert post["channel"] == "#stock"
    assert "TEAL-MUG-350ML (3 left)" in post["text"]
    body = _texts(post)
    assert "*Available:* 3 (reorder point 4)" in body
    assert "berlin 2, leeds 1" in body
    assert "*Days of cover:* 1.5 days" in body
    assert "*Suggested reorder:* 67 units (2/day, lead time 14 d)" in body


def test_an_oversold_alert_names_the_orders_and_the_one_to_cancel(slack: FakeSlack) -> None:
    placed = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    short = OrderRef(channel="woo-site", external_id="2001", placed_at=placed, quantity=1)
    rival = OrderRef(
        channel="shopify-main",
        external_id="5012345678901234567",
        placed_at=placed.replace(second=5),
        quantity=8,
    )
    line = OversoldLine(
        sku="TEAL-MUG-350ML", short=1, order=short, competitors=(rival,), cancel=rival
    )

    SlackNotifier(TOKEN, "#stock", base_url=slack.api_url).post(oversold_message([line]))

    body = _texts(slack.posts[0])
    assert "1 unit short on woo-site #2001" in body
    assert "Orders holding this stock: shopify-main #5012345678901234567" in body
    assert "*Cancel:* shopify-main #5012345678901234567" in body


def test_a_long_list_is_split_and_an_empty_digest_says_all_is_well() -> None:
    items = [_mug() for _ in range(MAX_ITEMS + 1)]
    assert [len(m.blocks) for m in low_stock_messages(items)] == [1 + 2 * MAX_ITEMS, 3]
    assert all(len(m.blocks) <= 50 for m in low_stock_messages(items))
    quiet = digest_messages([], total_skus=12)
    assert quiet[0].text == "Stock digest: all 12 SKUs above their reorder points"


def test_rate_limits_and_server_errors_are_retried_by_the_client(slack: FakeSlack) -> None:
    slack.failures = [429, 503]

    SlackNotifier(TOKEN, "#stock", base_url=slack.api_url).post(low_stock_messages([_mug()])[0])

    assert slack.calls == 3 and len(slack.posts) == 1


def test_an_outage_raises_a_delivery_error_without_the_token(slack: FakeSlack) -> None:
    slack.failures = [503] * 3
    notifier = SlackNotifier(TOKEN, "#stock", base_url=slack.api_url, max_retries=2)

    with pytest.raises(AlertDeliveryError) as caught:
        notifier.post(low_stock_messages([_mug()])[0])

    assert TOKEN not in str(caught.value) and slack.posts == []


def test_a_bad_token_is_refused_clearly(slack: FakeSlack) -> None:
    with pytest.raises(AlertDeliveryError, match="invalid_auth"):
        SlackNotifier("xoxb-wrong", "#stock", base_url=slack.api_url).post(
            low_stock_messages([_mug()])[0]
        )
