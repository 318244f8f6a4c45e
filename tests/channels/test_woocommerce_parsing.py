"""WooCommerce payloads and webhooks, parsed without any network."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from stocksync.channels.errors import SignatureError
from stocksync.channels.woocommerce import (
    WooCommerceConfig,
    WooCommerceConnector,
    parse_order,
    webhook_signature,
)
from stocksync.domain.messages import EventKind

SAMPLE = Path("/work/shared/samples/woocommerce-order-created.json")
SECRET = "wh-secret-teal-mugs"


@pytest.fixture
def sample() -> dict[str, Any]:
    return json.loads(SAMPLE.read_text())


@pytest.fixture
def connector() -> Iterator[WooCommerceConnector]:
    def no_network(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"parsing must not call the shop: {request.url}")

    config = WooCommerceConfig(
        name="woo", base_url="https://shop.example", consumer_key="ck_test",
        consumer_secret="cs_test", webhook_secret=SECRET,
    )  # fmt: skip
    conn = WooCommerceConnector(config, transport=httpx.MockTransport(no_network))
    yield conn
    conn.close()


def wp_json(payload: Any) -> bytes:
    """Encode like WordPress's ``wp_json_encode``: compact, with escaped slashes."""
    return json.dumps(payload, separators=(",", ":")).replace("/", "\\/").encode()


def delivery(topic: str, body: bytes, *, delivery_id: str = "d41d8cd98f00b204") -> dict[str, str]:
    return {
        "X-WC-Webhook-Source": "https://shop.example/",
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": topic.split(".")[0],
        "X-WC-Webhook-Event": topic.split(".")[1],
        "X-WC-Webhook-Signature": webhook_signature(SECRET, body),
        "X-WC-Webhook-ID": "7",
        "X-WC-Webhook-Delivery-ID": delivery_id,
    }


def test_the_sample_order_parses_as_it_is(sample: dict[str, Any]) -> None:
    order = parse_order("woo", sample)

    assert order.external_id == "727"
    assert order.status == "processing"
    assert not order.cancelled
    assert order.created_at == datetime(2017, 3, 22, 19, 28, 2, tzinfo=UTC)
    assert order.updated_at == datetime(2017, 3, 22, 19, 28, 8, tzinfo=UTC)
    plain, variation = order.lines
    assert (plain.external_line_id, plain.sku, plain.listing_id, plain.quantity) == (
        "315",
        None,
        "93",
        2,
    )
    assert (variation.sku, variation.listing_id, variation.quantity) == ("Bar3", "22/23", 1)


def test_ids_beyond_64_bits_survive_as_exact_strings(sample: dict[str, Any]) -> None:
    sample["id"] = 2**63 + 7
    sample["line_items"][1]["id"] = 2**64 + 1
    sample["line_items"][1]["variation_id"] = 2**63 + 11

    order = parse_order("woo", json.loads(json.dumps(sample)))

    assert order.external_id == "9223372036854775815"
    assert order.lines[1].external_line_id == "18446744073709551617"
    assert order.lines[1].listing_id == "22/9223372036854775819"


def test_a_cancelled_order_cancels_every_unit(sample: dict[str, Any]) -> None:
    sample["status"] = "cancelled"

    order = parse_order("woo", sample)

    assert order.cancelled
    assert [line.cancelled for line in order.lines] == [2, 1]


def test_a_partially_refunded_order_counts_refunded_and_restocked_units(
    sample: dict[str, Any],
) -> None:
    sample["refunds"] = [{"id": 730, "reason": "chipped mug", "total": "-3.00"}]
    sample["line_items"][0]["meta_data"] = [
        {"id": 1, "key": "_restock_refunded_items", "value": "1"}
    ]
    refund = {
        "id": 730,
        "line_items": [
            {"id": 331, "quantity": -1, "meta_data": [{"key": "_refunded_item_id", "value": "315"}]}
        ],
    }

    order = parse_order("woo", sample, [refund])

    assert not order.cancelled
    first, second = order.lines
    assert (first.refunded, first.restocked, first.cancelled) == (1, 1, 0)
    assert (second.refunded, second.restocked) == (0, 0)


def test_a_refunded_order_without_refund_details_counts_every_unit_refunded(
    sample: dict[str, Any],
) -> None:
    sample["status"] = "refunded"
    sample["refunds"] = [{"id": 730, "reason": "", "total": "-29.35"}]

    order = parse_order("woo", sample)

    assert order.cancelled
    assert [(line.refunded, line.cancelled) for line in order.lines] == [(2, 0), (1, 0)]


def test_a_correctly_signed_order_created_webhook_is_parsed(
    connector: WooCommerceConnector, sample: dict[str, Any]
) -> None:
    body = wp_json(sample)

    [event] = connector.parse_webhook(delivery("order.created", body), body)

    assert event.kind is EventKind.ORDER_CREATED
    assert event.event_id == "order.created:727:2017-03-22T19:28:08"
    assert event.order is not None and event.order.external_id == "727"
    assert event.occurred_at == datetime(2017, 3, 22, 19, 28, 8, tzinfo=UTC)


