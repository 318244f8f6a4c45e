"""Channel events stored and applied to the ledger, from real payloads, on both backends."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from stocksync.channels.amazon import SECRET_HEADER, AmazonConfig, AmazonConnector
from stocksync.channels.shopify import ShopifyConfig, ShopifyConnector, order_from_rest
from stocksync.channels.woocommerce import (
    WooCommerceConfig,
    WooCommerceConnector,
    webhook_signature,
)
from stocksync.domain.errors import InvalidRequestError
from stocksync.domain.model import OrderStatus
from stocksync.ledger.inbox import EventOutcome, InboxStatus, IsolationNeededError, ingest_event
from stocksync.ledger.ingest import ingest_order
from stocksync.ledger.queries import stock_report
from stocksync.ledger.service import Ledger
from stocksync.ledger.tables import InboxEventRow, ListingRow, MovementRow, OrderRow
from tests.factories import load_catalog, shop_with
from tests.integration.test_races import run_concurrently

SAMPLES = Path("/work/shared/samples")
SHOPIFY_SECRET = "hush-app-secret"
WOO_SECRET = "wh-secret-teal-mugs"
RELAY_SECRET = "relay-shared-secret"
ITEM = "gid://shopify/InventoryItem/39072856"
VARIANT = "gid://shopify/ProductVariant/808950810"
LOCATION = "gid://shopify/Location/905684977"
PINK_ORDER = "820982911946154508"
PINK_LINES = ("866550311766439020", "141249953214522974")


def no_network(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"parsing must not call the channel: {request.url}")


@pytest.fixture
def shopify() -> Iterator[ShopifyConnector]:
    config = ShopifyConfig(
        name="shopify-main", shop_url="https://teal-mugs.myshopify.com",
        access_token="unused", webhook_secret=SHOPIFY_SECRET, location_id=LOCATION,
    )  # fmt: skip
    conn = ShopifyConnector(config)
    yield conn
    conn.close()


@pytest.fixture
def woo() -> Iterator[WooCommerceConnector]:
    config = WooCommerceConfig(
        name="woo-site", base_url="https://shop.example", consumer_key="ck",
        consumer_secret="cs", webhook_secret=WOO_SECRET,
    )  # fmt: skip
    conn = WooCommerceConnector(config, transport=httpx.MockTransport(no_network))
    yield conn
    conn.close()


@pytest.fixture
def pink_shop(ledger: Ledger) -> Ledger:
    """IPOD2008PINK in Berlin; Shopify lists it by InventoryItem with the variant in its refs."""
    shop_with(ledger, {"IPOD2008PINK": {"berlin": 5}})
    refs = {"inventory_item_id": ITEM, "location_id": LOCATION, "variant_id": VARIANT}
    ledger.run(
        lambda s: s.execute(
            update(ListingRow)
            .where(ListingRow.external_id == "shopify-main-IPOD2008PINK")
            .values(external_id=ITEM, external_refs=refs)
        )
    )
    return ledger


def shopify_order(**changes: Any) -> dict[str, Any]:
    """The orders/create sample as a live order: not cancelled, 2 + 1 units, no refunds yet."""
    order = json.loads((SAMPLES / "shopify-orders-create.json").read_text())
    order |= {"cancelled_at": None, "cancel_reason": None, "financial_status": "paid"}
    order["line_items"][0]["quantity"] = 2
    return order | changes


def refund(refund_id: int, line_id: str, qty: int, restock_type: str) -> dict[str, Any]:
    """A refunds/create body in the shape of the sample, for one line of the pink order."""
    sample = json.loads((SAMPLES / "shopify-refund.json").read_text())["refund"]
    [template, *_] = sample["refund_line_items"]
    line = copy.deepcopy(template) | {
        "line_item_id": int(line_id),
        "quantity": qty,
        "restock_type": restock_type,
        "location_id": 905684977,
    }
    line["line_item"] |= {"id": int(line_id), "sku": "IPOD2008PINK", "variant_id": 808950810}
    return sample | {"id": refund_id, "order_id": int(PINK_ORDER), "refund_line_items": [line]}


def deliver_shopify(
    ledger: Ledger, conn: ShopifyConnector, topic: str, payload: Any, event_id: str
) -> EventOutcome:
    body = json.dumps(payload).encode()
    digest = hmac.new(SHOPIFY_SECRET.encode(), body, hashlib.sha256).digest()
    headers = {
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode(),
        "X-Shopify-Event-Id": event_id,
    }
    events = conn.parse_webhook(headers, body)
    [outcome] = ledger.run(lambda s: ingest_event(s, "shopify-main", headers, body, events))
    return outcome


def deliver_woo(
    ledger: Ledger, conn: WooCommerceConnector, topic: str, body: bytes
) -> EventOutcome:
    headers = {"X-WC-Webhook-Topic": topic, "X-WC-Webhook-Delivery-ID": "d41d8cd98f00b204"}
    if topic != "ping":
        headers["X-WC-Webhook-Signature"] = webhook_signature(WOO_SECRET, body)
    events = conn.parse_webhook(headers, body)
    [outcome] = ledger.run(lambda s: ingest_event(s, "woo-site", headers, body, events))
    return outcome


def stock_of(ledger: Ledger, sku: str) -> tuple[int, int]:
    [report] = ledger.run(lambda s: stock_report(s, [sku]))
    [loc] = report.locations
    return loc.on_hand, loc.committed


def inbox(ledger: Ledger) -> list[tuple[str, str, str | None]]:
    rows = ledger.run(
        lambda s: s.execute(
            select(InboxEventRow.event_id, InboxEventRow.status, InboxEventRow.error).order_by(
                InboxEventRow.id
            )
        ).all()
    )
    return [tuple(r) for r in rows]


def count(ledger: Ledger, table: Any) -> int:
    return len(ledger.run(lambda s: s.execute(select(table)).all()))


def test_a_shopify_order_through_cancel_ship_and_return_applies_each_change_once(
    pink_shop: Ledger, shopify: ShopifyConnector
) -> None:
    ledger = pink_shop
    created = deliver_shopify(ledger, shopify, "orders/create", shopify_order(), "ev-create")
    assert created.status is InboxStatus.APPLIED
    assert stock_of(ledger, "IPOD2008PINK") == (5, 3)

    # the second line (1 unit) is refunded before it ships: Shopify's partial cancel
    partial = shopify_order(refunds=[refund(1, PINK_LINES[1], 1, "cancel")])
    updated = deliver_shopify(ledger, shopify, "orders/updated", partial, "ev-update-1")
    assert updated.status is InboxStatus.APPLIED
    assert updated.order is not None
    assert [ln.cancelled for ln in updated.order.lines] == [0, 1]
    assert stock_of(ledger, "IPOD2008PINK") == (5, 2)

    ledger.ship_order("shopify-main", PINK_ORDER)
    assert stock_of(ledger, "IPOD2008PINK") == (3, 0)

    # one shipped unit comes back and Shopify restocks it
    returned = deliver_shopify(
        ledger, shopify, "refunds/create", refund(2, PINK_LINES[0], 1, "return"), "ev-refund-2"
    )
    assert returned.status is InboxStatus.APPLIED
    assert returned.order is not None
    assert [ln.returned for ln in returned.order.lines] == [1, 0]
    assert stock_of(ledger, "IPOD2008PINK") == (4, 0)

    movements = count(ledger, MovementRow)
    again = deliver_shopify(
        ledger, shopify, "refunds/create", refund(2, PINK_LINES[0], 1, "return"), "ev-refund-2"
    )
    assert again.status is InboxStatus.DUPLICATE

    # late and stale copies under new event ids: the create, the first update, then the totals
    late = [
        ("orders/create", shopify_order(), "ev-create-late"),
        ("orders/updated", partial, "ev-update-1-late"),
        ("orders/updated", shopify_order(refunds=[refund(1, PINK_LINES[1], 1, "cancel"),
                                                  refund(2, PINK_LINES[0], 1, "return")]), "ev-2"),
    ]  # fmt: skip
    for topic, payload, event_id in late:
        assert deliver_shopify(ledger, shopify, topic, payload, event_id).status is (
            InboxStatus.UNCHANGED
        )
    assert count(ledger, MovementRow) == movements
    assert stock_of(ledger, "IPOD2008PINK") == (4, 0)
    assert [status for _, status, _ in inbox(ledger)] == ["applied"] * 3 + ["unchanged"] * 3
    assert ledger.verify() == []


def test_the_cancelled_sample_order_is_recorded_and_released(
    pink_shop: Ledger, shopify: ShopifyConnector
) -> None:
    sample = json.loads((SAMPLES / "shopify-orders-create.json").read_text())

    outcome = deliver_shopify(pink_shop, shopify, "orders/create", sample, "ev-test")

    assert outcome.status is InboxStatus.APPLIED
    assert outcome.order is not None and outcome.order.status is OrderStatus.CANCELLED
    assert stock_of(pink_shop, "IPOD2008PINK") == (5, 0)
    assert pink_shop.verify() == []


def shown(ledger: Ledger, external_id: str) -> tuple[int, int | None, bool]:
    """A listing's (desired, expected, dirty)."""
    row = ledger.run(
        lambda s: s.execute(
            select(ListingRow.desired_qty, ListingRow.expected_qty, ListingRow.dirty).where(
                ListingRow.external_id == external_id
            )
        ).one()
    )
    return row[0], row[1], row[2]


