"""``stocksync channel read`` and ``channel push`` against the emulators over loopback HTTP.

The channel is configured the way an operator without Prefect would: a channels file plus a
``STOCKSYNC_<NAME>_<FIELD>`` variable for the secret. Where the ledger is involved the tests run
on both backends.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from stocksync.cli import app
from stocksync.ledger.channel_listings import channel_listings
from stocksync.ledger.service import Ledger
from stocksync.ledger.tables import ListingRow, SkuRow
from stocksync.sandbox.server import serve_in_thread
from stocksync.sandbox.shopify import ShopifyState, place_order
from stocksync.sandbox.shopify import create_app as shopify_app
from stocksync.sandbox.woocommerce import WooState
from stocksync.sandbox.woocommerce import create_app as woo_app
from stocksync.settings import get_settings
from tests.factories import add_channels, add_locations, load_catalog

MUG, COASTER, CANDLE = "TEAL-MUG-350ML", "OAK-COASTER", "BEESWAX-CANDLE"

runner = CliRunner()
Invoke = Callable[..., Any]


@dataclass
class Shop:
    state: ShopifyState
    base_url: str
    sales_before_next_push: list[tuple[str, int]]
    """Shopper orders placed just before the emulator applies the next inventorySetQuantities."""


def sells_before_pushes(app: Any, state: ShopifyState, pending: list[tuple[str, int]]) -> Any:
    """The emulator, with a shopper checking out between our read and our push when asked to."""

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        messages, more = [], True
        while more:
            messages.append(await receive())
            more = messages[-1].get("more_body", False)
        body = b"".join(m.get("body", b"") for m in messages)
        if b"inventorySetQuantities" in body and pending:
            for item, qty in pending:
                place_order(state, [{"inventory_item_id": item, "quantity": qty}])
            pending.clear()
        replay = iter(messages)

        async def receive_again() -> Any:
            return next(replay, None) or await receive()

        await app(scope, receive_again, send)

    return wrapped


@pytest.fixture
def shop() -> Iterator[Shop]:
    state, pending = ShopifyState(), []
    base_url, stop = serve_in_thread(sells_before_pushes(shopify_app(state), state, pending))
    yield Shop(state, base_url, pending)
    stop()


@pytest.fixture
def channels_file(tmp_path: Path, shop: Shop, monkeypatch: pytest.MonkeyPatch) -> Path:
    """shopify-main in a TOML file, kind left to the ledger, token in the environment."""
    path = tmp_path / "stocksync-channels.toml"
    path.write_text(f'[channels.shopify-main]\nshop_url = "{shop.base_url}"\ntimeout_s = 5\n')
    monkeypatch.setenv("STOCKSYNC_SHOPIFY_MAIN_ACCESS_TOKEN", shop.state.access_token)
    monkeypatch.setenv("STOCKSYNC_CHANNELS_FILE", str(path))
    return path


def invoker(monkeypatch: pytest.MonkeyPatch, database_url: str) -> Invoke:
    monkeypatch.setenv("STOCKSYNC_DATABASE_URL", database_url)
    get_settings.cache_clear()

    def invoke(*args: str, code: int = 0) -> str:
        """The command's output; messages rich wrapped to the terminal are joined again."""
        result = runner.invoke(app, list(args))
        assert result.exit_code == code, result.output
        assert "Traceback" not in result.output
        return result.output if "--json" in args else " ".join(result.output.split())

    return invoke


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    return invoker(monkeypatch, database_url)


@pytest.fixture
def cli_without_ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    """No ledger database exists: the commands use the channel alone (and create no file)."""
    monkeypatch.chdir(tmp_path)  # away from any channels file in the working directory
    return invoker(monkeypatch, f"sqlite:///{tmp_path / 'no-ledger.db'}")


@pytest.fixture
def stocked(shop: Shop, ledger: Ledger) -> dict[str, str]:
    """The shop lists the mug and coaster the ledger knows, and a candle the ledger does not."""
    items = {sku: shop.state.stock(sku, qty) for sku, qty in [(MUG, 5), (COASTER, 12), (CANDLE, 7)]}
    add_locations(ledger, "berlin-dc")
    add_channels(ledger, ("shopify-main", "shopify", 10))
    load_catalog(
        ledger,
        "sku,location,on_hand,listing:shopify-main\n"
        f"{MUG},berlin-dc,5,{items[MUG]}\n{COASTER},berlin-dc,12,{items[COASTER]}\n",
    )
    # As if the sync had pushed these counts and the channel had taken them.
    for sku, qty in [(MUG, 5), (COASTER, 12)]:
        ledger.run(lambda s, sku=sku, qty=qty: s.execute(
            update(ListingRow)
            .where(ListingRow.sku_id == SkuRow.id, SkuRow.sku == sku)
            .values(pushed_qty=qty, expected_qty=qty)
        ))  # fmt: skip
    return items


