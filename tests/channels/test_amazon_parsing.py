"""Amazon SP-API payloads, notifications and pacing, without any network."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from stocksync.channels.amazon import SECRET_HEADER, AmazonConfig, AmazonConnector, Pacer
from stocksync.channels.amazon_parsing import parse_order, push_result
from stocksync.channels.base import PushStatus, Refund
from stocksync.channels.errors import ChannelRejectedError, SignatureError
from stocksync.domain.messages import EventKind

SAMPLES = Path("/work/shared/samples")
SECRET = "relay-secret-teal-mugs"


def sample(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SAMPLES / name).read_text())
    return loaded


@pytest.fixture
def notification_body() -> bytes:
    return (SAMPLES / "amazon-order-change-notification.json").read_bytes()


def config(**changes: Any) -> AmazonConfig:
    fields = {"name": "amazon-us", "endpoint": "https://sellingpartnerapi-na.amazon.com",
              "token_url": "https://api.amazon.com/auth/o2/token", "client_id": "amzn1.application-oa2-client.teal",
              "client_secret": "teal-secret", "refresh_token": "Atzr|teal", "seller_id": "A3TH9S8BH6GOGM",
              "marketplace_id": "ATVPDKIKX0DER", "notification_secret": SECRET} | changes  # fmt: skip
    return AmazonConfig(**fields)


@pytest.fixture
def connector() -> Iterator[AmazonConnector]:
    def no_network(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"parsing must not call Amazon: {request.url}")

    conn = AmazonConnector(config(), transport=httpx.MockTransport(no_network))
    yield conn
    conn.close()


def relayed() -> dict[str, str]:
    return {"Content-Type": "application/json", SECRET_HEADER: SECRET}


def test_the_sample_notification_parses_as_it_is(
    connector: AmazonConnector, notification_body: bytes
) -> None:
    [event] = connector.parse_webhook(relayed(), notification_body)

    assert event.event_id == "d0e9e693-c3ad-4373-979f-ed4ec98dd746"
    assert (event.topic, event.kind) == ("ORDER_CHANGE", EventKind.ORDER_UPDATED)
    assert event.occurred_at == datetime(2020, 1, 11, 0, 9, 53, 109000, tzinfo=UTC)
    assert event.order is not None
    assert (event.order.external_id, event.order.status, event.order.cancelled) == (
        "903-8868176-2219830",
        "Unshipped",
        False,
    )
    [line] = event.order.lines
    assert (line.external_line_id, line.sku, line.listing_id, line.quantity) == (
        "OIID34853450",
        "SellerSKUID1",
        "SellerSKUID1",
        10,
    )


def test_an_eventbridge_event_carries_the_same_notification_under_detail(
    connector: AmazonConnector, notification_body: bytes
) -> None:
    envelope = {"version": "0", "id": "7bf73129-1428-4cd3-a780-95db273d1602",
                "detail-type": "ORDER_CHANGE", "source": "aws.partner/sellingpartnerapi.amazon.com/app",
                "detail": json.loads(notification_body)}  # fmt: skip

    [event] = connector.parse_webhook(relayed(), json.dumps(envelope).encode())
    [direct] = connector.parse_webhook(relayed(), notification_body)

    assert (event.event_id, event.kind, event.order) == (direct.event_id, direct.kind, direct.order)


def test_an_sqs_receive_message_entry_is_unwrapped_from_its_body_string(
    connector: AmazonConnector, notification_body: bytes
) -> None:
    message = {"MessageId": "5fea7756-0ea4-451a-a703-a558b933e274", "ReceiptHandle": "MbZj6wDW",
               "Body": notification_body.decode()}  # fmt: skip

    [event] = connector.parse_webhook(relayed(), json.dumps(message).encode())

    assert event.event_id == "d0e9e693-c3ad-4373-979f-ed4ec98dd746"


def test_a_canceled_order_change_is_an_order_cancelled_event(
    connector: AmazonConnector, notification_body: bytes
) -> None:
    notification = json.loads(notification_body)
    notification["Payload"]["OrderChangeNotification"]["Summary"]["OrderStatus"] = "Canceled"

    [event] = connector.parse_webhook(relayed(), json.dumps(notification).encode())

    assert event.kind is EventKind.ORDER_CANCELLED
    assert event.order is not None and [ln.cancelled for ln in event.order.lines] == [10]


def test_a_bad_shared_secret_raises_signature_error_before_parsing(
    connector: AmazonConnector,
) -> None:
    with pytest.raises(SignatureError):
        connector.parse_webhook({SECRET_HEADER: "relay-secret-guess"}, b"not even json")
    with pytest.raises(SignatureError):
        connector.parse_webhook({}, b"{}")


def test_the_secret_header_is_matched_case_insensitively(
    connector: AmazonConnector, notification_body: bytes
) -> None:
    [event] = connector.parse_webhook({SECRET_HEADER.lower(): SECRET}, notification_body)

    assert event.kind is EventKind.ORDER_UPDATED


def test_a_connector_without_a_notification_secret_accepts_nothing(
    notification_body: bytes,
) -> None:
    conn = AmazonConnector(
        config(notification_secret=""), transport=httpx.MockTransport(lambda r: httpx.Response(500))
    )

    with pytest.raises(SignatureError):
        conn.parse_webhook({SECRET_HEADER: ""}, notification_body)
    conn.close()


def test_duplicate_notifications_keep_the_same_event_id(
    connector: AmazonConnector, notification_body: bytes
) -> None:
    first = connector.parse_webhook(relayed(), notification_body)
    again = connector.parse_webhook(relayed(), notification_body)

    assert first[0].event_id == again[0].event_id


def test_a_listing_quantity_change_notification_is_an_inventory_event(
    connector: AmazonConnector,
) -> None:
    notification = {"NotificationVersion": "1.0", "NotificationType": "LISTINGS_ITEM_MFN_QUANTITY_CHANGE",
                    "PayloadVersion": "1.0", "EventTime": "2024-05-01T10:00:00.000Z",
                    "Payload": {"SellerId": "A3TH9S8BH6GOGM", "FulfillmentChannelCode": "DEFAULT",
                                "Sku": "TEAL-MUG-350ML", "Quantity": 7},
                    "NotificationMetadata": {"NotificationId": "c4a3b9b1-7e43-4c55-9d7c-3f0a4f1b2e61"}}  # fmt: skip

    [event] = connector.parse_webhook(relayed(), json.dumps(notification).encode())

    assert event.kind is EventKind.INVENTORY
    assert event.quantity is not None
    assert (event.quantity.listing_id, event.quantity.quantity) == ("TEAL-MUG-350ML", 7)


def test_the_sample_orders_parse_with_pending_kept_as_committed() -> None:
    [order_json] = sample("amazon-getorders-response.json")["payload"]["Orders"]
    items = sample("amazon-getorderitems-response.json")["payload"]["OrderItems"]

    order = parse_order("amazon-us", order_json, items)

    assert (order.external_id, order.status, order.cancelled) == (
        "902-3159896-1390916",
        "Pending",
        False,
    )
    assert order.created_at == datetime(2017, 1, 20, 19, 49, 35, tzinfo=UTC)
    assert [
        (ln.external_line_id, ln.sku, ln.listing_id, ln.quantity, ln.cancelled)
        for ln in order.lines
    ] == [
        ("68828574383266", "CBA_OTF_1", "CBA_OTF_1", 1, 0),
        ("79039765272157", "CBA_OTF_5", "CBA_OTF_5", 2, 0),
    ]


def test_a_canceled_order_cancels_every_unit() -> None:
    [order_json] = sample("amazon-getorders-response.json")["payload"]["Orders"]
    order_json["OrderStatus"] = "Canceled"
    items = sample("amazon-getorderitems-response.json")["payload"]["OrderItems"]

    order = parse_order("amazon-us", order_json, items)

    assert order.cancelled
    assert [ln.cancelled for ln in order.lines] == [1, 2]


def test_an_accepted_patch_is_applied_and_an_invalid_one_rejected_with_the_issue() -> None:
    accepted = push_result("TEAL-MUG-350ML", {"sku": "TEAL-MUG-350ML", "status": "ACCEPTED",
                                              "submissionId": "f1dc2914", "issues": []})  # fmt: skip
    invalid = push_result("TEAL-MUG-350ML", {"sku": "TEAL-MUG-350ML", "status": "INVALID", "submissionId": "a1c5",
                                             "issues": [{"code": "90220", "message": "'quantity' is required but not supplied.",
                                                         "severity": "ERROR"},
                                                        {"code": "18027", "message": "a warning", "severity": "WARNING"}]})  # fmt: skip

    assert accepted.status is PushStatus.APPLIED and "f1dc2914" in accepted.message
    assert invalid.status is PushStatus.REJECTED
    assert invalid.message == "90220: 'quantity' is required but not supplied."


def test_refunds_are_refused_because_amazon_has_no_refund_create_api(
    connector: AmazonConnector,
) -> None:
    with pytest.raises(ChannelRejectedError, match="Seller Central"):
        connector.create_refund(Refund("114-3941689-8772232", {"68828574383266": 1}, restock=True))


class FakeTime:
    """A monotonic clock whose sleeps only move it forward."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 3))
        self.now += seconds


