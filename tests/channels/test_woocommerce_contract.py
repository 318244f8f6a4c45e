"""The WooCommerce connector against the emulator, over real loopback HTTP."""

from __future__ import annotations

import queue
import random
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from stocksync.channels.base import ChannelConnector, Fulfillment, PushStatus, QuantityPush, Refund
from stocksync.channels.errors import ChannelAuthError, TransientChannelError
from stocksync.channels.woocommerce import WooCommerceConfig, WooCommerceConnector
from stocksync.domain.messages import EventKind
from stocksync.sandbox.server import serve_in_thread
from stocksync.sandbox.woocommerce import WooState, create_app
from tests.channels.receiver import Received, webhook_receiver

BATCH = "POST /wp-json/wc/v3/products/batch"


class FakeClock:
    """The shop's clock, moved by the test instead of by sleeping."""

    def __init__(self) -> None:
        self.now = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Shop:
    state: WooState
    clock: FakeClock
    base_url: str
    connector: WooCommerceConnector
    stop: Callable[[], None]

    def connector_with(self, **changes: str) -> WooCommerceConnector:
        fields = {"name": "woo", "base_url": self.base_url, "consumer_key": "ck_teal", "consumer_secret": "cs_teal",
                  "webhook_secret": "wh_teal", "timeout_s": 5.0} | changes  # fmt: skip
        return WooCommerceConnector(WooCommerceConfig(**fields))  # type: ignore[arg-type]

    def shopper_order(self, *lines: tuple[int, int, int]) -> httpx.Response:
        body = {"lines": [{"product_id": p, "variation_id": v, "quantity": q} for p, v, q in lines]}
        return httpx.post(f"{self.base_url}/_sandbox/shopper/orders", json=body, timeout=5)


@pytest.fixture
def shop() -> Iterator[Shop]:
    clock = FakeClock()
    state = WooState(
        consumer_key="ck_teal", consumer_secret="cs_teal", webhook_secret="wh_teal", clock=clock
    )
    base_url, stop = serve_in_thread(create_app(state))
    placeholder = Shop(state, clock, base_url, None, stop)  # type: ignore[arg-type]
    connector = placeholder.connector_with()
    yield Shop(state, clock, base_url, connector, stop)
    connector.close()
    stop()


@pytest.fixture
def receiver() -> Iterator[tuple[str, queue.Queue[Received]]]:
    with webhook_receiver() as endpoint:
        yield endpoint


def add_mugs(state: WooState, count: int, stock: int = 5) -> list[int]:
    with state.lock:
        return [state.add_product(f"TEAL-MUG-350ML-{n:03d}", stock).id for n in range(count)]


def set_faults(shop: Shop, **faults: object) -> None:
    httpx.post(f"{shop.base_url}/_sandbox/faults", json=faults, timeout=5).raise_for_status()


def test_the_connector_implements_the_channel_interface(shop: Shop) -> None:
    assert isinstance(shop.connector, ChannelConnector)
    assert (shop.connector.compare_and_set, shop.connector.max_batch) == (False, 100)


def test_pushing_250_quantities_takes_exactly_three_batch_calls(shop: Shop) -> None:
    ids = add_mugs(shop.state, 250)

    results = shop.connector.push_quantities(
        [QuantityPush(str(i), 40 + n % 7) for n, i in enumerate(ids)]
    )

    assert shop.state.calls[BATCH] == 3
    assert {r.status for r in results} == {PushStatus.APPLIED}
    assert [r.listing_id for r in results] == [str(i) for i in ids]
    assert [shop.state.stock_of(i) for i in ids] == [40 + n % 7 for n in range(250)]


def test_variations_are_pushed_through_their_parents_batch_endpoint(shop: Shop) -> None:
    with shop.state.lock:
        tee = shop.state.add_variable_product("RETRO-TEE", {"RETRO-TEE-S": 3, "RETRO-TEE-M": 4})
    small, medium = tee.variations

    results = shop.connector.push_quantities(
        [QuantityPush(f"{tee.id}/{small}", 9), QuantityPush(f"{tee.id}/{medium}", 0)]
    )

    assert [r.status for r in results] == [PushStatus.APPLIED, PushStatus.APPLIED]
    assert shop.state.calls["POST /wp-json/wc/v3/products/{id}/variations/batch"] == 1
    assert (shop.state.stock_of(tee.id, small), shop.state.stock_of(tee.id, medium)) == (9, 0)