def ledger_listing(ledger: Ledger, sku: str) -> tuple[int, int | None]:
    view = ledger.run(lambda s: channel_listings(s, "shopify-main"))
    assert view is not None
    return view.listings[sku].desired, view.listings[sku].expected


def test_read_shows_each_listing_beside_the_ledger_and_marks_the_drift(
    cli: Invoke, channels_file: Path, shop: Shop, stocked: dict[str, str]
) -> None:
    place_order(shop.state, [{"inventory_item_id": stocked[MUG], "quantity": 2}])  # not ingested

    doc = json.loads(cli("channel", "read", "shopify-main", "--json"))

    rows = {r["sku"]: r for r in doc["listings"]}
    assert doc["in_ledger"] is True
    assert rows[MUG] == {
        "sku": MUG, "listing_id": stocked[MUG], "channel_qty": 3, "desired_qty": 5,
        "expected_qty": 5, "in_ledger": True, "state": "unverified", "channel_sku": None,
        "drift": -2,
    }  # fmt: skip
    assert (rows[COASTER]["channel_qty"], rows[COASTER]["drift"]) == (12, 0)
    assert rows[CANDLE] == {
        "sku": CANDLE, "listing_id": stocked[CANDLE], "channel_qty": 7, "desired_qty": None,
        "expected_qty": None, "in_ledger": False, "state": None, "channel_sku": None,
        "drift": None,
    }  # fmt: skip


def test_read_of_named_skus_maps_them_through_the_ledger_and_the_channel(
    cli: Invoke, channels_file: Path, stocked: dict[str, str]
) -> None:
    doc = json.loads(cli("channel", "read", "shopify-main", MUG, CANDLE, "--json"))
    assert [(r["sku"], r["channel_qty"], r["in_ledger"]) for r in doc["listings"]] == [
        (MUG, 5, True),
        (CANDLE, 7, False),
    ]
    assert "BEESWAX" in cli("channel", "read", "shopify-main", CANDLE)
    out = cli("channel", "read", "shopify-main", "NO-SUCH-SKU", code=2)
    assert "no listing for NO-SUCH-SKU on shopify-main" in out


def test_a_manual_push_compares_and_sets_and_leaves_the_ledger_alone(
    cli: Invoke, channels_file: Path, shop: Shop, ledger: Ledger, stocked: dict[str, str]
) -> None:
    out = cli("channel", "push", "shopify-main", MUG, "4")

    assert "5 → 4 (compare-and-set)" in out
    assert shop.state.available(stocked[MUG]) == 4
    assert ledger_listing(ledger, MUG) == (5, 5)


def test_a_sale_between_read_and_push_is_a_conflict_that_overwrites_nothing(
    cli: Invoke, channels_file: Path, shop: Shop, ledger: Ledger, stocked: dict[str, str]
) -> None:
    shop.sales_before_next_push.append((stocked[MUG], 2))

    out = cli("channel", "push", "shopify-main", MUG, "9", code=1)

    assert "conflict: shopify-main now shows 3 and no longer shows 5; nothing was written" in out
    assert shop.state.available(stocked[MUG]) == 3
    assert ledger_listing(ledger, MUG) == (5, 5)


def test_force_overwrites_whatever_the_channel_shows(
    cli: Invoke, channels_file: Path, shop: Shop, stocked: dict[str, str]
) -> None:
    shop.sales_before_next_push.append((stocked[MUG], 2))

    out = cli("channel", "push", "shopify-main", MUG, "9", "--force")

    assert "overwritten, no compare-and-set" in out
    assert shop.state.available(stocked[MUG]) == 9


