"""The sync-inventory flow, run for real, pushing to the Shopify and WooCommerce emulators."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
from prefect.states import State
from sqlalchemy import update

from blocks.channels import ShopifyCredentials, WooCommerceCredentials
from flows.sync_inventory import sync_inventory
from stocksync.ledger.results import LineIn
from stocksync.ledger.service import Ledger
from stocksync.ledger.tables import ListingRow, SkuRow
from stocksync.sandbox.shopify import DEFAULT_LOCATION
from tasks.sync import close_all
from tests.fake_slack import TOKEN, fake_slack
from tests.integration.push_support import (
    AMAZON,
    SHOPIFY,
    WOO,
    Shops,
    list_in_ledger,
    listing,
    running_shops,
)

pytestmark = [
    pytest.mark.filterwarnings(
        "ignore:Exception ignored in. <socket.socket:pytest.PytestUnraisableExceptionWarning"
    ),
    pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning"),
]

MUG = "TEAL-MUG-350ML"
COASTER = "OAK-COASTER"


@pytest.fixture
def shops(ledger: Ledger) -> Iterator[Shops]:
    with running_shops([MUG, COASTER]) as running:
        list_in_ledger(ledger, running, {MUG: 10, COASTER: 6})
        yield running
        close_all()  # the registry's connectors point at these emulators


@pytest.fixture
def channels_file(shops: Shops, tmp_path: Path) -> str:
    """Both shops configured in a channels file; amazon-eu has no configuration."""
    return str(write_channels_file(shops, tmp_path))


def write_channels_file(shops: Shops, where: Path) -> Path:
    path = where / "stocksync-channels.json"
    channels = {
        SHOPIFY: {
            "kind": "shopify", "shop_url": shops.urls[SHOPIFY],
            "access_token": shops.shopify.access_token, "webhook_secret": "s", "timeout_s": 5,
        },
        WOO: {
            "kind": "woocommerce", "base_url": shops.urls[WOO], "consumer_key": "ck_teal",
            "consumer_secret": "cs_teal", "webhook_secret": "wh", "timeout_s": 5,
        },
    }  # fmt: skip
    path.write_text(json.dumps({"channels": channels}))
    return path


def run_sync(**params: Any) -> tuple[dict[str, dict[str, int]], dict[str, Any]]:
    """One real run: its result, its name and its artifacts' rows."""

    async def go() -> tuple[dict[str, dict[str, int]], dict[str, Any]]:
        state: State = await sync_inventory(**params, return_state=True)  # type: ignore[call-overload]
        counts = await state.result()  # type: ignore[misc]
        run_id = state.state_details.flow_run_id
        async with get_client() as client:
            run = await client.read_flow_run(run_id)
            artifacts = await client.read_artifacts(
                artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]))
            )
        rows = [r for a in artifacts for r in _rows(a.data)]
        return counts, {"name": run.name, "state": run.state_type.value, "rows": rows}

    return asyncio.run(go())


def _rows(data: Any) -> list[dict[str, Any]]:
    return json.loads(data) if isinstance(data, str) else data


def test_one_run_pushes_every_order_to_both_shops_and_says_which(
    ledger: Ledger, database_url: str, shops: Shops, channels_file: str
) -> None:
    ledger.record_order(AMAZON, "114-1", [LineIn(MUG, 3)])
    ledger.record_order(SHOPIFY, "1001", [LineIn(MUG, 1)])
    ledger.record_order(WOO, "2001", [LineIn(COASTER, 2)])

    counts, run = run_sync(database_url=database_url, channels_file=channels_file)

    assert shops.shows(MUG) == {SHOPIFY: 6, WOO: 6}
    assert shops.shows(COASTER) == {SHOPIFY: 4, WOO: 4}
    assert counts[SHOPIFY]["pushed"] == counts[WOO]["pushed"] == 2
    assert AMAZON not in counts  # no configuration: not drained, not an error
    assert run["name"] == f"{SHOPIFY},{WOO}: #114-1 #1001 #2001"
    assert sorted((r["channel"], r["sku"], r["quantity"], r["outcome"]) for r in run["rows"]) == [
        (SHOPIFY, COASTER, 4, "pushed"), (SHOPIFY, MUG, 6, "pushed"),
        (WOO, COASTER, 4, "pushed"), (WOO, MUG, 6, "pushed"),
    ]  # fmt: skip