def test_a_cancellation_the_channel_reports_pushes_its_listing_again(
    pink_shop: Ledger, shopify: ShopifyConnector
) -> None:
    """Shopify restocks a cancelled line on its own level, which a count it gave since may
    already show: the listing keeps what it expects and is pushed again to find out. A cancel
    made in stocksync only moves the desired quantity."""
    ledger = pink_shop
    ledger.run(
        lambda s: s.execute(
            update(ListingRow)
            .where(ListingRow.external_id == ITEM)
            .values(expected_qty=ListingRow.desired_qty, dirty=False)
        )
    )
    assert shown(ledger, ITEM) == (5, 5, False)
    deliver_shopify(ledger, shopify, "orders/create", shopify_order(), "ev-create")
    assert shown(ledger, ITEM) == (2, 2, False)

    partial = shopify_order(refunds=[refund(1, PINK_LINES[1], 1, "cancel")])
    deliver_shopify(ledger, shopify, "orders/updated", partial, "ev-update-1")
    assert shown(ledger, ITEM) == (3, 2, True)

    ledger.cancel_order("shopify-main", PINK_ORDER)
    assert shown(ledger, ITEM) == (5, 2, True)


def test_an_update_that_arrives_before_the_create_records_the_order_as_it_stands(
    pink_shop: Ledger, shopify: ShopifyConnector
) -> None:
    partial = shopify_order(refunds=[refund(1, PINK_LINES[1], 1, "cancel")])

    first = deliver_shopify(pink_shop, shopify, "orders/updated", partial, "ev-update")
    late_create = deliver_shopify(pink_shop, shopify, "orders/create", shopify_order(), "ev-c")

    assert (first.status, late_create.status) == (InboxStatus.APPLIED, InboxStatus.UNCHANGED)
    assert stock_of(pink_shop, "IPOD2008PINK") == (5, 2)


