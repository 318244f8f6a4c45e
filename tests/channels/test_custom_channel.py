"""Custom channels from configuration alone: the connector against the emulator, over loopback HTTP.

The same two modules serve the example B2B portal and an in-house shop whose API uses other field
names, cursor paging, hex signatures and no compare-and-set.
"""

from __future__ import annotations

import json
import queue
import random
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from stocksync.channels.base import ChannelConnector, Fulfillment, PushStatus, QuantityPush, Refund
from stocksync.channels.custom import (
    AuthConfig,
    CustomChannelConfig,
    CustomChannelConfigError,
    CustomChannelConnector,
    webhook_signature,
)
from stocksync.channels.errors import (
    ChannelAuthError,
    ChannelRejectedError,
    SignatureError,
    TransientChannelError,
)
from stocksync.domain.messages import EventKind
from stocksync.sandbox.custom import CustomState, create_app, retarget
from stocksync.sandbox.server import serve_in_thread
from tests.channels.receiver import Received, webhook_receiver

EXAMPLE = Path(__file__).parents[2] / "stocksync" / "samples" / "custom-channel.example.json"

IN_HOUSE: dict[str, Any] = {
    "name": "in-house-shop",
    "base_url": "https://shop.internal.example",
    "timeout_s": 5,
    "auth": {"header": "X-Api-Key", "value": "key-in-house"},
    "push": {
        "method": "PUT", "path": "/inventory", "batch_size": 10,
        "body": {"items_key": "payload.items", "id_field": "listingId", "quantity_field": "qty"},
        "results": {"key": "items", "id_field": "listingId", "status_field": "state",
                    "ok": ["SAVED"], "rejected": ["ERROR"], "message_field": "errorText"},
    },
    "read": {
        "path": "/inventory", "list_key": "items", "id_field": "listingId",
        "sku_field": "skuCode", "quantity_field": "stock.onHand",
        "paging": {"style": "cursor", "cursor_param": "after",
                   "next_cursor_field": "paging.nextCursor", "limit_param": "limit", "limit": 7},
    },
    "orders": {
        "path": "/sales-orders", "since_param": "cursor", "list_key": "salesOrders",
        "next_cursor_field": "nextCursor", "id_field": "orderId", "created_field": "createdAt",
        "status_field": "orderStatus", "cancelled_statuses": ["CANCELLED"],
        "lines_key": "orderLines", "line": {"id_field": "lineId", "sku_field": "skuCode",
                                            "quantity_field": "quantity"},
    },
    "webhook": {
        "signature_header": "X-Signature-SHA256", "encoding": "hex", "signature_prefix": "sha256=",
        "secret": "whsec-in-house", "event_id_field": "eventId", "topic_field": "eventType",
        "order_field": "salesOrder",
        "topics": {"SalesOrderCreated": "order_created", "SalesOrderCancelled": "order_cancelled"},
    },
}  # fmt: skip


