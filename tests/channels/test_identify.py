"""``identify`` where channels differ, against each emulator over loopback HTTP.

What every connector promises (a right id, an unknown one, the order kept, transient failures)
is in the contract suite (``test_contract.py``); here is what only one channel has: Shopify's
locations and its 250-id limit, WooCommerce's variations and unmanaged stock, Amazon's pacing,
a custom channel's one read.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stocksync.channels.base import ListingIdentity
from stocksync.sandbox.harness import RunningEmulator
from stocksync.sandbox.shopify import DEFAULT_LOCATION
from tests.channels.test_contract import COASTER, MUG, STOCK, connect, start

BACKROOM = "gid://shopify/Location/2"
TEE, TEE_S, TEE_M = "RETRO-TEE", "RETRO-TEE-S", "RETRO-TEE-M"


def running(kind: str) -> Iterator[RunningEmulator]:
    with start(kind, STOCK) as emulator:
        yield emulator


@pytest.fixture
def shopify() -> Iterator[RunningEmulator]:
    yield from running("shopify")


@pytest.fixture
def woo() -> Iterator[RunningEmulator]:
    yield from running("woocommerce")


@pytest.fixture
def amazon() -> Iterator[RunningEmulator]:
    yield from running("amazon")


@pytest.fixture
def portal() -> Iterator[RunningEmulator]:
    yield from running("custom")


def test_shopify_finds_an_item_only_at_a_location_it_is_stocked_at(
    shopify: RunningEmulator,
) -> None:
    lamp = shopify.state.stock("BRASS-LAMP", 3, location=BACKROOM)
    connector = connect(shopify)

    here, there = connector.identify([(lamp, {}), (lamp, {"location_id": BACKROOM})])

    assert here == ListingIdentity(
        lamp, False, "BRASS-LAMP", f"inventory item {lamp} is not stocked at {DEFAULT_LOCATION}"
    )
    assert there == ListingIdentity(lamp, True, "BRASS-LAMP")


def test_shopify_takes_the_item_from_the_refs_and_refuses_ids_of_other_kinds_unasked(
    shopify: RunningEmulator,
) -> None:
    mug, refs = shopify.listings()[MUG]
    variant = refs["variant_id"]
    connector = connect(shopify)

    by_refs, other, bare = connector.identify([(variant, refs), (variant, {}), ("43729077", {})])

    assert (by_refs.listing_id, by_refs.found, by_refs.sku) == (variant, True, MUG)
    assert (other.found, other.problem) == (
        False, f"{variant!r} is not a Shopify inventory item gid",
    )  # fmt: skip
    assert not bare.found and "not a Shopify inventory item gid" in bare.problem
    assert [c.operation for c in shopify.state.calls] == ["nodes"]


def test_shopify_looks_up_251_items_in_two_nodes_queries_paying_two_points_each(
    shopify: RunningEmulator,
) -> None:
    items = [shopify.state.stock(f"OAK-COASTER-{n:03d}", 1) for n in range(251)]
    connector = connect(shopify)

    found = connector.identify([(item, {}) for item in items])

    assert [(f.listing_id, f.found, f.sku) for f in found] == [
        (item, True, f"OAK-COASTER-{n:03d}") for n, item in enumerate(items)
    ]
    calls = [(c.operation, c.requested_cost, c.actual_cost) for c in shopify.state.calls]
    assert calls == [("nodes", 500, 500), ("nodes", 2, 2)]


def test_woocommerce_finds_a_variation_but_not_its_variable_parent(woo: RunningEmulator) -> None:
    with woo.state.lock:
        tee = woo.state.add_variable_product(TEE, {TEE_S: 3, TEE_M: 4})
    small, medium = (f"{tee.id}/{v}" for v in tee.variations)
    connector = connect(woo)

    found = connector.identify([(medium, {}), (str(tee.id), {}), (small, {})])

    assert found == [
        ListingIdentity(medium, True, TEE_M),
        ListingIdentity(
            str(tee.id), False, TEE, f"product {tee.id} is variable; list its variations"
        ),
        ListingIdentity(small, True, TEE_S),
    ]
    assert woo.state.calls["GET /wp-json/wc/v3/products/{id}/variations"] == 1


def test_woocommerce_does_not_find_what_does_not_manage_its_stock(woo: RunningEmulator) -> None:
    """A pushed ``stock_quantity`` would not take on any of these."""
    with woo.state.lock:
        apron = woo.state.add_product("LINEN-APRON", None)
        tee = woo.state.add_variable_product(TEE, {TEE_S: None})
        cap = woo.state.add_variable_product("WOOL-CAP", {"WOOL-CAP-S": None})
        cap.manage_stock, cap.stock_quantity = True, 9  # its variations follow its stock
    [tee_small], [cap_small] = tee.variations, cap.variations
    asked = [str(apron.id), f"{tee.id}/{tee_small}", f"{cap.id}/{cap_small}", str(cap.id)]

    found = connect(woo).identify([(listing_id, {}) for listing_id in asked])

    assert [(f.found, f.sku) for f in found] == [
        (False, "LINEN-APRON"), (False, TEE_S), (False, "WOOL-CAP-S"), (True, "WOOL-CAP"),
    ]  # fmt: skip
    assert "manage_stock is false" in found[0].problem
    assert "manage_stock is false" in found[1].problem
    assert f"follows the stock of product {cap.id}" in found[2].problem


def test_woocommerce_reads_products_100_at_a_time_and_tells_unknown_ids_apart(
    woo: RunningEmulator,
) -> None:
    with woo.state.lock:
        ids = [woo.state.add_product(f"TEAL-MUG-{n:03d}", 5).id for n in range(150)]
    asked = [str(i) for i in ids] + ["999999", "999999/5", f"{ids[0]}/5", "mug"]

    found = connect(woo).identify([(listing_id, {}) for listing_id in asked])

    assert all(f.found for f in found[:150]) and not any(f.found for f in found[150:])
    assert [f.problem for f in found[150:]] == [
        "no product 999999 on woocommerce-contract",
        "no product 999999 on woocommerce-contract",
        f"no variation 5 of product {ids[0]} on woocommerce-contract",
        "'mug' is not a WooCommerce listing id (PRODUCT or PRODUCT/VARIATION)",
    ]
    assert woo.state.calls["GET /wp-json/wc/v3/products"] == 2


def test_amazon_paces_one_lookup_per_seller_sku_to_the_bucket(amazon: RunningEmulator) -> None:
    """Twelve SKUs against a burst of ten: the connector waits for tokens (and out a 429 where
    Amazon's bucket started after its own, behind the LWA token call), and asks once per SKU."""
    skus = [f"B0OAKCOAS{n:02d}" for n in range(12)]
    with amazon.state.lock:
        for sku in skus:
            amazon.state.add_listing(sku, 4)

    found = connect(amazon).identify([(sku, {}) for sku in [*skus, skus[0]]])

    assert found == [ListingIdentity(sku, True) for sku in [*skus, skus[0]]]
    calls, throttled = (
        amazon.state.calls["getListingsItem"],
        amazon.state.throttled["getListingsItem"],
    )
    assert calls - throttled == 12


def test_a_custom_channel_identifies_from_one_read_of_its_stock(portal: RunningEmulator) -> None:
    mug, coaster = portal.listing_id(MUG), portal.listing_id(COASTER)

    found = connect(portal).identify([(coaster, {}), ("L-404", {}), (mug, {}), (coaster, {})])

    assert [(f.listing_id, f.found, f.sku) for f in found] == [
        (coaster, True, COASTER),
        ("L-404", False, None),
        (mug, True, MUG),
        (coaster, True, COASTER),
    ]
    assert portal.state.calls["GET /api/v2/stock/levels"] == 1