def test_the_pacer_spends_the_burst_then_waits_one_refill_per_call() -> None:
    time = FakeTime()
    pacer = Pacer({"patchListingsItem": (5.0, 5)}, time.clock, time.sleep)

    for _ in range(7):
        assert pacer.wait("patchListingsItem", max_wait_s=30) is None

    assert time.slept == [0.2, 0.2]


def test_the_pacer_refuses_a_wait_longer_than_allowed_and_says_how_long() -> None:
    time = FakeTime()
    pacer = Pacer({"getOrders": (0.0167, 1)}, time.clock, time.sleep)

    assert pacer.wait("getOrders", max_wait_s=30) is None
    needed = pacer.wait("getOrders", max_wait_s=30)

    assert needed is not None and 59 < needed < 60
    assert time.slept == []


def test_the_pacer_adopts_a_lower_rate_reported_by_amazon_and_a_429_empties_the_bucket() -> None:
    time = FakeTime()
    pacer = Pacer({"confirmShipment": (2.0, 10)}, time.clock, time.sleep)

    pacer.observe("confirmShipment", "0.5")
    interval = pacer.throttled("confirmShipment")
    pacer.wait("confirmShipment", max_wait_s=30)

    assert interval == 2.0
    assert time.slept == [2.0]


def test_patches_are_handed_over_as_the_bucket_holds_them_and_capacity_is_awaited() -> None:
    time = FakeTime()
    amazon = AmazonConnector(config(), clock=time.clock, sleep=time.sleep)
    pacer = amazon._pacer

    assert amazon.batch_size(backlog=8) == 5  # a full bucket: its burst at once
    amazon.await_capacity(max_wait_s=1.0)
    for _ in range(4):
        pacer.wait("patchListingsItem", max_wait_s=30)
    assert amazon.batch_size(backlog=8) == 1
    pacer.wait("patchListingsItem", max_wait_s=30)
    assert amazon.batch_size(backlog=8) == 1  # never less than one
    assert time.slept == []

    amazon.await_capacity(max_wait_s=0.05)  # bounded by the caller
    amazon.await_capacity(max_wait_s=1.0)  # then the rest of the 0.2 s refill
    assert time.slept == [0.05, 0.15]
    assert pacer.wait("patchListingsItem", max_wait_s=0) is None  # a token is there: no wait
    assert amazon.batch_size(backlog=1_500) == amazon.max_batch  # a feed takes it whole
    amazon.close()