def test_read_quantities_pages_through_every_product_and_variation(shop: Shop) -> None:
    ids = add_mugs(shop.state, 230)
    with shop.state.lock:
        tee = shop.state.add_variable_product("RETRO-TEE", {"RETRO-TEE-S": 3, "RETRO-TEE-M": 4})

    found = {q.listing_id: q.quantity for q in shop.connector.read_quantities()}

    assert shop.state.calls["GET /wp-json/wc/v3/products"] == 3
    assert len(found) == 232
    assert all(found[str(i)] == 5 for i in ids)
    assert sorted(v for k, v in found.items() if k.startswith(f"{tee.id}/")) == [3, 4]


def test_orders_since_returns_a_shopper_order_and_advances_the_cursor(shop: Shop) -> None:
    [mug] = add_mugs(shop.state, 1, stock=10)
    empty = shop.connector.orders_since(None)
    placed = shop.shopper_order((mug, 0, 2)).json()

    first = shop.connector.orders_since(empty.cursor)
    shop.clock.advance(60)
    shop.connector.create_refund(
        Refund(str(placed["id"]), {str(placed["line_items"][0]["id"]): 1}, restock=True)
    )
    second = shop.connector.orders_since(first.cursor)

    assert empty.orders == () and empty.cursor is None
    [order] = first.orders
    assert (
        order.external_id,
        order.status,
        order.lines[0].listing_id,
        order.lines[0].quantity,
    ) == (str(placed["id"]), "processing", str(mug), 2)
    assert first.cursor == "2024-05-01T10:00:00"
    [updated] = second.orders
    assert (updated.lines[0].refunded, updated.lines[0].restocked) == (1, 1)
    assert second.cursor == "2024-05-01T10:01:00"
    assert shop.state.stock_of(mug) == 9


def test_a_fulfillment_completes_the_order_and_stores_tracking_as_meta(shop: Shop) -> None:
    [mug] = add_mugs(shop.state, 1)
    placed = shop.shopper_order((mug, 0, 1)).json()

    tracking_id = shop.connector.create_fulfillment(
        Fulfillment(
            str(placed["id"]), {str(placed["line_items"][0]["id"]): 1}, "UPS", "1Z999AA10123456784"
        )
    )

    stored = shop.state.orders[placed["id"]]
    assert stored["status"] == "completed"
    [meta] = [m for m in stored["meta_data"] if m["key"] == "_wc_shipment_tracking_items"]
    assert meta["value"][0]["tracking_number"] == "1Z999AA10123456784"
    assert meta["value"][0]["tracking_id"] == tracking_id


def test_a_throttled_first_batch_raises_a_transient_error_with_retry_after(shop: Shop) -> None:
    [mug] = add_mugs(shop.state, 1)
    set_faults(shop, throttle_next=1)

    with pytest.raises(TransientChannelError) as raised:
        shop.connector.push_quantities([QuantityPush(str(mug), 1)])

    assert (raised.value.status, raised.value.retry_after) == (429, 1.0)
    assert shop.state.stock_of(mug) == 5


def test_a_5xx_after_an_applied_batch_marks_only_the_rest_retry_later(shop: Shop) -> None:
    ids = add_mugs(shop.state, 150)
    # The first draw of this seed lets a call through and the second fails it.
    seed = next(s for s in range(1000) if (r := random.Random(s)).random() >= 0.5 > r.random())
    set_faults(shop, error_rate=0.5, seed=seed)

    results = shop.connector.push_quantities([QuantityPush(str(i), 1) for i in ids])

    assert [r.status for r in results] == [PushStatus.APPLIED] * 100 + [PushStatus.RETRY_LATER] * 50
    assert all("503" in r.message for r in results[100:])
    assert [shop.state.stock_of(i) for i in ids] == [1] * 100 + [5] * 50


def test_bad_credentials_raise_channel_auth_error(shop: Shop) -> None:
    wrong = shop.connector_with(consumer_secret="cs_wrong")

    with pytest.raises(ChannelAuthError) as raised:
        wrong.read_quantities()
    wrong.close()

    assert raised.value.status == 401
    assert raised.value.body["code"] == "woocommerce_rest_authentication_error"


def test_an_unreachable_shop_is_a_transient_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = WooCommerceConfig("woo", f"http://127.0.0.1:{port}", "ck", "cs", "wh", timeout_s=2)
    connector = WooCommerceConnector(config)

    with pytest.raises(TransientChannelError):
        connector.orders_since(None)
    connector.close()