def test_a_refund_for_an_order_not_yet_recorded_is_flagged_and_changes_nothing(
    pink_shop: Ledger, shopify: ShopifyConnector
) -> None:
    outcome = deliver_shopify(
        pink_shop, shopify, "refunds/create", refund(9, PINK_LINES[0], 1, "cancel"), "ev-r"
    )

    assert outcome.status is InboxStatus.FLAGGED
    assert outcome.error is not None and "not in the ledger yet" in outcome.error
    assert count(pink_shop, OrderRow) == 0


def test_a_shopify_line_without_sku_maps_through_the_variant_in_the_listing_refs(
    pink_shop: Ledger, shopify: ShopifyConnector
) -> None:
    order = shopify_order()
    for line in order["line_items"]:
        line["sku"] = ""

    outcome = deliver_shopify(pink_shop, shopify, "orders/create", order, "ev-no-sku")

    assert outcome.status is InboxStatus.APPLIED
    assert outcome.order is not None
    assert [ln.sku for ln in outcome.order.lines] == ["IPOD2008PINK"] * 2
    assert stock_of(pink_shop, "IPOD2008PINK") == (5, 3)


def test_an_order_with_an_unknown_sku_is_flagged_naming_the_line_and_nothing_is_applied(
    pink_shop: Ledger, shopify: ShopifyConnector
) -> None:
    order = shopify_order()
    order["line_items"][1] |= {"sku": "IPOD2008GOLD", "variant_id": 999}

    outcome = deliver_shopify(pink_shop, shopify, "orders/create", order, "ev-gold")

    assert outcome.status is InboxStatus.FLAGGED
    assert outcome.error is not None
    assert PINK_LINES[1] in outcome.error and "IPOD2008GOLD" in outcome.error
    assert count(pink_shop, OrderRow) == 0
    assert stock_of(pink_shop, "IPOD2008PINK") == (5, 0)
    [(event_id, status, error)] = inbox(pink_shop)
    assert (event_id, status, error) == ("ev-gold", "flagged", outcome.error)


