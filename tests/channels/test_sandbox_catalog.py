"""The sandbox serves the listing ids a catalog names, so a ledger that imports the same catalog
pushes to the products it means; checked through each connector's ``identify``."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pytest

from stocksync.bench.fleet import catalog_with_ids
from stocksync.cli.sandbox import SAMPLE_CATALOG, start_sandbox
from stocksync.sandbox.harness import KINDS, RunningEmulator, start_emulator
from stocksync.sandbox.stocking import listing_ids_by_channel

SAMPLE = SAMPLE_CATALOG.read_text(encoding="utf-8")
PORTAL_CATALOG = """sku,location,on_hand,listing:b2b-portal
TEAL-MUG-350ML,berlin-dc,2,PORTAL-TEAL
OAK-COASTER,berlin-dc,48,
LINEN-NAPKIN-GREY,berlin-dc,120,L-1001
"""
"""A catalog naming a custom channel's ids (one of the form the emulator makes its own in);
the portal does not list the coaster."""
MUG, COASTER = "TEAL-MUG-350ML", "OAK-COASTER"
ITEM_7 = "gid://shopify/InventoryItem/7"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[dict[str, RunningEmulator]]:
    emulators = start_sandbox(list(KINDS), SAMPLE)
    yield {e.kind: e for e in emulators}
    for emulator in emulators:
        emulator.stop()


def catalog_listings(text: str, channel: str) -> dict[str, str]:
    return listing_ids_by_channel(text).get(channel, {})


@pytest.mark.parametrize("kind", ["shopify", "woocommerce", "amazon"])
def test_every_listing_id_of_the_sample_catalog_holds_its_sku_on_the_sandbox(
    sandbox: dict[str, RunningEmulator], kind: str
) -> None:
    """What the drain checks before a first push; Amazon's id is the seller SKU, found is all."""
    emulator = sandbox[kind]
    listed = catalog_listings(SAMPLE, emulator.name)
    assert len(listed) >= 5

    found = emulator.connector().identify([(listing_id, {}) for listing_id in listed.values()])

    assert [(f.listing_id, f.found, f.problem) for f in found] == [
        (listing_id, True, "") for listing_id in listed.values()
    ]
    assert [f.sku for f in found] == [None if kind == "amazon" else sku for sku in listed]
    assert {sku: emulator.listing_id(sku) for sku in listed} == listed


def test_the_sandboxs_shopify_items_are_the_catalogs_each_with_its_own_variant(
    sandbox: dict[str, RunningEmulator],
) -> None:
    shopify = sandbox["shopify"]
    listings = shopify.listings()

    assert listings[MUG][0] == "gid://shopify/InventoryItem/43729076"
    assert listings[COASTER][0] == "gid://shopify/InventoryItem/43729077"
    variants = [refs["variant_id"] for _, refs in listings.values()]
    assert len(set(variants)) == len(variants)


def test_the_flash_sales_catalog_rewrite_finds_the_catalogs_own_ids_again(
    sandbox: dict[str, RunningEmulator],
) -> None:
    emulators = {e.name: e for e in sandbox.values()}

    rewritten = catalog_with_ids(SAMPLE, emulators)

    assert list(csv.DictReader(io.StringIO(rewritten))) == list(csv.DictReader(io.StringIO(SAMPLE)))


def test_a_shopper_order_on_a_catalog_id_reaches_the_connector_under_that_id(
    sandbox: dict[str, RunningEmulator],
) -> None:
    for kind in ("shopify", "woocommerce", "amazon"):
        emulator = sandbox[kind]
        wanted = catalog_listings(SAMPLE, emulator.name)["LINEN-NAPKIN-GREY"]
        before = emulator.shown("LINEN-NAPKIN-GREY")

        assert emulator.shopper_order({"LINEN-NAPKIN-GREY": 1}).accepted
        assert emulator.listing_id("LINEN-NAPKIN-GREY") == wanted
        assert emulator.shown("LINEN-NAPKIN-GREY") == before - 1