def test_the_order_created_webhook_arrives_signed_for_the_connector(
    shop: Shop, receiver: tuple[str, queue.Queue[Received]]
) -> None:
    url, inbox = receiver
    [mug] = add_mugs(shop.state, 1)
    httpx.post(
        f"{shop.base_url}/_sandbox/webhook", json={"delivery_url": url}, timeout=5
    ).raise_for_status()
    ping = inbox.get(timeout=5)

    placed = shop.shopper_order((mug, 0, 1)).json()
    hook = inbox.get(timeout=5)

    [pinged] = shop.connector.parse_webhook(ping.headers, ping.body)
    [event] = shop.connector.parse_webhook(hook.headers, hook.body)
    assert pinged.kind is EventKind.PING
    assert event.kind is EventKind.ORDER_CREATED
    assert event.order is not None and event.order.external_id == str(placed["id"])
    assert hook.headers["X-WC-Webhook-Topic"] == "order.created"
    assert {"X-WC-Webhook-Source", "X-WC-Webhook-Resource", "X-WC-Webhook-Event", "X-WC-Webhook-ID",
            "X-WC-Webhook-Delivery-ID"} <= set(hook.headers)  # fmt: skip


def test_a_dropped_webhook_never_arrives(
    shop: Shop, receiver: tuple[str, queue.Queue[Received]]
) -> None:
    url, inbox = receiver
    shop.state.webhook.delivery_url = url
    [mug] = add_mugs(shop.state, 1)
    set_faults(shop, drop_webhooks=True)
    lost = shop.shopper_order((mug, 0, 1)).json()
    set_faults(shop)

    kept = shop.shopper_order((mug, 0, 1)).json()
    hook = inbox.get(timeout=5)

    [event] = shop.connector.parse_webhook(hook.headers, hook.body)
    assert event.order is not None and event.order.external_id == str(kept["id"])
    assert inbox.empty()
    assert {
        "topic": "order.created",
        "resource_id": lost["id"],
        "outcome": "dropped",
    } in shop.state.deliveries


def test_duplicate_deliveries_share_an_event_id_and_reordered_ones_arrive_late(
    shop: Shop, receiver: tuple[str, queue.Queue[Received]]
) -> None:
    url, inbox = receiver
    shop.state.webhook.delivery_url = url
    [mug] = add_mugs(shop.state, 1)
    set_faults(shop, duplicate_webhooks=True)
    shop.shopper_order((mug, 0, 1))
    set_faults(shop, reorder_webhooks=True)
    held = shop.shopper_order((mug, 0, 1)).json()
    set_faults(shop)
    overtaking = shop.shopper_order((mug, 0, 1)).json()

    events = [
        shop.connector.parse_webhook(r.headers, r.body)[0]
        for r in (inbox.get(timeout=5) for _ in range(4))
    ]

    assert events[0].event_id == events[1].event_id
    assert [e.order.external_id for e in events[2:]] == [str(overtaking["id"]), str(held["id"])]  # type: ignore[union-attr]


def test_the_webhook_disables_itself_after_the_seventh_failure_in_a_row(shop: Shop) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        shop.state.webhook.delivery_url = f"http://127.0.0.1:{probe.getsockname()[1]}/gone"
    [mug] = add_mugs(shop.state, 1, stock=20)

    for _ in range(8):
        shop.shopper_order((mug, 0, 1))
    shop.stop()

    assert len(shop.state.deliveries) == 7
    assert (shop.state.webhook.status, shop.state.webhook.failure_count) == ("disabled", 6)


def test_two_deliveries_in_one_second_share_a_delivery_id(
    shop: Shop, receiver: tuple[str, queue.Queue[Received]]
) -> None:
    url, inbox = receiver
    shop.state.webhook.delivery_url = url
    [mug] = add_mugs(shop.state, 1)

    shop.shopper_order((mug, 0, 1))
    shop.shopper_order((mug, 0, 1))
    first, second = inbox.get(timeout=5), inbox.get(timeout=5)

    assert first.headers["X-WC-Webhook-Delivery-ID"] == second.headers["X-WC-Webhook-Delivery-ID"]
    assert (
        shop.connector.parse_webhook(first.headers, first.body)[0].event_id
        != shop.connector.parse_webhook(second.headers, second.body)[0].event_id
    )


def test_per_page_above_100_is_refused_like_wordpress(shop: Shop) -> None:
    answer = httpx.get(
        f"{shop.base_url}/wp-json/wc/v3/products",
        params={"per_page": 101},
        auth=("ck_teal", "cs_teal"),
    )

    assert answer.status_code == 400
    assert answer.json()["code"] == "rest_invalid_param"


def test_a_batch_of_more_than_100_objects_is_refused_whole(shop: Shop) -> None:
    ids = add_mugs(shop.state, 101)
    body = {"update": [{"id": i, "stock_quantity": 0} for i in ids]}

    answer = httpx.post(
        f"{shop.base_url}/wp-json/wc/v3/products/batch", json=body, auth=("ck_teal", "cs_teal")
    )

    assert answer.status_code == 413
    assert answer.json()["code"] == "woocommerce_rest_request_entity_too_large"
    assert shop.state.stock_of(ids[0]) == 5
