"""Importing a catalog into a ledger that already holds it: counts kept unless asked, new rows
added, unknown locations refused, changed listing ids checked again; and the command's output."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from stocksync.cli import app
from stocksync.domain.catalog_diff import CountDifference, ListingIdChange
from stocksync.domain.clock import utcnow
from stocksync.domain.errors import CatalogError
from stocksync.ledger.catalog import import_catalog
from stocksync.ledger.config import list_locations
from stocksync.ledger.service import Ledger
from stocksync.ledger.stock import stock_at
from stocksync.ledger.tables import ListingRow, MovementRow, SkuRow
from stocksync.settings import get_settings
from tests.factories import add_channels, add_locations

MUG, COASTER = "TEAL-MUG-350ML", "OAK-COASTER"

FIRST = f"sku,location,on_hand,title\n{MUG},berlin-dc,2,Teal mug\n"
WITH_LISTINGS = (
    "sku,location,on_hand,title,listing:woo-site\n"
    f"{MUG},berlin-dc,2,Teal mug,101\n"
    f"{COASTER},berlin-dc,40,Oak coaster,202\n"
)


@pytest.fixture
def shop(ledger: Ledger) -> Ledger:
    """berlin-dc and woo-site exist; the mug was imported at 2, then received 24 and counted 19."""
    add_locations(ledger, "berlin-dc")
    add_channels(ledger, ("woo-site", "woocommerce", 10))
    ledger.run(lambda s: import_catalog(s, FIRST))
    ledger.receive(MUG, 24, "berlin-dc", key="PO-4711")
    ledger.set_stock(MUG, 19, "berlin-dc")
    return ledger


def on_hand(ledger: Ledger, sku: str, location: str = "berlin-dc") -> int:
    return ledger.run(lambda s: stock_at(s, sku=sku, location=location)).on_hand


def import_notes(ledger: Ledger, sku: str) -> list[tuple[int, str]]:
    rows = ledger.run(
        lambda s: s.execute(
            select(MovementRow.delta_on_hand, MovementRow.note)
            .join(SkuRow, SkuRow.id == MovementRow.sku_id)
            .where(SkuRow.sku == sku, MovementRow.note == "catalog import")
            .order_by(MovementRow.id)
        ).all()
    )
    return [tuple(r) for r in rows]


def listing_row(ledger: Ledger, sku: str) -> ListingRow:
    return ledger.run(
        lambda s: (
            s.execute(
                select(ListingRow)
                .join(SkuRow, SkuRow.id == ListingRow.sku_id)
                .where(SkuRow.sku == sku)
            )
            .scalars()
            .one()
        )
    )


def test_a_reimport_keeps_the_counts_the_ledger_moved_and_reports_them(shop: Ledger) -> None:
    summary = shop.run(lambda s: import_catalog(s, WITH_LISTINGS))

    assert on_hand(shop, MUG) == 19
    assert import_notes(shop, MUG) == [(2, "catalog import")]  # the first import's only
    assert summary.counts_kept == [CountDifference(MUG, "berlin-dc", 19, 2)]
    assert summary.counts_set == []
    assert (summary.skus_added, summary.stock_rows_added, summary.listings_added) == (1, 1, 2)
    assert on_hand(shop, COASTER) == 40
    assert listing_row(shop, MUG).external_id == "101"
    assert shop.verify() == []


def test_set_stock_sets_the_differing_counts_and_lists_them_as_set(shop: Ledger) -> None:
    summary = shop.run(lambda s: import_catalog(s, WITH_LISTINGS, set_stock=True))

    assert on_hand(shop, MUG) == 2
    assert import_notes(shop, MUG) == [(2, "catalog import"), (-17, "catalog import")]
    assert summary.counts_set == [CountDifference(MUG, "berlin-dc", 19, 2)]
    assert summary.counts_kept == []
    assert shop.verify() == []


def test_a_reimport_of_the_same_counts_writes_no_movement(shop: Ledger) -> None:
    shop.set_stock(MUG, 2, "berlin-dc")

    summary = shop.run(lambda s: import_catalog(s, FIRST))

    assert (summary.counts_kept, summary.counts_set, summary.stock_rows_added) == ([], [], 0)
    assert import_notes(shop, MUG) == [(2, "catalog import")]


def test_an_unknown_location_is_refused_naming_its_row_unless_created(ledger: Ledger) -> None:
    add_locations(ledger, "berlin-dc")
    text = f"sku,location,on_hand\n{MUG},berlin-dc,2\n{MUG},berlni-dc,3\n{COASTER},leeds,1\n"

    with pytest.raises(CatalogError, match="no location named 'berlni-dc'") as caught:
        ledger.run(lambda s: import_catalog(s, text, create_locations=False))
    assert (caught.value.row, caught.value.column) == (3, "location")
    assert [loc.name for loc in ledger.run(list_locations)] == ["berlin-dc"]

    summary = ledger.run(lambda s: import_catalog(s, text, create_locations=True))
    assert summary.locations_created == ["berlni-dc", "leeds"]


def held_back(ledger: Ledger, sku: str) -> None:
    """As the push pipeline leaves a listing whose id names another product on the channel."""
    later = utcnow() + timedelta(hours=1)
    ledger.run(
        lambda s: s.execute(
            update(ListingRow)
            .where(ListingRow.sku_id == SkuRow.id, SkuRow.sku == sku)
            .values(
                state="mismatched", channel_sku="SOMEONE-ELSES", attempts=3, refusals=2,
                next_attempt_at=later, last_error="the channel holds SKU 'SOMEONE-ELSES'",
                dirty=False, pushed_qty=19, expected_qty=19, external_refs={"parent": "7"},
            )
        )
    )  # fmt: skip


def test_a_changed_listing_id_is_checked_on_the_channel_again(shop: Ledger) -> None:
    shop.run(lambda s: import_catalog(s, WITH_LISTINGS))
    held_back(shop, MUG)
    held_back(shop, COASTER)

    summary = shop.run(lambda s: import_catalog(s, WITH_LISTINGS.replace(",101", ",111")))

    assert summary.listing_ids_changed == [ListingIdChange("woo-site", MUG, "101", "111")]
    row = listing_row(shop, MUG)
    assert (row.external_id, row.state, row.channel_sku, row.dirty) == (
        "111",
        "unverified",
        None,
        True,
    )
    assert (row.attempts, row.refusals, row.next_attempt_at, row.last_error) == (0, 0, None, None)
    assert (row.external_refs, row.expected_qty, row.desired_qty) == ({}, None, 19)
    kept = listing_row(shop, COASTER)  # its id did not change: left as the pipeline left it
    assert (kept.external_id, kept.state, kept.attempts) == ("202", "mismatched", 3)
    assert [m.subject for m in shop.verify()] == [f"woo-site/{COASTER}"]  # held for a person


def test_listing_ids_swapped_in_a_reimport_are_both_changed(shop: Ledger) -> None:
    shop.run(lambda s: import_catalog(s, WITH_LISTINGS))
    swapped = WITH_LISTINGS.replace(",101", ",X").replace(",202", ",101").replace(",X", ",202")

    summary = shop.run(lambda s: import_catalog(s, swapped))

    assert [(c.sku, c.new_id) for c in summary.listing_ids_changed] == [
        (COASTER, "101"),
        (MUG, "202"),
    ]
    assert (listing_row(shop, MUG).external_id, listing_row(shop, COASTER).external_id) == (
        "202",
        "101",
    )


# -- the command ---------------------------------------------------------------------------------

runner = CliRunner()
Invoke = Callable[..., str]


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    monkeypatch.setenv("STOCKSYNC_DATABASE_URL", database_url)
    get_settings.cache_clear()

    def invoke(*args: str, code: int = 0) -> Any:
        result = runner.invoke(app, list(args))
        assert result.exit_code == code, result.output
        assert "Traceback" not in result.output
        return result.output if "--json" in args else " ".join(result.output.split())

    return invoke


def write(tmp_path: Path, text: str | bytes, name: str = "catalog.csv") -> str:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return str(path)


def test_the_command_shows_the_differing_counts_and_sets_them_only_when_asked(
    cli: Invoke, shop: Ledger, tmp_path: Path
) -> None:
    catalog = write(tmp_path, WITH_LISTINGS)

    out = cli("catalog", "import", catalog)
    doc = json.loads(cli("catalog", "import", catalog, "--json"))

    assert "ledger_on_hand" in out and "file_on_hand" in out
    assert f"{MUG} │ berlin-dc │ 19 │ 2" in out
    assert "1 count differs from the ledger and was kept; --set-stock sets it" in out
    assert out.index("file_on_hand") < out.index("imported 2 SKUs")  # the differences first
    assert doc["counts_kept"] == [
        {"sku": MUG, "location": "berlin-dc", "ledger_on_hand": 19, "file_on_hand": 2}
    ]
    assert (doc["counts_set"], doc["stock_rows_added"], doc["skus_added"]) == ([], 0, 0)
    assert on_hand(shop, MUG) == 19

    out = cli("catalog", "import", catalog, "--set-stock")
    assert "set 1 count to the file's" in out and f"{MUG} │ berlin-dc │ 19 │ 2" in out
    assert on_hand(shop, MUG) == 2


def test_the_command_reports_changed_listing_ids(cli: Invoke, shop: Ledger, tmp_path: Path) -> None:
    cli("catalog", "import", write(tmp_path, WITH_LISTINGS), "--set-stock")

    doc = json.loads(
        cli("catalog", "import", write(tmp_path, WITH_LISTINGS.replace(",101", ",111")), "--json")
    )
    out = cli("catalog", "import", write(tmp_path, WITH_LISTINGS, "back.csv"))

    assert doc["listing_ids_changed"] == [
        {"channel": "woo-site", "sku": MUG, "old_id": "101", "new_id": "111"}
    ]
    assert f"woo-site │ {MUG} │ 111 │ 101" in out
    assert "checked on the channel before their next push" in out


def test_the_command_refuses_an_unknown_location_unless_told_to_create_it(
    cli: Invoke, shop: Ledger, tmp_path: Path
) -> None:
    catalog = write(tmp_path, f"sku,location,on_hand\n{COASTER},leeds,4\n")

    out = cli("catalog", "import", catalog, code=2)
    assert "row 2, column 'location': no location named 'leeds'" in out
    assert "--create-locations" in out

    out = cli("catalog", "import", catalog, "--create-locations")
    assert "new locations: leeds" in out
    assert on_hand(shop, COASTER, "leeds") == 4


def test_a_catalog_that_is_not_utf8_is_one_line_naming_the_byte(
    cli: Invoke, shop: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = FIRST.encode() + f"{COASTER},berlin-dc,4,".encode() + "Café coaster\n".encode("latin-1")
    offset = text.index(b"\xe9")
    monkeypatch.chdir(tmp_path)
    write(tmp_path, text)

    result = runner.invoke(app, ["catalog", "import", "catalog.csv"])

    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert " ".join(result.output.split()) == (
        f"error: catalog.csv is not UTF-8: byte 0xe9 at offset {offset} (line 3); save it as UTF-8"
    )
