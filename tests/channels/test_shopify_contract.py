"""The Shopify connector against the emulator, over real loopback HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from stocksync.channels.base import Fulfillment, PushStatus, QuantityPush, Refund
from stocksync.channels.errors import ChannelAuthError, TransientChannelError
from stocksync.channels.shopify import ShopifyConfig, ShopifyConnector
from stocksync.domain.messages import EventKind
from stocksync.sandbox.server import serve_in_thread
from stocksync.sandbox.shopify import (
    DEFAULT_LOCATION,
    INVENTORY_WRITES,
    ShopifyState,
    create_app,
    execute,
)

MUG = "TEAL-MUG-350ML"


@dataclass
class Shop:
    state: ShopifyState
    base_url: str
    opened: list[ShopifyConnector] = field(default_factory=list)

    def connector(self, **changes: Any) -> ShopifyConnector:
        fields = {"name": "shopify-main", "shop_url": self.base_url, "access_token": self.state.access_token,
                  "webhook_secret": self.state.app_secret, "timeout_s": 5.0} | changes  # fmt: skip
        conn = ShopifyConnector(ShopifyConfig(**fields))
        self.opened.append(conn)
        return conn

    def shopper_order(self, item: str, quantity: int) -> httpx.Response:
        body = {
            "lines": [{"inventory_item_id": item, "quantity": quantity}],
            "location_id": DEFAULT_LOCATION,
        }
        return httpx.post(f"{self.base_url}/_sandbox/shopper/orders", json=body, timeout=5.0)

    def mutations(self) -> list[int]:
        return [c.size for c in self.state.calls if c.operation in INVENTORY_WRITES]

    def operations(self) -> list[str]:
        return [c.operation for c in self.state.calls]


@contextmanager
def serve_shop(state: ShopifyState) -> Iterator[Shop]:
    """The emulator over ``state`` on a loopback port; connectors opened on it close with it."""
    base_url, stop = serve_in_thread(create_app(state))
    shop = Shop(state, base_url)
    try:
        yield shop
    finally:
        for conn in shop.opened:
            conn.close()
        stop()


@pytest.fixture
def shop() -> Iterator[Shop]:
    with serve_shop(ShopifyState()) as running:
        yield running


@pytest.fixture
def inbox() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    """A webhook receiver: its URL and what it received (headers, raw body)."""
    received: list[tuple[dict[str, str], bytes]] = []

    async def receive(request: Request) -> Response:
        received.append((dict(request.headers), await request.body()))
        return Response(status_code=200)

    base_url, stop = serve_in_thread(Starlette(routes=[Route("/hooks", receive, methods=["POST"])]))
    yield f"{base_url}/hooks", received
    stop()


def wait_until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def stock_many(state: ShopifyState, count: int, available: int = 5) -> list[str]:
    return [state.stock(f"OAK-COASTER-{n:04d}", available) for n in range(count)]


def test_six_hundred_quantities_go_out_in_three_calls_of_at_most_250_and_all_apply(shop):
    items = stock_many(shop.state, 600)
    results = shop.connector().push_quantities([QuantityPush(i, 9, expected=5) for i in items])
    assert {r.status for r in results} == {PushStatus.APPLIED}
    assert shop.mutations() == [250, 250, 100]
    assert all(shop.state.available(i) == 9 for i in items)


def test_pushes_are_paced_to_a_small_cost_bucket_and_never_throttled():
    with serve_shop(ShopifyState(bucket_size=300, restore_rate=2000)) as shop:
        items = stock_many(shop.state, 600)
        started = time.monotonic()
        results = shop.connector().push_quantities([QuantityPush(i, 7) for i in items])
        assert {r.status for r in results} == {PushStatus.APPLIED}
        assert not [c for c in shop.state.calls if c.throttled]
        # 260 + 260 + 110 points from a 300-point bucket: 330 points must be restored first
        assert time.monotonic() - started >= 330 / 2000


def test_a_throttled_call_is_waited_out_and_retried_inside_the_connector():
    with serve_shop(ShopifyState(bucket_size=300, restore_rate=100)) as shop:
        items = stock_many(shop.state, 20)
        shop.state.bucket.take(300)  # empty: the 30-point call needs 0.3 s of restore
        results = shop.connector().push_quantities([QuantityPush(i, 4, expected=5) for i in items])
        assert {r.status for r in results} == {PushStatus.APPLIED}
        assert [c.throttled for c in shop.state.calls] == [True, False]
        assert shop.state.available(items[0]) == 4


def test_the_emulator_replays_a_repeated_idempotency_key_without_applying_twice(shop):
    mug = shop.state.stock(MUG, 5)
    mutation = (
        "mutation SetQuantities($input: InventorySetQuantitiesInput!, $idempotencyKey: String!) "
        "{ inventorySetQuantities(input: $input) @idempotent(key: $idempotencyKey) "
        "{ userErrors { field message code } } }"
    )
    variables = {
        "input": {"name": "available", "reason": "correction",
                  "quantities": [{"inventoryItemId": mug, "locationId": DEFAULT_LOCATION,
                                  "quantity": 8, "changeFromQuantity": 5}]},
        "idempotencyKey": "7f1c0a2e-retry-of-one-call",
    }  # fmt: skip

    def send() -> httpx.Response:
        return httpx.post(
            f"{shop.base_url}/admin/api/2026-01/graphql.json",
            json={"query": mutation, "variables": variables},
            headers={"X-Shopify-Access-Token": shop.state.access_token},
            timeout=5.0,
        )

    first = send()
    assert shop.shopper_order(mug, 1).status_code == 201
    replay = send()

    assert replay.json()["data"] == first.json()["data"]
    assert shop.state.available(mug) == 7
    assert len(shop.state.idempotency) == 1


@pytest.mark.parametrize("delta", [True, False], ids=["delta", "set"])
def test_pushing_the_same_quantities_again_later_is_a_new_call_not_a_replay(shop, delta):
    mug = shop.state.stock(MUG, 5)
    conn = shop.connector()
    push = [QuantityPush(mug, 8, expected=5, rebase=delta)]
    assert conn.push_quantities(push)[0].status is PushStatus.APPLIED
    assert shop.shopper_order(mug, 1).status_code == 201

    again = conn.push_quantities(push)

    if delta:  # +3 again, on a count 2 above the 5 it was told: the conflict names what it left
        assert (again[0].status, again[0].quantity_seen) == (PushStatus.CONFLICT, 10)
        assert shop.state.available(mug) == 10
    else:
        assert (again[0].status, again[0].quantity_seen) == (PushStatus.CONFLICT, 7)
        assert shop.state.available(mug) == 7


def test_a_known_count_goes_as_a_delta_and_a_first_or_a_persons_push_as_a_set(shop):
    mug, coaster, lamp = (shop.state.stock(s, 5) for s in (MUG, "OAK-COASTER", "BRASS-LAMP"))
    conn = shop.connector()

    results = conn.push_quantities([
        QuantityPush(mug, 8, expected=5),
        QuantityPush(coaster, 2),
        QuantityPush(lamp, 3, expected=5, rebase=False),
    ])  # fmt: skip

    assert {r.status for r in results} == {PushStatus.APPLIED}
    assert shop.operations() == ["inventorySetQuantities", "inventoryAdjustQuantities"]
    assert shop.mutations() == [2, 1]
    assert [shop.state.available(i) for i in (mug, coaster, lamp)] == [8, 2, 3]


def test_a_delta_that_meets_unheard_sales_reports_the_count_it_met_and_the_one_it_left(shop):
    mug = shop.state.stock(MUG, 5)
    assert shop.shopper_order(mug, 2).status_code == 201  # 3 left; we still expect 5

    [result] = shop.connector().push_quantities([QuantityPush(mug, 4, expected=5)])

    assert (result.status, result.quantity_seen, result.applied_quantity) == (
        PushStatus.APPLIED, 3, 2,
    )  # fmt: skip
    assert shop.state.available(mug) == 2
    assert shop.operations() == ["inventoryAdjustQuantities"]


def test_with_delta_pushes_off_every_push_is_a_compare_and_set(shop):
    mug = shop.state.stock(MUG, 5)
    [result] = shop.connector(delta_pushes=False).push_quantities([QuantityPush(mug, 8, 5)])
    assert result.status is PushStatus.APPLIED
    assert shop.operations() == ["inventorySetQuantities"]


def test_read_quantities_pages_through_every_level_at_the_location(shop):
    items = stock_many(shop.state, 260, available=3)
    quantities = shop.connector().read_quantities()
    assert [q.listing_id for q in quantities] == items
    assert {q.quantity for q in quantities} == {3}
    assert quantities[0].sku == "OAK-COASTER-0000"
    assert [c.operation for c in shop.state.calls] == ["location", "location"]


def test_orders_since_returns_a_shopper_order_with_its_64_bit_ids(shop):
    mug = shop.state.stock(MUG, 5)
    first = shop.shopper_order(mug, 2).json()
    conn = shop.connector()

    page = conn.orders_since(None)
    [order] = page.orders
    assert order.external_id == str(first["id"]) and int(order.external_id) > 2**53
    assert [(ln.sku, ln.quantity, ln.external_line_id) for ln in order.lines] == [
        (MUG, 2, str(first["line_items"][0]["id"]))
    ]
    second = shop.shopper_order(mug, 1).json()
    later = conn.orders_since(page.cursor)
    assert str(second["id"]) in {o.external_id for o in later.orders}


def test_a_signed_webhook_from_the_emulator_is_accepted_by_parse_webhook(shop, inbox):
    url, received = inbox
    shop.state.webhook_url = url
    mug = shop.state.stock(MUG, 5)
    shop.shopper_order(mug, 2)
    wait_until(lambda: len(received) == 2)

    conn = shop.connector()
    events = [e for headers, body in received for e in conn.parse_webhook(headers, body)]
    assert [e.kind for e in events] == [EventKind.ORDER_CREATED, EventKind.INVENTORY]
    assert events[1].quantity is not None and events[1].quantity.quantity == 3


def test_our_own_push_echoes_back_as_an_inventory_webhook(shop, inbox):
    url, received = inbox
    shop.state.webhook_url = url
    mug = shop.state.stock(MUG, 5)
    conn = shop.connector()
    conn.push_quantities([QuantityPush(mug, 11, expected=5)])
    wait_until(lambda: len(received) == 1)
    [event] = conn.parse_webhook(*received[0])
    assert event.quantity is not None
    assert (event.quantity.listing_id, event.quantity.quantity) == (mug, 11)


def test_a_duplicated_webhook_keeps_its_event_id(shop, inbox):
    url, received = inbox
    shop.state.webhook_url = url
    shop.state.faults.duplicate_webhooks = True
    mug = shop.state.stock(MUG, 5)
    shop.connector().push_quantities([QuantityPush(mug, 4)])
    wait_until(lambda: len(received) == 2)
    assert received[0][1] == received[1][1]
    assert received[0][0]["x-shopify-event-id"] == received[1][0]["x-shopify-event-id"]


def test_a_fulfilment_and_a_restocking_refund_go_through(shop):
    mug = shop.state.stock(MUG, 5)
    order = shop.shopper_order(mug, 2).json()
    line_id = str(order["line_items"][0]["id"])
    conn = shop.connector()

    fulfilment = conn.create_fulfillment(
        Fulfillment(str(order["id"]), {line_id: 2}, "DHL", "JD0146000000")
    )
    refund = conn.create_refund(
        Refund(str(order["id"]), {line_id: 1}, restock=True, reason="chipped")
    )

    assert fulfilment.startswith("gid://shopify/Fulfillment/")
    assert refund.startswith("gid://shopify/Refund/")
    assert shop.state.available(mug) == 4
    [seen] = conn.orders_since(None).orders
    assert (seen.lines[0].refunded, seen.lines[0].restocked) == (1, 1)


def test_a_wrong_access_token_raises_channel_auth_error(shop):
    with pytest.raises(ChannelAuthError):
        shop.connector(access_token="shpat_revoked").read_quantities()


def test_a_server_error_raises_transient_channel_error(shop):
    httpx.post(f"{shop.base_url}/_sandbox/faults", json={"error_rate": 1.0}, timeout=5.0)
    with pytest.raises(TransientChannelError) as caught:
        shop.connector().push_quantities([QuantityPush(shop.state.stock(MUG, 5), 4)])
    assert caught.value.status == 503


def test_a_call_that_outlasts_the_timeout_raises_transient_channel_error(shop):
    shop.state.faults.timeout_rate, shop.state.faults.hang_s = 1.0, 0.5
    with pytest.raises(TransientChannelError):
        shop.connector(timeout_s=0.1).read_quantities()


def test_a_delta_whose_answer_was_lost_goes_again_under_its_key_and_lands_once(shop):
    mug = shop.state.stock(MUG, 5)
    shop.state.faults.lost_answers = 1

    [result] = shop.connector().push_quantities([QuantityPush(mug, 2, expected=5)])

    assert result.status is PushStatus.APPLIED
    assert shop.state.available(mug) == 2
    assert shop.operations() == ["inventoryAdjustQuantities", "inventoryAdjustQuantities"]
    assert len(shop.state.idempotency) == 1


def test_a_delta_whose_answers_keep_getting_lost_is_transient_and_landed_at_most_once(shop):
    mug = shop.state.stock(MUG, 5)
    shop.state.faults.lost_answers = 2

    with pytest.raises(TransientChannelError):
        shop.connector().push_quantities([QuantityPush(mug, 2, expected=5)])

    assert shop.state.available(mug) == 2
    assert len(shop.state.idempotency) == 1


def test_a_landed_delta_is_never_followed_by_an_error_that_would_send_it_again():
    """The answer leaves out the count, and reading it back fails: the delta is reported
    applied (what it met is unknown) rather than raising, so no caller sends it again."""
    calls: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        query = json.loads(request.content)["query"]
        calls.append("adjust" if "inventoryAdjustQuantities" in query else "read")
        if "inventoryAdjustQuantities" in query:
            change = {"name": "available", "delta": -2, "quantityAfterChange": None}
            data = {"inventoryAdjustQuantities": {
                "inventoryAdjustmentGroup": {"id": "gid://shopify/InventoryAdjustmentGroup/1",
                                             "changes": [change]},
                "userErrors": []}}  # fmt: skip
            return httpx.Response(200, json={"data": data})
        return httpx.Response(200, json={"errors": [{"message": "Internal error"}]})

    config = ShopifyConfig(
        "shopify-main", "https://shop.example", "token", location_id=DEFAULT_LOCATION
    )
    connector = ShopifyConnector(config, transport=httpx.MockTransport(answer))
    item = "gid://shopify/InventoryItem/1"

    [result] = connector.push_quantities([QuantityPush(item, 3, expected=5)])

    assert (result.status, result.quantity_seen, result.applied_quantity) == (
        PushStatus.APPLIED, None, None,
    )  # fmt: skip
    assert calls == ["adjust", "read"]


def test_after_a_lost_answer_a_refused_replay_is_an_unknown_outcome_not_a_refusal():
    """The first attempt ran but its answer was lost; the replay under the same key gets a
    top-level error. Reported as a refusal, the drain would split the call and send the delta
    again under new keys; it is an unknown outcome (transient), so it is never sent again."""
    state = ShopifyState()
    mug = state.stock(MUG, 10)
    answers: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        status, out = execute(state, "2026-01", body["query"], body.get("variables") or {})
        answers.append("lost" if not answers else "error")
        if answers[-1] == "lost":
            raise httpx.ReadTimeout("answer lost", request=request)
        return httpx.Response(200, json={"errors": [{"message": "Internal error"}]})

    config = ShopifyConfig(
        "shopify-main", "https://shop.example", state.access_token, location_id=DEFAULT_LOCATION
    )
    connector = ShopifyConnector(
        config, transport=httpx.MockTransport(answer), sleep=lambda s: None
    )

    with pytest.raises(TransientChannelError, match="outcome unknown"):
        connector.push_quantities([QuantityPush(mug, 7, expected=10)])

    assert state.available(mug) == 7
    assert answers == ["lost", "error"]