def test_a_custom_channel_takes_the_catalogs_ids_and_makes_its_own_around_them() -> None:
    [portal] = start_sandbox(["custom"], PORTAL_CATALOG)
    try:
        with portal.state.lock:
            made = portal.state.add_listing("BRASS-LAMP", 3).listing_id
        listings = portal.listings()
        found = portal.connector().identify([("PORTAL-TEAL", {}), ("L-1001", {}), (made, {})])
    finally:
        portal.stop()

    assert (listings[MUG][0], listings["LINEN-NAPKIN-GREY"][0]) == ("PORTAL-TEAL", "L-1001")
    assert COASTER not in listings and made not in {"PORTAL-TEAL", "L-1001"}
    assert [(f.found, f.sku) for f in found] == [
        (True, MUG), (True, "LINEN-NAPKIN-GREY"), (True, "BRASS-LAMP"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "ids", "message"),
    [
        ("shopify", {MUG: "gid://shopify/ProductVariant/1"}, "is not an inventory item id"),
        ("shopify", {MUG: "43729076"}, "is not an inventory item id"),
        ("shopify", {MUG: ITEM_7, COASTER: ITEM_7}, "is SKU 'TEAL-MUG-350ML''s already"),
        ("woocommerce", {MUG: "mug"}, "is not a WooCommerce listing id"),
        ("woocommerce", {MUG: "0"}, "post ids are whole numbers > 0"),
        ("woocommerce", {MUG: "1001", COASTER: "1001"}, "post id 1001 is taken"),
        ("woocommerce", {MUG: "1001", COASTER: "1001/2001"}, "product 1001 is a simple product"),
        ("woocommerce", {MUG: "1001/1001"}, "post id 1001 is taken"),
        ("amazon", {MUG: " B0TEALMUG1"}, "cannot be a seller SKU"),
        ("amazon", {MUG: "B0" + "X" * 39}, "cannot be a seller SKU"),
        ("amazon", {MUG: "B0TEALMUG1", COASTER: "B0TEALMUG1"}, "lists SKU 'B0TEALMUG1' already"),
        ("custom", {MUG: "P-1", COASTER: "P-1"}, "listing P-1 is SKU"),
        ("custom", {MUG: ""}, "cannot be a listing id"),
        ("shopify", {"RETRO-CLOCK": ITEM_7}, "not stocked with: RETRO-CLOCK"),
    ],
)  # fmt: skip
def test_an_id_the_emulator_cannot_take_is_refused_with_a_clear_message(
    kind: str, ids: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError) as refused:
        start_emulator(kind, f"{kind}-ids", {MUG: 1, COASTER: 2}, ids=ids).stop()

    assert message in str(refused.value)


def test_ids_the_emulators_make_later_never_take_one_they_were_given() -> None:
    given = {MUG: "gid://shopify/InventoryItem/43729077", COASTER: "102"}
    with (
        start_emulator("shopify", "shop", {"LAMP": 1, MUG: 1}, ids={MUG: given[MUG]}) as shop,
        start_emulator("woocommerce", "woo", {"LAMP": 1, COASTER: 1}, ids={COASTER: "102"}) as woo,
    ):
        made = shop.state.stock("CANDLE", 1)
        with woo.state.lock:
            apron = woo.state.add_product("APRON", 1).id
        order = woo.shopper_order({"LAMP": 1})

        assert shop.listing_id(MUG) == given[MUG]
        assert given[MUG] not in {shop.listing_id("LAMP"), made}
        assert woo.listing_id(COASTER) == "102"
        assert "102" not in {woo.listing_id("LAMP"), str(apron), order.order_id}
        with pytest.raises(ValueError, match="SKU 'LAMP'"):
            shop.state.stock("BRASS-LAMP", 1, item_gid=shop.listing_id("LAMP"))
        with pytest.raises(ValueError, match="is taken"), woo.state.lock:
            woo.state.add_product("BRASS-LAMP", 1, product_id=int(str(order.order_id)))


def test_a_woocommerce_catalog_may_name_variations_of_one_variable_product() -> None:
    ids = {"RETRO-TEE-S": "2001/2002", "RETRO-TEE-M": "2001/2003"}
    with start_emulator("woocommerce", "woo", {"RETRO-TEE-S": 3, "RETRO-TEE-M": 4}, ids=ids) as woo:
        found = woo.connector().identify([("2001/2003", {}), ("2001/2002", {}), ("2001", {})])
        listings = woo.listings()

    assert [(f.found, f.sku) for f in found] == [
        (True, "RETRO-TEE-M"), (True, "RETRO-TEE-S"), (False, None),
    ]  # fmt: skip
    assert found[2].problem == "product 2001 is variable; list its variations"
    assert listings == {"RETRO-TEE-S": ("2001/2002", {}), "RETRO-TEE-M": ("2001/2003", {})}


def test_a_catalog_naming_two_ids_for_one_sku_on_a_channel_is_refused() -> None:
    text = (
        "sku,location,on_hand,listing:woo-site\n"
        "OAK-COASTER,berlin-dc,4,1002\nOAK-COASTER,leeds-3pl,1,1003\n"
    )

    with pytest.raises(ValueError, match="two listing ids on woo-site: '1002' and '1003'"):
        listing_ids_by_channel(text)