def test_the_access_token_is_refreshed_a_minute_before_it_expires() -> None:
    time, token_calls = FakeTime(), []

    def amazon(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/auth/o2/token":
            token_calls.append(request.content.decode())
            return httpx.Response(200, json={"access_token": f"Atza|{len(token_calls)}", "token_type": "bearer",
                                             "expires_in": 3600, "refresh_token": "Atzr|teal"})  # fmt: skip
        assert request.headers["x-amz-access-token"] == f"Atza|{len(token_calls)}"
        return httpx.Response(200, json={"sku": "TEAL-MUG-350ML", "fulfillmentAvailability": [
            {"fulfillmentChannelCode": "DEFAULT", "quantity": 4}]})  # fmt: skip

    conn = AmazonConnector(
        config(), transport=httpx.MockTransport(amazon), clock=time.clock, sleep=time.sleep
    )
    conn.read_quantities(["TEAL-MUG-350ML"])
    time.now += 3539
    conn.read_quantities(["TEAL-MUG-350ML"])
    time.now += 2
    [seen] = conn.read_quantities(["TEAL-MUG-350ML"])
    conn.close()

    assert len(token_calls) == 2
    assert (
        "grant_type=refresh_token" in token_calls[0]
        and "refresh_token=Atzr%7Cteal" in token_calls[0]
    )
    assert seen.quantity == 4