def test_the_next_run_names_only_the_orders_since_the_last_push(
    ledger: Ledger, database_url: str, shops: Shops, channels_file: str
) -> None:
    run_sync(database_url=database_url, channels_file=channels_file)
    for n in range(7):
        ledger.record_order(AMAZON, f"114-{n}", [LineIn(MUG, 1)])

    counts, run = run_sync(database_url=database_url, channels_file=channels_file, channels=[WOO])

    assert run["name"] == f"{WOO}: #114-0 #114-1 #114-2 #114-3 #114-4 +2 more"
    assert list(counts) == [WOO]
    assert shops.shows(MUG) == {SHOPIFY: 10, WOO: 3}


def test_a_failing_shop_does_not_fail_the_run_and_its_listings_go_out_later(
    ledger: Ledger, database_url: str, shops: Shops, channels_file: str
) -> None:
    run_sync(database_url=database_url, channels_file=channels_file)
    ledger.record_order(AMAZON, "114-2", [LineIn(COASTER, 1)])
    shops.woo.faults.error_rate = 1.0  # every WooCommerce call answers 503

    counts, run = run_sync(database_url=database_url, channels_file=channels_file)

    assert run["state"] == "COMPLETED"
    assert (counts[SHOPIFY]["pushed"], counts[WOO]["retry"]) == (1, 1)
    assert [(r["channel"], r["outcome"]) for r in run["rows"]] == [
        (SHOPIFY, "pushed"), (WOO, "retry"),
    ]  # fmt: skip
    coaster = listing(ledger, WOO, COASTER)
    assert (coaster.dirty, coaster.attempts) == (True, 1)
    assert shops.shows(COASTER) == {SHOPIFY: 5, WOO: 6}

    shops.woo.faults.error_rate = 0.0
    ledger.run(lambda s: s.execute(update(ListingRow).values(next_attempt_at=None)))  # time passes
    counts, _ = run_sync(database_url=database_url, channels_file=channels_file)

    assert counts[WOO]["pushed"] == 1
    assert shops.shows(COASTER) == {SHOPIFY: 5, WOO: 5}
    assert listing(ledger, WOO, COASTER).dirty is False


def test_a_channel_asked_for_but_not_configured_is_reported_and_the_rest_still_sync(
    ledger: Ledger, database_url: str, shops: Shops, channels_file: str
) -> None:
    counts, run = run_sync(
        database_url=database_url, channels_file=channels_file, channels=[AMAZON, SHOPIFY]
    )

    assert list(counts) == [SHOPIFY]
    assert run["name"].startswith(f"{SHOPIFY}: ")
    assert shops.shows(MUG)[SHOPIFY] == 10


def test_with_use_blocks_the_channels_come_from_blocks_named_as_the_channels(
    ledger: Ledger, database_url: str, shops: Shops
) -> None:
    async def save_blocks() -> None:
        await ShopifyCredentials(
            channel=SHOPIFY, shop_url=shops.urls[SHOPIFY], access_token=shops.shopify.access_token,
            webhook_secret="s", location_id=DEFAULT_LOCATION,
        ).save(SHOPIFY, overwrite=True)  # fmt: skip
        await WooCommerceCredentials(
            channel=WOO, base_url=shops.urls[WOO], consumer_key="ck_teal",
            consumer_secret="cs_teal", webhook_secret="wh",
        ).save(WOO, overwrite=True)  # fmt: skip

    asyncio.run(save_blocks())
    ledger.record_order(AMAZON, "114-5", [LineIn(MUG, 4)])

    counts, run = run_sync(database_url=database_url, use_blocks=True)

    assert shops.shows(MUG) == {SHOPIFY: 6, WOO: 6}
    assert sorted(counts) == [SHOPIFY, WOO]  # amazon-eu has no block: left out quietly
    assert run["name"] == f"{SHOPIFY},{WOO}: #114-5"