def test_header_names_are_matched_whatever_their_case(
    connector: WooCommerceConnector, sample: dict[str, Any]
) -> None:
    body = wp_json(sample)
    headers = {k.lower(): v for k, v in delivery("order.created", body).items()}

    [event] = connector.parse_webhook(headers, body)

    assert event.kind is EventKind.ORDER_CREATED


def test_a_wrong_signature_is_refused_before_parsing(connector: WooCommerceConnector) -> None:
    body = b"not json at all"
    headers = delivery("order.created", body)
    headers["X-WC-Webhook-Signature"] = webhook_signature("someone-else", body)

    with pytest.raises(SignatureError):
        connector.parse_webhook(headers, body)


def test_a_missing_signature_is_refused(
    connector: WooCommerceConnector, sample: dict[str, Any]
) -> None:
    body = wp_json(sample)
    headers = delivery("order.created", body)
    del headers["X-WC-Webhook-Signature"]

    with pytest.raises(SignatureError):
        connector.parse_webhook(headers, body)


def test_the_signature_covers_the_exact_bytes_so_reencoded_json_fails(
    connector: WooCommerceConnector, sample: dict[str, Any]
) -> None:
    signed = wp_json(sample)
    reencoded = json.dumps(json.loads(signed)).encode()

    with pytest.raises(SignatureError):
        connector.parse_webhook(delivery("order.created", signed), reencoded)


def test_the_unsigned_ping_is_answered_as_a_ping(connector: WooCommerceConnector) -> None:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}

    [event] = connector.parse_webhook(headers, b"webhook_id=7")

    assert event.kind is EventKind.PING
    assert event.payload == {"webhook_id": "7"}


def test_an_unsigned_body_that_only_looks_like_a_ping_is_refused(
    connector: WooCommerceConnector,
) -> None:
    with pytest.raises(SignatureError):
        connector.parse_webhook({}, b"webhook_id=7&status=cancelled")


def test_two_events_sharing_a_delivery_id_stay_distinct(
    connector: WooCommerceConnector, sample: dict[str, Any]
) -> None:
    other = copy.deepcopy(sample)
    other["id"] = 728
    first, second = wp_json(sample), wp_json(other)

    [a] = connector.parse_webhook(
        delivery("order.created", first, delivery_id="same-second"), first
    )
    [b] = connector.parse_webhook(
        delivery("order.created", second, delivery_id="same-second"), second
    )

    assert a.event_id != b.event_id


def test_a_duplicate_delivery_keeps_its_event_id(
    connector: WooCommerceConnector, sample: dict[str, Any]
) -> None:
    body = wp_json(sample)

    [a] = connector.parse_webhook(delivery("order.created", body, delivery_id="one"), body)
    [b] = connector.parse_webhook(delivery("order.created", body, delivery_id="two"), body)

    assert a.event_id == b.event_id


def test_an_order_updated_to_cancelled_is_a_cancellation(
    connector: WooCommerceConnector, sample: dict[str, Any]
) -> None:
    sample["status"] = "cancelled"
    body = wp_json(sample)

    [event] = connector.parse_webhook(delivery("order.updated", body), body)

    assert event.kind is EventKind.ORDER_CANCELLED
    assert event.order is not None and event.order.cancelled


def test_a_product_update_reports_the_shown_quantity(connector: WooCommerceConnector) -> None:
    product = {"id": 93, "type": "simple", "sku": "TEAL-MUG-350ML", "manage_stock": True, "stock_quantity": 12,
               "date_modified_gmt": "2024-05-01T10:00:00"}  # fmt: skip
    body = wp_json(product)

    [event] = connector.parse_webhook(delivery("product.updated", body), body)

    assert event.kind is EventKind.INVENTORY
    assert event.quantity is not None
    assert (event.quantity.listing_id, event.quantity.sku, event.quantity.quantity) == (
        "93",
        "TEAL-MUG-350ML",
        12,
    )


def test_an_unknown_topic_keeps_its_payload(connector: WooCommerceConnector) -> None:
    coupon = {"id": 51, "code": "SPRING10", "date_modified_gmt": "2024-05-01T10:00:00"}
    body = wp_json(coupon)

    [event] = connector.parse_webhook(delivery("coupon.created", body), body)

    assert event.kind is EventKind.UNKNOWN
    assert event.payload == coupon


def test_the_config_keeps_its_secrets_out_of_repr() -> None:
    config = WooCommerceConfig(
        "woo", "https://shop.example", "ck_visible", "cs_hidden", "wh_hidden"
    )

    assert "cs_hidden" not in repr(config)
    assert "wh_hidden" not in repr(config)
