"""The low-stock-alerts flow, run for real, posting through slack-sdk to a local fake Slack."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from flows.low_stock_alerts import low_stock_alerts
from stocksync.ledger.results import LineIn
from stocksync.ledger.service import Ledger
from tests.factories import add_channels, load_catalog
from tests.fake_slack import TOKEN, FakeSlack, fake_slack

pytestmark = [
    pytest.mark.filterwarnings(
        "ignore:Exception ignored in. <socket.socket:pytest.PytestUnraisableExceptionWarning"
    ),
    pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning"),
]

CATALOG = """sku,location,on_hand,title,reorder_point,lead_time_days,listing:shopify-main,listing:woo-site
TEAL-MUG-350ML,berlin,5,Teal mug 350 ml,4,14,gid://shopify/InventoryItem/1,101
OAK-COASTER,berlin,40,Oak coaster,10,30,gid://shopify/InventoryItem/2,102
"""


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSlack]:
    with fake_slack() as running:
        monkeypatch.setenv("STOCKSYNC_SLACK_BOT_TOKEN", TOKEN)
        monkeypatch.setenv("STOCKSYNC_SLACK_API_URL", running.api_url)
        monkeypatch.setenv("STOCKSYNC_SLACK_CHANNEL", "#stock")
        yield running


def test_a_run_alerts_the_oversold_line_and_the_low_sku_then_holds_back(
    ledger: Ledger, database_url: str, slack: FakeSlack
) -> None:
    add_channels(ledger, ("shopify-main", "shopify", 2), ("woo-site", "woocommerce", 1))
    load_catalog(ledger, CATALOG)
    ledger.record_order("shopify-main", "1001", [LineIn("TEAL-MUG-350ML", 5)])
    ledger.record_order("woo-site", "2001", [LineIn("TEAL-MUG-350ML", 1)])

    first = asyncio.run(low_stock_alerts(database_url=database_url, digest=True))
    second = asyncio.run(low_stock_alerts(database_url=database_url))

    assert first["oversold"]["sent"] == ["oversold:woo-site:2001:TEAL-MUG-350ML"]
    assert first["low_stock"]["sent"] == ["low:TEAL-MUG-350ML"]
    assert first["digest"]["sent"] == ["digest"]
    assert second["oversold"]["sent"] == [] and second["low_stock"]["sent"] == []
    assert [p["text"].split(":")[0] for p in slack.posts] == [
        "Oversold",
        "Low stock",
        "Stock digest",
    ]
    assert all(p["channel"] == "#stock" for p in slack.posts)


def test_without_slack_configured_the_run_succeeds_and_sends_nothing(
    ledger: Ledger, database_url: str
) -> None:
    assert asyncio.run(low_stock_alerts(database_url=database_url)) == {}