def test_the_woocommerce_sample_maps_its_empty_sku_through_the_listing_id(
    ledger: Ledger, woo: WooCommerceConnector
) -> None:
    shop_with(ledger, {"WOO-SINGLE": {"berlin": 1}, "Bar3": {"berlin": 4}})
    ledger.run(
        lambda s: s.execute(
            update(ListingRow)
            .where(ListingRow.external_id == "woo-site-WOO-SINGLE")
            .values(external_id="93")
        )
    )
    body = (SAMPLES / "woocommerce-order-created.json").read_bytes()

    outcome = deliver_woo(ledger, woo, "order.created", body)

    assert outcome.status is InboxStatus.APPLIED
    assert outcome.order is not None
    assert [(ln.sku, ln.committed, ln.short) for ln in outcome.order.lines] == [
        ("WOO-SINGLE", 1, 1),
        ("Bar3", 1, 0),
    ]
    assert outcome.order.status is OrderStatus.PARTIALLY_OVERSOLD


def test_woocommerce_ping_is_stored_and_answered(ledger: Ledger, woo: WooCommerceConnector) -> None:
    shop_with(ledger, {"Bar3": {"berlin": 4}})

    outcome = deliver_woo(ledger, woo, "ping", b"webhook_id=7")

    assert outcome.status is InboxStatus.STORED
    assert inbox(ledger) == [("ping:7", "stored", None)]


def test_an_unknown_topic_is_stored_flagged(pink_shop: Ledger, shopify: ShopifyConnector) -> None:
    outcome = deliver_shopify(pink_shop, shopify, "products/update", {"id": 1}, "ev-product")

    assert outcome.status is InboxStatus.FLAGGED
    assert inbox(pink_shop) == [("ev-product", "flagged", "no handler for topic 'products/update'")]


def test_an_amazon_order_change_notification_records_the_order(ledger: Ledger) -> None:
    shop_with(ledger, {"SellerSKUID1": {"berlin": 12}})
    connector = AmazonConnector(
        AmazonConfig(
            name="amazon-eu",
            endpoint="https://sellingpartnerapi-eu.invalid",
            token_url="https://api.amazon.invalid/auth/o2/token",
            client_id="unused",
            client_secret="unused",
            refresh_token="unused",
            notification_secret=RELAY_SECRET,
        )  # fmt: skip
    )
    body = (SAMPLES / "amazon-order-change-notification.json").read_bytes()
    headers = {SECRET_HEADER: RELAY_SECRET}
    events = connector.parse_webhook(headers, body)
    connector.close()

    [outcome] = ledger.run(lambda s: ingest_event(s, "amazon-eu", headers, body, events))

    assert outcome.status is InboxStatus.APPLIED
    assert stock_of(ledger, "SellerSKUID1") == (12, 10)
    stored = ledger.run(lambda s: s.execute(select(InboxEventRow.headers)).scalar_one())
    assert stored == {}  # the relay's shared secret is not kept


def inventory_level(available: int) -> dict[str, Any]:
    level = json.loads((SAMPLES / "shopify-rest/inventory_level.json").read_text())
    return level["inventory_level"] | {
        "inventory_item_id": 39072856,
        "location_id": 905684977,
        "available": available,
    }


def listing_state(ledger: Ledger) -> tuple[int, int | None, int | None, bool]:
    row = ledger.run(
        lambda s: s.execute(
            select(
                ListingRow.desired_qty,
                ListingRow.expected_qty,
                ListingRow.pushed_qty,
                ListingRow.dirty,
            ).where(ListingRow.external_id == ITEM)
        ).one()
    )
    return tuple(row)  # type: ignore[return-value]


def pushed(ledger: Ledger, qty: int) -> None:
    ledger.run(
        lambda s: s.execute(
            update(ListingRow)
            .where(ListingRow.external_id == ITEM)
            .values(pushed_qty=qty, expected_qty=qty, dirty=False)
        )
    )