def test_without_a_ledger_the_channel_sku_maps_the_listing(
    cli_without_ledger: Invoke, tmp_path: Path, shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    mug = shop.state.stock(MUG, 5)
    monkeypatch.setenv("STOCKSYNC_SHOPIFY_MAIN_KIND", "shopify")
    monkeypatch.setenv("STOCKSYNC_SHOPIFY_MAIN_SHOP_URL", shop.base_url)
    monkeypatch.setenv("STOCKSYNC_SHOPIFY_MAIN_ACCESS_TOKEN", shop.state.access_token)

    doc = json.loads(cli_without_ledger("channel", "read", "shopify-main", "--json"))
    cli_without_ledger("channel", "push", "shopify-main", MUG, "2")

    assert doc["in_ledger"] is False
    assert [(r["sku"], r["channel_qty"]) for r in doc["listings"]] == [(MUG, 5)]
    assert shop.state.available(mug) == 2
    assert not (tmp_path / "no-ledger.db").exists()


# -- WooCommerce: no compare-and-set ------------------------------------------------------------


@pytest.fixture
def woo(tmp_path: Path) -> Iterator[tuple[WooState, Path]]:
    state = WooState(consumer_key="ck_teal", consumer_secret="cs_teal", webhook_secret="wh_teal")
    base_url, stop = serve_in_thread(woo_app(state))
    path = tmp_path / "channels.json"
    path.write_text(json.dumps({"channels": {"woo-site": {
        "kind": "woocommerce", "base_url": base_url, "consumer_key": "ck_teal",
        "consumer_secret": "cs_teal", "webhook_secret": "wh_teal", "timeout_s": 5,
    }}}))  # fmt: skip
    yield state, path
    stop()


def test_woocommerce_reads_and_pushes_on_both_backends_saying_last_write_wins(
    cli: Invoke, woo: tuple[WooState, Path], ledger: Ledger
) -> None:
    state, path = woo
    mug = state.add_product(MUG, 6)
    add_locations(ledger, "berlin-dc")
    add_channels(ledger, ("woo-site", "woocommerce", 10))
    load_catalog(ledger, f"sku,location,on_hand,listing:woo-site\n{MUG},berlin-dc,4,{mug.id}\n")

    doc = json.loads(cli("channel", "read", "woo-site", "--channels-file", str(path), "--json"))
    out = cli("channel", "push", "woo-site", MUG, "4", "--channels-file", str(path))

    assert [(r["sku"], r["channel_qty"], r["desired_qty"]) for r in doc["listings"]] == [
        (MUG, 6, 4)
    ]
    assert "6 → 4 (overwritten, no compare-and-set)" in out
    assert state.stock_of(mug.id) == 4


# -- failures: one line, no traceback, no secret -------------------------------------------------


def test_a_channel_configured_nowhere_is_one_clear_line(
    cli_without_ledger: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    out = cli_without_ledger("channel", "read", "amazon-eu", code=2)
    assert "no configuration for channel 'amazon-eu'" in out
    assert out.count("error:") == 1


def test_refused_credentials_are_one_line_without_the_token(
    cli_without_ledger: Invoke, channels_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STOCKSYNC_SHOPIFY_MAIN_KIND", "shopify")
    monkeypatch.setenv("STOCKSYNC_SHOPIFY_MAIN_ACCESS_TOKEN", "shpat_wrong_but_secret")

    out = cli_without_ledger("channel", "read", "shopify-main", code=2)

    assert "shopify-main refused the credentials" in out
    assert "shpat_wrong_but_secret" not in out


def test_a_channel_that_is_down_is_one_line(
    cli_without_ledger: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setenv("STOCKSYNC_SHOPIFY_MAIN_KIND", "shopify")
    monkeypatch.setenv("STOCKSYNC_SHOPIFY_MAIN_SHOP_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("STOCKSYNC_SHOPIFY_MAIN_ACCESS_TOKEN", "t")
    monkeypatch.setenv("STOCKSYNC_SHOPIFY_MAIN_TIMEOUT_S", "2")

    out = cli_without_ledger("channel", "push", "shopify-main", MUG, "1", code=2)

    assert "shopify-main is down or busy" in out and "try again later" in out


def test_a_ledger_listing_the_channel_no_longer_shows_is_not_pushed(
    cli: Invoke, channels_file: Path, shop: Shop, stocked: dict[str, str]
) -> None:
    del shop.state.items[int(stocked[COASTER].rsplit("/", 1)[1])]  # deleted in the Shopify admin

    read = json.loads(cli("channel", "read", "shopify-main", "--json"))
    out = cli("channel", "push", "shopify-main", COASTER, "3", code=2)

    gone = [r for r in read["listings"] if r["sku"] == COASTER]
    assert gone == [{"sku": COASTER, "listing_id": stocked[COASTER], "channel_qty": None,
                     "desired_qty": 12, "expected_qty": 12, "in_ledger": True,
                     "state": "unverified", "channel_sku": None, "drift": None}]  # fmt: skip
    assert f"listing {stocked[COASTER]} is not {COASTER} on shopify-main: no inventory item" in out
    assert "nothing was written" in out


def test_a_manual_push_to_an_id_holding_another_sku_is_refused(
    cli: Invoke, channels_file: Path, shop: Shop, stocked: dict[str, str]
) -> None:
    def shown() -> int | None:
        read = json.loads(cli("channel", "read", "shopify-main", "--json"))
        return next(
            r["channel_qty"] for r in read["listings"] if r["listing_id"] == stocked[COASTER]
        )

    shop.state.items[int(stocked[COASTER].rsplit("/", 1)[1])].sku = "SLATE-TRAY-L"  # re-used
    before = shown()

    out = cli("channel", "push", "shopify-main", COASTER, "3", code=2)

    assert "holds SKU 'SLATE-TRAY-L' under this id, not 'OAK-COASTER'" in out
    assert "nothing was written" in out
    assert shown() == before != 3
