"""The poll-orders flow, run for real: orders whose webhooks never came reach the ledger."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from flows.poll_orders import poll_orders
from stocksync.ledger.service import Ledger
from stocksync.sync.drain import drain
from tasks.sync import close_all
from tests.flows.test_sync_inventory import write_channels_file
from tests.integration.push_support import SHOPIFY, WOO, Shops, list_in_ledger, running_shops

pytestmark = [
    pytest.mark.filterwarnings(
        "ignore:Exception ignored in. <socket.socket:pytest.PytestUnraisableExceptionWarning"
    ),
    pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning"),
]

MUG = "TEAL-MUG-350ML"


@pytest.fixture
def shops(ledger: Ledger) -> Iterator[Shops]:
    with running_shops([MUG]) as running:
        list_in_ledger(ledger, running, {MUG: 10})
        drain(ledger, running.connectors, worker_id="setup")  # both shops show 10
        yield running
        close_all()


def test_a_poll_run_records_orders_from_every_channel_once(
    ledger: Ledger, shops: Shops, database_url: str, tmp_path: Path
) -> None:
    channels_file = str(write_channels_file(shops, tmp_path))
    woo = httpx.post(
        f"{shops.urls[WOO]}/_sandbox/shopper/orders",
        json={"lines": [{"product_id": shops.products[MUG], "quantity": 2}]},
        timeout=5,
    ).json()
    httpx.post(
        f"{shops.urls[SHOPIFY]}/_sandbox/shopper/orders",
        json={"lines": [{"inventory_item_id": shops.items[MUG], "quantity": 1}]},
        timeout=5,
    ).raise_for_status()

    first = asyncio.run(poll_orders(database_url=database_url, channels_file=channels_file))
    again = asyncio.run(poll_orders(database_url=database_url, channels_file=channels_file))

    assert first[WOO]["applied"] == [str(woo["id"])]
    assert len(first[SHOPIFY]["applied"]) == 1
    assert "amazon-eu" not in first  # no configuration: left out quietly
    assert again[WOO]["applied"] == [] and again[SHOPIFY]["applied"] == []
    assert ledger.order(WOO, str(woo["id"])).lines[0].committed == 2
    assert ledger.verify() == []