def test_a_count_we_did_not_expect_marks_the_listing_for_a_push(
    pink_shop: Ledger, shopify: ShopifyConnector
) -> None:
    pushed(pink_shop, 5)

    expected = deliver_shopify(
        pink_shop, shopify, "inventory_levels/update", inventory_level(5), "ev-1"
    )
    assert expected.status is InboxStatus.STORED
    assert listing_state(pink_shop) == (5, 5, 5, False)

    changed = deliver_shopify(
        pink_shop, shopify, "inventory_levels/update", inventory_level(9), "ev-2"
    )
    assert changed.status is InboxStatus.APPLIED
    assert listing_state(pink_shop) == (5, 5, 5, True)


def test_the_echo_of_our_own_push_changes_nothing(
    pink_shop: Ledger, shopify: ShopifyConnector
) -> None:
    pushed(pink_shop, 5)
    deliver_shopify(pink_shop, shopify, "orders/create", shopify_order(), "ev-order")
    assert listing_state(pink_shop) == (2, 2, 5, False)  # Shopify took its own 3 units off

    echo = deliver_shopify(
        pink_shop, shopify, "inventory_levels/update", inventory_level(5), "ev-echo"
    )

    assert echo.status is InboxStatus.STORED
    assert echo.error is not None and "echo" in echo.error
    assert listing_state(pink_shop) == (2, 2, 5, False)


def test_ingest_order_serves_order_polls_with_the_same_rules(pink_shop: Ledger) -> None:
    order = order_from_rest("shopify-main", shopify_order())
    cancelled = order_from_rest(
        "shopify-main", shopify_order(refunds=[refund(1, PINK_LINES[0], 2, "cancel")])
    )

    first = pink_shop.run(lambda s: ingest_order(s, "shopify-main", order))
    again = pink_shop.run(lambda s: ingest_order(s, "shopify-main", order))
    update_ = pink_shop.run(lambda s: ingest_order(s, "shopify-main", cancelled))

    assert (first.recorded, first.changed, again.changed) == (True, True, False)
    assert (update_.cancelled, update_.returned) == (2, 0)
    assert stock_of(pink_shop, "IPOD2008PINK") == (5, 1)


def test_a_bundle_line_is_cancelled_component_by_component(
    ledger: Ledger, shopify: ShopifyConnector
) -> None:
    shop_with(ledger, {"TEAL-MUG-350ML": {"berlin": 6}, "OAK-COASTER": {"berlin": 10}})
    load_catalog(
        ledger,
        "sku,location,on_hand,components,listing:shopify-main\n"
        "IPOD2008PINK,,,TEAL-MUG-350ML*1;OAK-COASTER*2,shopify-main-set\n",
    )
    deliver_shopify(ledger, shopify, "orders/create", shopify_order(), "ev-set")
    assert (stock_of(ledger, "TEAL-MUG-350ML"), stock_of(ledger, "OAK-COASTER")) == (
        (6, 3),
        (10, 6),
    )

    partial = shopify_order(refunds=[refund(1, PINK_LINES[0], 1, "cancel")])
    deliver_shopify(ledger, shopify, "orders/updated", partial, "ev-set-cancel")

    assert (stock_of(ledger, "TEAL-MUG-350ML"), stock_of(ledger, "OAK-COASTER")) == (
        (6, 2),
        (10, 4),
    )
    assert ledger.verify() == []


def test_an_event_refused_half_way_leaves_only_its_flagged_row(
    pink_shop: Ledger, shopify: ShopifyConnector, monkeypatch: pytest.MonkeyPatch
) -> None:
    deliver_shopify(pink_shop, shopify, "orders/create", shopify_order(), "ev-create")
    pink_shop.ship_order("shopify-main", PINK_ORDER, quantities={"IPOD2008PINK": 1}, key="ship-1")
    movements = count(pink_shop, MovementRow)

    def refuse(*_: Any, **__: Any) -> None:
        raise InvalidRequestError("the return was refused")

    monkeypatch.setattr("stocksync.ledger.ingest.restock_return", refuse)
    # cancels the unshipped unit of line 1 and all of line 2, then fails to return the shipped one
    both = shopify_order(
        refunds=[refund(1, PINK_LINES[0], 2, "return"), refund(2, PINK_LINES[1], 1, "cancel")]
    )
    outcome = deliver_shopify(pink_shop, shopify, "orders/updated", both, "ev-update")

    assert (outcome.status, outcome.error) == (InboxStatus.FLAGGED, "the return was refused")
    assert count(pink_shop, MovementRow) == movements
    assert stock_of(pink_shop, "IPOD2008PINK") == (4, 2)
    assert [ln.cancelled for ln in pink_shop.order("shopify-main", PINK_ORDER).lines] == [0, 0]


