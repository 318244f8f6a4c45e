"""Catalog files: all or nothing, errors that name the row and column, a faithful export."""

from __future__ import annotations

import pytest

from stocksync.domain.errors import CatalogError
from stocksync.ledger.catalog import export_catalog, import_catalog
from stocksync.ledger.config import list_locations
from stocksync.ledger.queries import stock_report
from stocksync.ledger.service import Ledger
from tests.factories import add_channels

CATALOG = """sku,location,on_hand,title,reorder_point,lead_time_days,components,listing:shopify-main,listing:amazon-eu
TEAL-MUG-350ML,berlin,12,Teal mug 350 ml,5,14,,gid://shopify/InventoryItem/808950810,B0TEALMUG
TEAL-MUG-350ML,leeds,4,,,,,,
OAK-COASTER,berlin,40,Oak coaster,10,30,,gid://shopify/InventoryItem/808950811,
MUG-GIFT-SET,,,Mug and two coasters,,,TEAL-MUG-350ML*1;OAK-COASTER*2,gid://shopify/InventoryItem/808950812,B0GIFTSET
"""


@pytest.fixture
def channels(ledger: Ledger) -> None:
    add_channels(ledger, ("shopify-main", "shopify", 2), ("amazon-eu", "amazon", 1))


def test_a_catalog_creates_skus_bundles_stock_locations_and_listings(
    ledger: Ledger, channels: None
) -> None:
    summary = ledger.run(lambda s: import_catalog(s, CATALOG))

    assert (summary.skus, summary.bundles, summary.stock_rows, summary.listings) == (3, 1, 3, 5)
    assert summary.locations_created == ["berlin", "leeds"]
    report = {r.sku: r for r in ledger.run(lambda s: stock_report(s))}
    assert report["MUG-GIFT-SET"].components == {"TEAL-MUG-350ML": 1, "OAK-COASTER": 2}
    assert report["TEAL-MUG-350ML"].available == 16
    assert report["MUG-GIFT-SET"].available == 16  # 16 mugs, 40 coasters: 16 sets of 1 + 2
    assert report["TEAL-MUG-350ML"].reorder_point == 5
    assert {li.channel: li.desired for li in report["MUG-GIFT-SET"].listings} == {
        "shopify-main": 16,
        "amazon-eu": 16,
    }
    assert ledger.verify() == []


def test_export_then_import_changes_nothing(ledger: Ledger, channels: None) -> None:
    ledger.run(lambda s: import_catalog(s, CATALOG))
    exported = ledger.run(export_catalog)

    ledger.run(lambda s: import_catalog(s, exported))

    assert ledger.run(export_catalog) == exported
    assert "MUG-GIFT-SET,,,Mug and two coasters,0,0,OAK-COASTER*2;TEAL-MUG-350ML*1" in exported
    assert ledger.verify() == []


@pytest.mark.parametrize(
    "body,row,column",
    [
        ("TEAL-MUG-350ML,berlin,many,,,,,,\n", 2, "on_hand"),
        ("TEAL-MUG-350ML,berlin,-1,,,,,,\n", 2, "on_hand"),
        (",berlin,1,,,,,,\n", 2, "sku"),
        ("TEAL-MUG-350ML,berlin,1,,,,,,\nTEAL-MUG-350ML,berlin,2,,,,,,\n", 3, "location"),
        ("TEAL-MUG-350ML,berlin,1,,,,,,\nSET,,,,,,TEAL-MUG-350ML*x,,\n", 3, "components"),
        ("TEAL-MUG-350ML,berlin,1,,,,,,\nSET,,,,,,NOPE*1,,\n", 3, "components"),
        ("TEAL-MUG-350ML,berlin,1,,,,,,\nSET,berlin,3,,,,TEAL-MUG-350ML*1,,\n", 3, "location"),
        (
            "TEAL-MUG-350ML,berlin,1,Teal mug,,,,,\nTEAL-MUG-350ML,leeds,1,Other title,,,,,\n",
            3,
            "title",
        ),
        (
            "TEAL-MUG-350ML,berlin,1,,,,,gid-1,\nOAK-COASTER,berlin,1,,,,,gid-1,\n",
            3,
            "listing:shopify-main",
        ),
        ("TEAL-MUG-350ML,,5,,,,,,\n", 2, "location"),
    ],
)
def test_a_bad_row_names_its_row_and_column_and_imports_nothing(
    ledger: Ledger, channels: None, body: str, row: int, column: str
) -> None:
    header = CATALOG.splitlines()[0] + "\n"

    with pytest.raises(CatalogError) as caught:
        ledger.run(lambda s: import_catalog(s, header + body))

    assert (caught.value.row, caught.value.column) == (row, column)
    assert f"row {row}" in str(caught.value)
    assert ledger.run(lambda s: stock_report(s)) == []
    assert ledger.run(list_locations) == []


def test_a_listing_column_for_an_unknown_channel_is_refused(ledger: Ledger, channels: None) -> None:
    with pytest.raises(CatalogError, match="no channel named 'ebay-de'") as caught:
        ledger.run(
            lambda s: import_catalog(
                s, "sku,location,on_hand,listing:ebay-de\nTEAL-MUG-350ML,berlin,1,123\n"
            )
        )
    assert (caught.value.row, caught.value.column) == (1, "listing:ebay-de")


def test_a_missing_required_column_is_refused(ledger: Ledger) -> None:
    with pytest.raises(CatalogError, match="required column") as caught:
        ledger.run(lambda s: import_catalog(s, "sku,location\nTEAL-MUG-350ML,berlin\n"))
    assert caught.value.column == "on_hand"


def test_a_sku_with_stock_cannot_become_a_bundle(ledger: Ledger, channels: None) -> None:
    ledger.run(lambda s: import_catalog(s, CATALOG))

    with pytest.raises(CatalogError, match="has stock"):
        ledger.run(
            lambda s: import_catalog(
                s, "sku,location,on_hand,components\nOAK-COASTER,,,TEAL-MUG-350ML*2\n"
            )
        )
