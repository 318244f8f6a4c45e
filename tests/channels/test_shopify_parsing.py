"""Shopify webhook bodies parsed as they arrive: real samples, signatures checked first."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from stocksync.channels.errors import SignatureError
from stocksync.channels.shopify import ShopifyConfig, ShopifyConnector
from stocksync.domain.messages import EventKind

SAMPLES = Path("/work/shared/samples")
SECRET = "hush-app-secret"
LOCATION = "gid://shopify/Location/905684977"


@pytest.fixture
def connector() -> Iterator[ShopifyConnector]:
    config = ShopifyConfig(
        name="shopify-main",
        shop_url="https://teal-mugs.myshopify.com",
        access_token="shpat_unused",
        webhook_secret=SECRET,
        location_id=LOCATION,
    )
    conn = ShopifyConnector(config)
    yield conn
    conn.close()


def signed(topic: str, body: bytes, **extra: str) -> dict[str, str]:
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).digest()
    return {
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode(),
        "X-Shopify-Event-Id": "98880550-7158-44d4-b7cd-2c97c8a091b5",
        "X-Shopify-Triggered-At": "2026-01-15T10:00:00.123Z",
    } | extra


def test_the_orders_create_sample_keeps_64_bit_ids_as_strings(connector):
    body = (SAMPLES / "shopify-orders-create.json").read_bytes()
    [event] = connector.parse_webhook(signed("orders/create", body), body)
    assert event.kind is EventKind.ORDER_CREATED
    assert event.order is not None
    assert event.order.external_id == "820982911946154508"
    assert [ln.external_line_id for ln in event.order.lines] == [
        "866550311766439020",
        "141249953214522974",
    ]
    assert event.event_id == "98880550-7158-44d4-b7cd-2c97c8a091b5"


def test_two_lines_sharing_one_sku_stay_two_lines(connector):
    body = (SAMPLES / "shopify-orders-create.json").read_bytes()
    [event] = connector.parse_webhook(signed("orders/create", body), body)
    assert event.order is not None
    assert [(ln.sku, ln.quantity) for ln in event.order.lines] == [("IPOD2008PINK", 1)] * 2
    assert {ln.listing_id for ln in event.order.lines} == {"gid://shopify/ProductVariant/808950810"}


def test_the_cancelled_sample_order_is_cancelled_on_every_line(connector):
    body = (SAMPLES / "shopify-orders-create.json").read_bytes()
    [event] = connector.parse_webhook(signed("orders/create", body), body)
    assert event.order is not None
    assert event.order.cancelled
    assert event.order.status == "voided"
    assert [ln.cancelled for ln in event.order.lines] == [1, 1]


def test_a_missing_signature_raises_before_the_body_is_parsed(connector):
    with pytest.raises(SignatureError):
        connector.parse_webhook({"X-Shopify-Topic": "orders/create"}, b"{not json")


def test_a_wrong_signature_raises_before_the_body_is_parsed(connector):
    headers = signed("orders/create", b'{"id": 1}')
    with pytest.raises(SignatureError):
        connector.parse_webhook(headers, b"{not json")


def test_a_body_changed_after_signing_is_refused(connector):
    body = (SAMPLES / "shopify-orders-create.json").read_bytes()
    headers = signed("orders/create", body)
    with pytest.raises(SignatureError):
        connector.parse_webhook(headers, body.replace(b'"quantity": 1', b'"quantity": 9', 1))


def test_the_refund_sample_restocks_each_refunded_line(connector):
    body = (SAMPLES / "shopify-refund.json").read_bytes()
    [event] = connector.parse_webhook(signed("refunds/create", body), body)
    assert event.kind is EventKind.REFUND
    assert event.order is not None
    assert event.order.external_id == "450789469"
    assert [(ln.sku, ln.refunded, ln.restocked) for ln in event.order.lines] == [
        ("IPOD2008BLACK", 1, 1),
        ("IPOD2008GREEN", 1, 1),
    ]


def test_a_refund_line_marked_no_restock_is_refunded_but_not_restocked(connector):
    refund = json.loads((SAMPLES / "shopify-refund.json").read_text())["refund"]
    for line in refund["refund_line_items"]:
        line["restock_type"] = "no_restock"
    body = json.dumps(refund).encode()
    [event] = connector.parse_webhook(signed("refunds/create", body), body)
    assert event.order is not None
    assert [(ln.refunded, ln.restocked) for ln in event.order.lines] == [(1, 0), (1, 0)]


def test_an_inventory_level_update_at_our_location_carries_the_new_count(connector):
    level = json.loads((SAMPLES / "shopify-rest/inventory_level.json").read_text())
    body = json.dumps(level["inventory_level"]).encode()
    [event] = connector.parse_webhook(signed("inventory_levels/update", body), body)
    assert event.kind is EventKind.INVENTORY
    assert event.quantity is not None
    assert (event.quantity.listing_id, event.quantity.quantity) == (
        "gid://shopify/InventoryItem/808950810",
        6,
    )


def test_an_unknown_topic_keeps_its_payload_and_falls_back_to_the_webhook_id(connector):
    body = b'{"id": 7, "title": "TEAL-MUG-350ML"}'
    headers = signed("products/update", body, **{"X-Shopify-Webhook-Id": "wh-1"})
    del headers["X-Shopify-Event-Id"]
    [event] = connector.parse_webhook(headers, body)
    assert event.kind is EventKind.UNKNOWN
    assert event.event_id == "wh-1"
    assert event.payload == {"id": 7, "title": "TEAL-MUG-350ML"}