def test_without_isolation_an_event_refused_half_way_raises_and_its_transaction_keeps_nothing(
    pink_shop: Ledger, shopify: ShopifyConnector, monkeypatch: pytest.MonkeyPatch
) -> None:
    deliver_shopify(pink_shop, shopify, "orders/create", shopify_order(), "ev-create")
    pink_shop.ship_order("shopify-main", PINK_ORDER, quantities={"IPOD2008PINK": 1}, key="ship-1")
    movements = count(pink_shop, MovementRow)

    def refuse(*_: Any, **__: Any) -> None:
        raise InvalidRequestError("the return was refused")

    monkeypatch.setattr("stocksync.ledger.ingest.restock_return", refuse)
    both = shopify_order(
        refunds=[refund(1, PINK_LINES[0], 2, "return"), refund(2, PINK_LINES[1], 1, "cancel")]
    )
    body = json.dumps(both).encode()
    digest = hmac.new(SHOPIFY_SECRET.encode(), body, hashlib.sha256).digest()
    headers = {
        "X-Shopify-Topic": "orders/updated",
        "X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode(),
        "X-Shopify-Event-Id": "ev-update",
    }
    events = shopify.parse_webhook(headers, body)

    with pytest.raises(IsolationNeededError, match="the return was refused"):
        pink_shop.run(
            lambda s: ingest_event(s, "shopify-main", headers, body, events, isolate=False)
        )

    assert [event_id for event_id, _, _ in inbox(pink_shop)] == ["ev-create"]
    assert count(pink_shop, MovementRow) == movements
    assert stock_of(pink_shop, "IPOD2008PINK") == (4, 2)


def test_a_count_at_another_shopify_location_is_not_the_listings(
    pink_shop: Ledger, shopify: ShopifyConnector
) -> None:
    pushed(pink_shop, 5)
    elsewhere = inventory_level(9) | {"location_id": 124656943}
    parser = ShopifyConnector(
        ShopifyConfig(name="shopify-main", shop_url="https://receiver.invalid", access_token="",
                      webhook_secret=SHOPIFY_SECRET, location_id=None)
    )  # fmt: skip
    try:
        outcome = deliver_shopify(pink_shop, parser, "inventory_levels/update", elsewhere, "ev-x")
    finally:
        parser.close()

    assert outcome.status is InboxStatus.STORED
    assert listing_state(pink_shop) == (5, 5, 5, False)


def test_five_copies_of_one_webhook_at_once_are_applied_once(
    pink_shop: Ledger, shopify: ShopifyConnector
) -> None:
    outcomes = run_concurrently(
        5,
        lambda _: (
            deliver_shopify(pink_shop, shopify, "orders/create", shopify_order(), "ev-same").status
        ),
    )

    assert sorted(outcomes) == ["applied"] + ["duplicate"] * 4  # type: ignore[type-var]
    assert stock_of(pink_shop, "IPOD2008PINK") == (5, 3)
    assert pink_shop.verify() == []


def test_racing_updates_of_one_order_leave_the_latest_state_whatever_their_order(
    pink_shop: Ledger, shopify: ShopifyConnector
) -> None:
    one = shopify_order(refunds=[refund(1, PINK_LINES[0], 1, "cancel")])
    both = shopify_order(
        refunds=[refund(1, PINK_LINES[0], 1, "cancel"), refund(2, PINK_LINES[1], 1, "cancel")]
    )
    payloads = [shopify_order(), one, both, one, both, shopify_order()]

    statuses = run_concurrently(
        len(payloads),
        lambda i: (
            deliver_shopify(pink_shop, shopify, "orders/updated", payloads[i], f"ev-{i}").status
        ),
    )

    assert set(statuses) <= {"applied", "unchanged"}  # type: ignore[arg-type]
    assert [ln.cancelled for ln in pink_shop.order("shopify-main", PINK_ORDER).lines] == [1, 1]
    assert stock_of(pink_shop, "IPOD2008PINK") == (5, 1)
    assert pink_shop.verify() == []