def test_pushed_skus_get_a_low_stock_check_and_a_slack_outage_never_fails_the_sync(
    ledger: Ledger,
    database_url: str,
    shops: Shops,
    channels_file: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ledger.run(lambda s: s.execute(update(SkuRow).values(reorder_point=8)))
    with fake_slack() as slack:
        monkeypatch.setenv("STOCKSYNC_SLACK_BOT_TOKEN", TOKEN)
        monkeypatch.setenv("STOCKSYNC_SLACK_API_URL", slack.api_url)
        ledger.record_order(AMAZON, "114-6", [LineIn(MUG, 3)])

        run_sync(database_url=database_url, channels_file=channels_file)

        assert [p["text"].split(":")[0] for p in slack.posts] == ["Low stock"]
        assert MUG in slack.posts[0]["text"]

        monkeypatch.setenv("STOCKSYNC_SLACK_BOT_TOKEN", "xoxb-revoked")
        ledger.record_order(AMAZON, "114-7", [LineIn(COASTER, 1)])
        counts, run = run_sync(database_url=database_url, channels_file=channels_file)

    assert run["state"] == "COMPLETED"
    assert counts[WOO]["pushed"] == 1 and shops.shows(COASTER) == {SHOPIFY: 5, WOO: 5}
    assert len(slack.posts) == 1


def test_a_channel_whose_settings_are_incomplete_is_left_out_and_the_rest_still_sync(
    ledger: Ledger, database_url: str, shops: Shops, tmp_path: Path
) -> None:
    path = write_channels_file(shops, tmp_path)
    doc = json.loads(path.read_text())
    del doc["channels"][WOO]["consumer_secret"]
    path.write_text(json.dumps(doc))

    counts, run = run_sync(database_url=database_url, channels_file=str(path))

    assert run["state"] == "COMPLETED"
    assert list(counts) == [SHOPIFY]
    assert shops.shows(MUG) == {SHOPIFY: 10, WOO: 0}
    assert listing(ledger, WOO, MUG).dirty is True


def test_a_listing_held_back_fails_the_run_saying_which_after_the_rest_synced(
    ledger: Ledger,
    database_url: str,
    shops: Shops,
    channels_file: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ledger.run(
        lambda s: s.execute(
            update(ListingRow)
            .where(ListingRow.external_id == str(shops.products[COASTER]))
            .values(external_id="999999")
        )
    )  # a wrong id in the catalog: WooCommerce has no product 999999
    with fake_slack() as slack:
        monkeypatch.setenv("STOCKSYNC_SLACK_BOT_TOKEN", TOKEN)
        monkeypatch.setenv("STOCKSYNC_SLACK_API_URL", slack.api_url)

        state: State = asyncio.run(
            sync_inventory(database_url=database_url, channels_file=channels_file,
                           return_state=True)  # type: ignore[call-overload]
        )  # fmt: skip
        again: State = asyncio.run(
            sync_inventory(database_url=database_url, channels_file=channels_file,
                           return_state=True)  # type: ignore[call-overload]
        )  # fmt: skip

    assert state.is_failed()
    assert f"1 listing held back, not synced until fixed: {WOO}/{COASTER} (999999)" in (
        state.message or ""
    )
    assert shops.shows(MUG) == {SHOPIFY: 10, WOO: 10}
    assert shops.shows(COASTER) == {SHOPIFY: 6, WOO: 0}
    assert listing(ledger, WOO, COASTER).dirty is True
    held = [p["text"] for p in slack.posts if p["text"].startswith("Not syncing")]
    assert held == [f"Not syncing: {WOO}/{COASTER}"]
    assert again.is_completed()  # held back, not pushed again: the next run has nothing to say
