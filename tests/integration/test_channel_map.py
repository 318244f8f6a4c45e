"""``stocksync channel map``: listing ids taken from the SKUs a channel shows, against the
WooCommerce emulator over loopback HTTP; and ``channel read`` showing each listing's state."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from stocksync.cli import app
from stocksync.cli.output import console
from stocksync.domain.clock import utcnow
from stocksync.ledger.service import Ledger
from stocksync.ledger.tables import ListingRow, SkuRow
from stocksync.sandbox.harness import RunningEmulator, start_emulator
from stocksync.settings import get_settings
from tests.factories import add_channels, add_locations, load_catalog

MUG, COASTER, CANDLE = "TEAL-MUG-350ML", "OAK-COASTER", "BEESWAX-CANDLE"
SET, VASE = "MUG-GIFT-SET", "RETIRED-VASE"

runner = CliRunner()
Invoke = Callable[..., Any]


@pytest.fixture
def woo() -> Iterator[RunningEmulator]:
    running = start_emulator("woocommerce", "woo-site", {MUG: 5, COASTER: 12, CANDLE: 7, SET: 3})
    yield running
    running.stop()


@pytest.fixture
def cli(
    database_url: str, woo: RunningEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Invoke:
    path = tmp_path / "stocksync-channels.json"
    path.write_text(json.dumps({"channels": {"woo-site": woo.connector_fields()}}))
    monkeypatch.setenv("STOCKSYNC_CHANNELS_FILE", str(path))
    monkeypatch.setenv("STOCKSYNC_DATABASE_URL", database_url)
    get_settings.cache_clear()

    def invoke(*args: str, code: int = 0) -> Any:
        result = runner.invoke(app, list(args))
        assert result.exit_code == code, result.output
        assert "Traceback" not in result.output
        if "--json" in args:
            return json.loads(result.stdout)
        return " ".join(result.output.split())

    return invoke


@pytest.fixture
def shop(ledger: Ledger, woo: RunningEmulator) -> Ledger:
    """The ledger lists the mug under its id, the coaster under a wrong one, the candle and the
    gift set not at all on woo-site, and a vase the shop no longer has."""
    add_locations(ledger, "berlin-dc")
    add_channels(ledger, ("woo-site", "woocommerce", 10))
    load_catalog(
        ledger,
        "sku,location,on_hand,components,listing:woo-site\n"
        f"{MUG},berlin-dc,5,,{woo.listing_id(MUG)}\n"
        f"{COASTER},berlin-dc,12,,999\n"
        f"{CANDLE},berlin-dc,6,,\n"
        f"{SET},,,{MUG}*1;{COASTER}*1,\n"
        f"{VASE},berlin-dc,1,,888\n",
    )
    return ledger


def listing(ledger: Ledger, sku: str) -> ListingRow | None:
    return ledger.run(
        lambda s: (
            s.execute(
                select(ListingRow)
                .join(SkuRow, SkuRow.id == ListingRow.sku_id)
                .where(SkuRow.sku == sku)
            )
            .scalars()
            .one_or_none()
        )
    )


def mismatched(ledger: Ledger, sku: str, channel_sku: str) -> None:
    """As the push pipeline leaves a listing whose id holds another product on the channel."""
    ledger.run(
        lambda s: s.execute(
            update(ListingRow)
            .where(ListingRow.sku_id == SkuRow.id, SkuRow.sku == sku)
            .values(
                state="mismatched", channel_sku=channel_sku, attempts=4, next_attempt_at=utcnow(),
                last_error=f"the channel holds SKU {channel_sku!r} under this id", dirty=False,
                pushed_qty=12, expected_qty=12,
            )
        )
    )  # fmt: skip


def by_sku(doc: dict[str, Any]) -> dict[str, tuple[str, str | None, list[str]]]:
    return {p["sku"]: (p["status"], p["ledger_id"], p["channel_ids"]) for p in doc["proposals"]}


def test_the_map_proposes_the_ids_the_channel_shows_and_writes_nothing(
    cli: Invoke, shop: Ledger, woo: RunningEmulator
) -> None:
    doc = cli("channel", "map", "woo-site", "--json")
    out = cli("channel", "map", "woo-site")

    ids = {sku: woo.listing_id(sku) for sku in (MUG, COASTER, CANDLE, SET)}
    assert doc["applied"] is False
    assert by_sku(doc) == {
        CANDLE: ("new", None, [ids[CANDLE]]),
        SET: ("new", None, [ids[SET]]),
        COASTER: ("change", "999", [ids[COASTER]]),
        VASE: ("not on channel", "888", []),
        MUG: ("ok", ids[MUG], [ids[MUG]]),
    }
    assert f"{COASTER} │ change │ 999 │ {ids[COASTER]}" in out
    assert "nothing written: 3 to apply (2 new, 1 change); --apply writes them" in out
    assert listing(shop, COASTER).external_id == "999"  # type: ignore[union-attr]
    assert listing(shop, CANDLE) is None


def test_apply_writes_the_right_id_and_the_listing_is_checked_and_pushed_again(
    cli: Invoke, shop: Ledger, woo: RunningEmulator
) -> None:
    mismatched(shop, COASTER, "SOMEONE-ELSES")

    doc = cli("channel", "map", "woo-site", "--apply", "--json")

    assert doc["applied"] is True
    coaster = listing(shop, COASTER)
    assert coaster is not None
    assert (coaster.external_id, coaster.state, coaster.channel_sku, coaster.dirty) == (
        woo.listing_id(COASTER), "unverified", None, True,
    )  # fmt: skip
    assert (coaster.attempts, coaster.next_attempt_at, coaster.last_error) == (0, None, None)
    assert (coaster.expected_qty, coaster.desired_qty) == (None, 12)
    candle, gift_set = listing(shop, CANDLE), listing(shop, SET)
    assert candle is not None and gift_set is not None
    assert (candle.external_id, candle.desired_qty, candle.dirty) == (
        woo.listing_id(CANDLE), 6, True,
    )  # fmt: skip
    assert (gift_set.desired_qty, gift_set.state) == (5, "unverified")  # 5 mugs, 12 coasters
    assert listing(shop, VASE).external_id == "888"  # type: ignore[union-attr]
    assert shop.verify() == []
    again = cli("channel", "map", "woo-site", "--json")
    assert {p["status"] for p in again["proposals"]} == {"ok", "not on channel"}


def test_an_ambiguous_sku_and_an_id_another_listing_holds_are_shown_and_not_applied(
    cli: Invoke, shop: Ledger, woo: RunningEmulator
) -> None:
    woo.state.add_product(MUG, 2, name="Teal mug (old)")  # the same SKU under a second id
    shop.run(
        lambda s: s.execute(
            update(ListingRow)
            .where(ListingRow.sku_id == SkuRow.id, SkuRow.sku == VASE)
            .values(external_id=woo.listing_id(CANDLE))
        )
    )

    doc = cli("channel", "map", "woo-site", "--apply", "--json")
    out = cli("channel", "map", "woo-site")

    got = {p["sku"]: p for p in doc["proposals"]}
    assert (got[MUG]["status"], len(got[MUG]["channel_ids"])) == ("ambiguous", 2)
    assert got[CANDLE]["status"] == "conflict"
    assert got[CANDLE]["note"] == f"{woo.listing_id(CANDLE)} is {VASE}'s listing in the ledger"
    assert got[VASE]["note"] == f"the channel shows {CANDLE!r} under {woo.listing_id(CANDLE)}"
    assert listing(shop, CANDLE) is None
    assert listing(shop, COASTER).external_id == woo.listing_id(COASTER)  # type: ignore[union-attr]
    assert "1 conflict, 1 ambiguous: never applied" in out


def test_a_channel_the_ledger_does_not_know_is_one_line(cli: Invoke, shop: Ledger) -> None:
    out = cli("channel", "map", "ebay-de", code=2)
    assert "unknown channel: 'ebay-de'" in out


def test_read_shows_each_listings_state_and_the_channels_sku_when_mismatched(
    cli: Invoke, shop: Ledger, woo: RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console, "width", 160)  # the runner's 80 columns cut the table's cells
    mismatched(shop, MUG, "SOMEONE-ELSES")  # as if the product under its id had been re-used

    doc = cli("channel", "read", "woo-site", "--json")
    out = cli("channel", "read", "woo-site", MUG, VASE)

    rows = {(r["sku"], r["listing_id"]): r for r in doc["listings"]}
    mug = rows[(MUG, woo.listing_id(MUG))]
    assert (mug["channel_qty"], mug["state"], mug["channel_sku"]) == (
        5,
        "mismatched",
        "SOMEONE-ELSES",
    )
    assert rows[(VASE, "888")]["state"] == "unverified"
    assert rows[(CANDLE, woo.listing_id(CANDLE))]["state"] is None  # not a ledger listing
    assert "mismatched: SOMEONE-ELSES" in out and "unverified" in out


def test_a_channels_file_that_is_not_utf8_is_one_line_naming_the_byte(
    cli: Invoke, shop: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = '[channels.woo-site]\nkind = "woocommerce"\n# Café\n'.encode("latin-1")
    (tmp_path / "bad.toml").write_bytes(text)
    monkeypatch.chdir(tmp_path)

    out = cli("channel", "map", "woo-site", "--channels-file", "bad.toml", code=2)

    offset = text.index(b"\xe9")
    assert (
        out
        == f"error: bad.toml is not UTF-8: byte 0xe9 at offset {offset} (line 3); save it as UTF-8"
    )