@dataclass
class Channel:
    """An emulated channel on loopback and a connector configured for it."""

    state: CustomState
    config: CustomChannelConfig
    base_url: str
    connector: CustomChannelConnector

    def connector_with(self, **changes: Any) -> CustomChannelConnector:
        return CustomChannelConnector(self.config.model_copy(update=changes))

    def shopper_order(self, *lines: tuple[str, int]) -> httpx.Response:
        body = {"lines": [{"listing_id": lid, "quantity": units} for lid, units in lines]}
        return httpx.post(f"{self.base_url}/_sandbox/shopper/orders", json=body, timeout=5)

    def sandbox(self, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        answer = httpx.post(f"{self.base_url}/_sandbox/{path}", json=body or {}, timeout=5)
        return answer.raise_for_status()

    def add_mugs(self, count: int, stock: int = 5) -> list[str]:
        with self.state.lock:
            return [
                self.state.add_listing(f"TEAL-MUG-350ML-{n:03d}", stock).listing_id
                for n in range(count)
            ]


def run_channel(config: CustomChannelConfig) -> Iterator[Channel]:
    state = CustomState()
    server_url, stop = serve_in_thread(create_app(state, config))
    connector = CustomChannelConnector(retarget(config, server_url))
    yield Channel(state, retarget(config, server_url), server_url, connector)
    connector.close()
    stop()


@pytest.fixture
def portal() -> Iterator[Channel]:
    yield from run_channel(CustomChannelConfig.load(EXAMPLE))


@pytest.fixture
def shop() -> Iterator[Channel]:
    yield from run_channel(CustomChannelConfig.load(IN_HOUSE))


@pytest.fixture
def receiver() -> Iterator[tuple[str, queue.Queue[Received]]]:
    with webhook_receiver() as endpoint:
        yield endpoint


def without(data: dict[str, Any], dotted: str) -> dict[str, Any]:
    """A deep copy of ``data`` with the field at ``dotted`` removed."""
    copy: dict[str, Any] = json.loads(json.dumps(data))
    *parents, last = dotted.split(".")
    node = copy
    for part in parents:
        node = node[part]
    del node[last]
    return copy


def outcomes(state: CustomState, count: int) -> list[Any]:
    """The webhook outcomes the channel recorded, once it has recorded ``count`` of them."""
    deadline = time.monotonic() + 5
    while len(state.deliveries) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    with state.lock:
        return [d["outcome"] for d in state.deliveries]


def example_dict() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(EXAMPLE.read_text())
    return loaded


# -- configuration -------------------------------------------------------------------------------


def test_the_example_config_loads_and_keeps_its_secrets_out_of_repr() -> None:
    config = CustomChannelConfig.load(EXAMPLE)

    assert config.name == "b2b-portal"
    assert "replace-with" not in repr(config)
    assert config.webhook.secret.get_secret_value() == "replace-with-the-portal-webhook-secret"


def test_a_config_missing_a_required_field_names_it_in_the_error() -> None:
    data = without(example_dict(), "push.body.quantity_field")

    with pytest.raises(CustomChannelConfigError) as caught:
        CustomChannelConfig.load(data)

    assert "push.body.quantity_field: Field required" in str(caught.value)


@pytest.mark.parametrize(
    ("section", "field", "value", "complaint"),
    [
        ("fulfillment", "path", "/shipments", "must contain {order_id}"),
        ("orders", "id_field", "order..id", "is not a field name or dot path"),
        ("push", "batch_size", 0, "greater than or equal to 1"),
        ("read", "paging", {"style": "offset"}, "does not match any of the expected tags"),
        ("webhook", "encoding", "base32", "'hex' or 'base64'"),
    ],
)
def test_a_wrong_config_value_is_refused_with_where_and_why(
    section: str, field: str, value: Any, complaint: str
) -> None:
    data = example_dict()
    data[section][field] = value

    with pytest.raises(CustomChannelConfigError, match=rf"{section}\.{field}"):
        CustomChannelConfig.load(data)
    with pytest.raises(CustomChannelConfigError, match=complaint):
        CustomChannelConfig.load(data)


def test_compare_and_set_without_a_conflict_status_is_refused() -> None:
    data = example_dict()
    data["push"]["results"]["conflict"] = []

    with pytest.raises(CustomChannelConfigError, match="needs results.conflict"):
        CustomChannelConfig.load(data)


# -- the B2B portal ------------------------------------------------------------------------------


def test_the_connector_implements_the_channel_interface_as_configured(portal: Channel) -> None:
    assert isinstance(portal.connector, ChannelConnector)
    assert (portal.connector.compare_and_set, portal.connector.max_batch) == (True, 50)


def test_pushes_are_split_into_batches_of_the_configured_size(portal: Channel) -> None:
    ids = portal.add_mugs(120)

    results = portal.connector.push_quantities([QuantityPush(i, 7, expected=5) for i in ids])

    assert portal.state.push_sizes == [50, 50, 20]
    assert [r.listing_id for r in results] == ids
    assert {r.status for r in results} == {PushStatus.APPLIED}
    assert {portal.state.quantity_of(i) for i in ids} == {7}


def test_an_unknown_listing_is_rejected_while_the_rest_apply(portal: Channel) -> None:
    [mug] = portal.add_mugs(1)

    results = portal.connector.push_quantities(
        [QuantityPush("L-404", 3), QuantityPush(mug, 4), QuantityPush(mug, -1)]
    )

    assert [r.status for r in results] == [
        PushStatus.REJECTED, PushStatus.APPLIED, PushStatus.REJECTED,
    ]  # fmt: skip
    assert "unknown listing L-404" in results[0].message
    assert "whole number" in results[2].message
    assert portal.state.quantity_of(mug) == 4


def test_read_quantities_pages_through_every_listing(portal: Channel) -> None:
    ids = portal.add_mugs(230, stock=6)

    everything = portal.connector.read_quantities()
    some = portal.connector.read_quantities([ids[0], ids[-1]])

    assert [q.listing_id for q in everything] == ids
    assert everything[0].sku == "TEAL-MUG-350ML-000"
    assert portal.state.calls["GET /api/v2/stock/levels"] == 6
    assert [(q.listing_id, q.quantity) for q in some] == [(ids[0], 6), (ids[-1], 6)]


def test_orders_since_returns_new_orders_and_a_cursor_that_moves_on(portal: Channel) -> None:
    mug, coaster = portal.add_mugs(2)
    order_id = portal.shopper_order((mug, 2), (coaster, 1)).json()["order_number"]

    first = portal.connector.orders_since(None)
    again = portal.connector.orders_since(first.cursor)
    portal.sandbox(f"orders/{order_id}/cancel")
    cancelled = portal.connector.orders_since(first.cursor)

    [order] = first.orders
    assert (order.channel, order.external_id, order.cancelled) == ("b2b-portal", order_id, False)
    assert [(x.listing_id, x.sku, x.quantity) for x in order.lines] == [
        (mug, "TEAL-MUG-350ML-000", 2), (coaster, "TEAL-MUG-350ML-001", 1),
    ]  # fmt: skip
    assert (again.orders, again.cursor, again.more) == ((), first.cursor, False)
    [after] = cancelled.orders
    assert (after.status, after.cancelled, [x.cancelled for x in after.lines]) == (
        "cancelled", True, [2, 1],
    )  # fmt: skip
    assert cancelled.cursor != first.cursor
    assert portal.state.quantity_of(mug) == 5


def test_a_signed_order_webhook_is_accepted_and_parsed(
    portal: Channel, receiver: tuple[str, queue.Queue[Received]]
) -> None:
    url, inbox = receiver
    portal.sandbox("webhook", {"url": url})
    [mug] = portal.add_mugs(1)
    order_id = portal.shopper_order((mug, 1)).json()["order_number"]

    hook = inbox.get(timeout=5)
    [event] = portal.connector.parse_webhook(hook.headers, hook.body)

    assert (event.topic, event.kind) == ("order.placed", EventKind.ORDER_CREATED)
    assert event.event_id.startswith("evt-")
    assert event.order is not None and event.order.external_id == order_id
    assert event.occurred_at is not None


def test_a_webhook_with_a_bad_signature_is_refused_before_its_body_is_read(
    portal: Channel, receiver: tuple[str, queue.Queue[Received]]
) -> None:
    url, inbox = receiver
    portal.sandbox("webhook", {"url": url})
    [mug] = portal.add_mugs(1)
    portal.shopper_order((mug, 1))
    hook = inbox.get(timeout=5)
    tampered = hook.body.replace(b'"qty":1', b'"qty":9')

    with pytest.raises(SignatureError):
        portal.connector.parse_webhook(hook.headers, tampered)
    with pytest.raises(SignatureError):
        portal.connector.parse_webhook({"X-Portal-Signature": "bm90IGl0"}, b"not json at all")
    with pytest.raises(SignatureError):
        portal.connector.parse_webhook({}, hook.body)


def test_a_signed_webhook_whose_order_lacks_configured_fields_is_rejected(portal: Channel) -> None:
    body = json.dumps({"event": {"id": "evt-9", "type": "order.placed"},
                       "data": {"order": {"order_number": "SO-9", "lines": []}}}).encode()  # fmt: skip
    headers = {"X-Portal-Signature": webhook_signature(portal.config.webhook, body)}

    with pytest.raises(ChannelRejectedError, match="does not fit the configured fields"):
        portal.connector.parse_webhook(headers, body)


def test_duplicated_webhooks_share_an_event_id_and_dropped_ones_never_arrive(
    portal: Channel, receiver: tuple[str, queue.Queue[Received]]
) -> None:
    url, inbox = receiver
    portal.sandbox("webhook", {"url": url})
    mug, coaster = portal.add_mugs(2)

    portal.sandbox("faults", {"drop_webhooks": True})
    portal.shopper_order((mug, 1))
    portal.sandbox("faults", {"duplicate_webhooks": True})
    placed = portal.shopper_order((coaster, 1)).json()["order_number"]
    first, second = inbox.get(timeout=5), inbox.get(timeout=5)

    events = [portal.connector.parse_webhook(r.headers, r.body)[0] for r in (first, second)]
    assert events[0].event_id == events[1].event_id
    assert {e.order.external_id for e in events if e.order} == {placed}
    assert outcomes(portal.state, count=3) == ["dropped", 200, 200]
    assert inbox.empty()


def test_a_throttled_push_raises_a_transient_error_with_retry_after(portal: Channel) -> None:
    [mug] = portal.add_mugs(1)
    portal.sandbox("faults", {"throttle_next": 1})

    with pytest.raises(TransientChannelError) as caught:
        portal.connector.push_quantities([QuantityPush(mug, 3)])

    assert (caught.value.status, caught.value.retry_after) == (429, 1.0)
    assert portal.state.quantity_of(mug) == 5


def test_a_5xx_after_an_applied_batch_marks_only_the_rest_retry_later(portal: Channel) -> None:
    ids = portal.add_mugs(60)
    seed = next(s for s in range(1000) if _passes_then_fails(random.Random(s)))
    portal.sandbox("faults", {"error_rate": 0.5, "seed": seed})

    results = portal.connector.push_quantities([QuantityPush(i, 2) for i in ids])

    statuses = [r.status for r in results]
    assert statuses == [PushStatus.APPLIED] * 50 + [PushStatus.RETRY_LATER] * 10
    assert portal.state.push_sizes == [50]


def _passes_then_fails(rng: random.Random) -> bool:
    return rng.random() >= 0.5 and rng.random() < 0.5


def test_bad_credentials_raise_channel_auth_error(portal: Channel) -> None:
    connector = portal.connector_with(auth=AuthConfig(header="Authorization", value="Bearer nope"))

    with pytest.raises(ChannelAuthError) as caught:
        connector.read_quantities()

    assert caught.value.status == 401
    connector.close()


def test_a_batch_larger_than_the_channel_takes_is_rejected_with_its_body(
    portal: Channel,
) -> None:
    ids = portal.add_mugs(60)
    connector = portal.connector_with(
        push=portal.config.push.model_copy(update={"batch_size": 100})
    )

    with pytest.raises(ChannelRejectedError) as caught:
        connector.push_quantities([QuantityPush(i, 1) for i in ids])

    assert caught.value.status == 413
    assert caught.value.body["error"] == "at most 50 items per call"
    connector.close()


def test_an_unreachable_channel_is_a_transient_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = CustomChannelConfig.load(example_dict() | {"base_url": f"http://127.0.0.1:{port}"})
    connector = CustomChannelConnector(config)

    with pytest.raises(TransientChannelError):
        connector.orders_since(None)
    connector.close()


def test_a_fulfillment_and_a_refund_reach_the_channel_and_a_repeated_refund_key_refunds_once(
    portal: Channel,
) -> None:
    [mug] = portal.add_mugs(1, stock=4)
    order = portal.shopper_order((mug, 3)).json()
    line_id = order["lines"][0]["line_id"]
    refund = Refund(order["order_number"], {line_id: 2}, restock=True, key="RMA-7731")

    shipment = portal.connector.create_fulfillment(
        Fulfillment(order["order_number"], {line_id: 1}, "DHL", "JD0140032", "https://t.example")
    )
    credit_notes = {portal.connector.create_refund(refund) for _ in range(2)}

    assert shipment.startswith("F-") and len(credit_notes) == 1
    assert portal.state.fulfillments == [{
        "lines": [{"line_id": line_id, "qty": 1}], "carrier": "DHL",
        "tracking": {"number": "JD0140032", "url": "https://t.example"},
    }]  # fmt: skip
    assert portal.state.quantity_of(mug) == 3


# -- the same code, configured for another API ---------------------------------------------------


def test_the_in_house_shop_pushes_in_batches_of_ten_and_last_write_wins(shop: Channel) -> None:
    ids = shop.add_mugs(25, stock=5)
    shop.shopper_order((ids[0], 1))

    results = shop.connector.push_quantities([QuantityPush(i, 8, expected=5) for i in ids])
    unknown = shop.connector.push_quantities([QuantityPush("L-404", 1)])

    assert shop.connector.compare_and_set is False
    assert shop.state.push_sizes == [10, 10, 5, 1]
    assert shop.state.calls["PUT /inventory"] == 4
    assert {r.status for r in results} == {PushStatus.APPLIED}
    assert shop.state.quantity_of(ids[0]) == 8
    assert (unknown[0].status, unknown[0].message) == (PushStatus.REJECTED, "unknown listing L-404")


def test_the_in_house_shop_reads_by_cursor_and_lists_orders_by_its_own_names(
    shop: Channel,
) -> None:
    ids = shop.add_mugs(25, stock=3)
    order_id = shop.shopper_order((ids[4], 2)).json()["orderId"]
    shop.sandbox(f"orders/{order_id}/cancel")

    quantities = shop.connector.read_quantities()
    page = shop.connector.orders_since(None)

    assert [q.listing_id for q in quantities] == ids
    assert shop.state.calls["GET /inventory"] == 4
    [order] = page.orders
    assert (order.external_id, order.status, order.cancelled) == (order_id, "CANCELLED", True)
    [line] = order.lines
    assert (line.sku, line.listing_id, line.quantity, line.cancelled) == (
        "TEAL-MUG-350ML-004", None, 2, 2,
    )  # fmt: skip
    assert shop.connector.orders_since(page.cursor).orders == ()


def test_the_in_house_shop_signs_webhooks_in_prefixed_hex(
    shop: Channel, receiver: tuple[str, queue.Queue[Received]]
) -> None:
    url, inbox = receiver
    shop.sandbox("webhook", {"url": url})
    [mug] = shop.add_mugs(1)
    order_id = shop.shopper_order((mug, 1)).json()["orderId"]

    hook = inbox.get(timeout=5)
    [event] = shop.connector.parse_webhook(hook.headers, hook.body)

    assert hook.headers["X-Signature-SHA256"].startswith("sha256=")
    assert (event.topic, event.kind) == ("SalesOrderCreated", EventKind.ORDER_CREATED)
    assert event.order is not None and event.order.external_id == order_id
    with pytest.raises(SignatureError):
        shop.connector.parse_webhook({"X-Signature-SHA256": "sha256=00"}, hook.body)


def test_an_endpoint_the_config_leaves_out_is_refused_without_a_call(shop: Channel) -> None:
    with pytest.raises(ChannelRejectedError, match="no fulfillment endpoint"):
        shop.connector.create_fulfillment(Fulfillment("SO-1", {"SO-1-1": 1}, "DHL", "JD01"))

    assert sum(shop.state.calls.values()) == 0
