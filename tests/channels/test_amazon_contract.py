"""The Amazon connector against the SP-API emulator, over real loopback HTTP."""

from __future__ import annotations

import queue
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from stocksync.channels.amazon import SECRET_HEADER, AmazonConfig, AmazonConnector
from stocksync.channels.base import ChannelConnector, Fulfillment, PushStatus, QuantityPush
from stocksync.channels.errors import ChannelAuthError
from stocksync.domain.messages import EventKind
from stocksync.sandbox.amazon import AmazonState, create_app
from stocksync.sandbox.server import serve_in_thread
from tests.channels.receiver import Received, webhook_receiver

RELAY_SECRET = "relay-secret-teal-mugs"
MARKETPLACE = "ATVPDKIKX0DER"


class FakeClock:
    """Amazon's wall clock, moved by the test instead of by sleeping."""

    def __init__(self) -> None:
        self.now = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Seller:
    state: AmazonState
    clock: FakeClock
    base_url: str
    connector: AmazonConnector
    stop: Callable[[], None]

    def connector_with(self, **changes: Any) -> AmazonConnector:
        state = self.state
        fields: dict[str, Any] = {"name": "amazon-us", "endpoint": self.base_url, "token_url": f"{self.base_url}/auth/o2/token",
                  "client_id": state.client_id, "client_secret": state.client_secret,
                  "refresh_token": state.refresh_token, "seller_id": state.seller_id,
                  "marketplace_id": MARKETPLACE, "notification_secret": RELAY_SECRET, "timeout_s": 5.0} | changes  # fmt: skip
        return AmazonConnector(AmazonConfig(**fields))

    def shopper_order(self, *lines: tuple[str, int], status: str = "Unshipped") -> httpx.Response:
        body = {"lines": [{"sku": s, "quantity": q} for s, q in lines], "status": status}
        return httpx.post(f"{self.base_url}/_sandbox/shopper/orders", json=body, timeout=5)

    def sandbox(self, path: str, body: dict[str, Any]) -> None:
        httpx.post(f"{self.base_url}/_sandbox/{path}", json=body, timeout=5).raise_for_status()

    def access_token(self) -> str:
        state = self.state
        form = {"grant_type": "refresh_token", "refresh_token": state.refresh_token,
                "client_id": state.client_id, "client_secret": state.client_secret}  # fmt: skip
        return str(httpx.post(f"{self.base_url}/auth/o2/token", data=form).json()["access_token"])

    def get_orders(self, **params: str) -> httpx.Response:
        headers = {"x-amz-access-token": self.access_token()}
        return httpx.get(f"{self.base_url}/orders/v0/orders", params={"MarketplaceIds": MARKETPLACE, **params},
                         headers=headers)  # fmt: skip


@pytest.fixture
def seller() -> Iterator[Seller]:
    clock = FakeClock()
    state = AmazonState(clock=clock, apply_delay_s=0.3)
    base_url, stop = serve_in_thread(create_app(state))
    placeholder = Seller(state, clock, base_url, None, stop)  # type: ignore[arg-type]
    connector = placeholder.connector_with()
    yield Seller(state, clock, base_url, connector, stop)
    connector.close()
    stop()


@pytest.fixture
def relay() -> Iterator[tuple[str, queue.Queue[Received]]]:
    with webhook_receiver() as endpoint:
        yield endpoint


def add_mugs(state: AmazonState, count: int, quantity: int = 5) -> list[str]:
    return [state.add_listing(f"TEAL-MUG-350ML-{n:03d}", quantity).sku for n in range(count)]


def test_the_connector_implements_the_channel_interface(seller: Seller) -> None:
    assert isinstance(seller.connector, ChannelConnector)
    assert seller.connector.compare_and_set is False


def test_an_accepted_patch_goes_live_only_after_the_delay(seller: Seller) -> None:
    [mug] = add_mugs(seller.state, 1, quantity=5)

    [result] = seller.connector.push_quantities([QuantityPush(mug, 12, sku=mug)])
    [before] = seller.connector.read_quantities([mug])
    seller.clock.advance(0.2)
    [still] = seller.connector.read_quantities([mug])
    seller.clock.advance(0.2)
    [after] = seller.connector.read_quantities([mug])

    assert result.status is PushStatus.APPLIED and "live within minutes" in result.message
    assert (before.quantity, still.quantity, after.quantity) == (5, 5, 12)


def test_a_shopper_can_still_buy_the_old_quantity_before_the_patch_goes_live(
    seller: Seller,
) -> None:
    [mug] = add_mugs(seller.state, 1, quantity=3)

    seller.connector.push_quantities([QuantityPush(mug, 0)])
    bought = seller.shopper_order((mug, 2))
    seller.clock.advance(1)

    assert bought.status_code == 201
    assert seller.state.quantity_of(mug) == 0
    assert seller.shopper_order((mug, 1)).status_code == 409


def test_a_429_is_paced_not_failed(seller: Seller) -> None:
    mugs = add_mugs(seller.state, 8)
    seller.state.rate_plans["patchListingsItem"] = (10.0, 1)

    results = seller.connector.push_quantities(
        [QuantityPush(m, 20 + n) for n, m in enumerate(mugs)]
    )

    assert [r.status for r in results] == [PushStatus.APPLIED] * 8
    assert (
        seller.state.calls["patchListingsItem"] == 8 + seller.state.throttled["patchListingsItem"]
    )
    assert seller.state.throttled["patchListingsItem"] == seller.connector.throttle_retries >= 1
    seller.clock.advance(1)
    assert [seller.state.quantity_of(m) for m in mugs] == [20 + n for n in range(8)]


def test_throttling_beyond_the_retry_bound_is_retry_later_with_a_wait(seller: Seller) -> None:
    mug, clock = add_mugs(seller.state, 2)
    connector = seller.connector_with(max_throttle_retries=2)
    seller.sandbox("faults", {"throttle_next": 3})

    first, second = connector.push_quantities([QuantityPush(mug, 1), QuantityPush(clock, 2)])
    connector.close()

    assert first.status is PushStatus.RETRY_LATER and first.retry_after == pytest.approx(0.2)
    assert "QuotaExceeded" in first.message
    assert second.status is PushStatus.APPLIED
    assert seller.state.throttled["patchListingsItem"] == 3


def test_a_5xx_leaves_that_sku_retry_later(seller: Seller) -> None:
    [mug] = add_mugs(seller.state, 1)
    seller.sandbox("faults", {"error_rate": 1.0})

    [result] = seller.connector.push_quantities([QuantityPush(mug, 9)])

    assert result.status is PushStatus.RETRY_LATER and "503" in result.message


def test_an_unknown_sku_or_a_negative_quantity_is_rejected_with_amazons_issue(
    seller: Seller,
) -> None:
    [mug] = add_mugs(seller.state, 1)

    unknown, negative = seller.connector.push_quantities(
        [QuantityPush("RETRO-CLOCK", 1), QuantityPush(mug, -1)]
    )

    assert unknown.status is PushStatus.REJECTED and "RETRO-CLOCK" in unknown.message
    assert negative.status is PushStatus.REJECTED and "0 or more" in negative.message
    assert seller.connector.read_quantities(["RETRO-CLOCK", mug])[0].quantity == 5


def test_an_expired_lwa_token_is_refreshed_transparently(seller: Seller) -> None:
    [mug] = add_mugs(seller.state, 1)
    seller.connector.read_quantities([mug])
    [old_token] = seller.state.tokens
    seller.clock.advance(3601)

    [seen] = seller.connector.read_quantities([mug])
    stale = httpx.get(f"{seller.base_url}/listings/2021-08-01/items/{seller.state.seller_id}/{mug}",
                      params={"marketplaceIds": MARKETPLACE}, headers={"x-amz-access-token": old_token})  # fmt: skip

    assert seen.quantity == 5
    assert len(seller.state.tokens) == 2
    assert stale.status_code == 403
    assert stale.json()["errors"][0]["code"] == "Unauthorized"


def test_a_refused_refresh_token_raises_channel_auth_error(seller: Seller) -> None:
    wrong = seller.connector_with(refresh_token="Atzr|revoked")

    with pytest.raises(ChannelAuthError, match="invalid_grant"):
        wrong.read_quantities(["TEAL-MUG-350ML"])
    wrong.close()


def test_get_orders_needs_exactly_one_after(seller: Seller) -> None:
    neither = seller.get_orders()
    both = seller.get_orders(
        CreatedAfter="2024-04-01T00:00:00Z", LastUpdatedAfter="2024-04-01T00:00:00Z"
    )

    assert (neither.status_code, both.status_code) == (400, 400)
    assert neither.json()["errors"][0]["code"] == "InvalidInput"


def test_get_orders_refuses_a_before_less_than_two_minutes_ago_and_pages_over_100(
    seller: Seller,
) -> None:
    too_recent = seller.get_orders(
        LastUpdatedAfter="2024-05-01T09:00:00Z", LastUpdatedBefore="2024-05-01T09:59:00Z"
    )
    fine = seller.get_orders(
        LastUpdatedAfter="2024-05-01T09:00:00Z", LastUpdatedBefore="2024-05-01T09:58:00Z"
    )
    too_big = seller.get_orders(LastUpdatedAfter="2024-05-01T09:00:00Z", MaxResultsPerPage="101")

    assert (
        too_recent.status_code == 400 and "two minutes" in too_recent.json()["errors"][0]["message"]
    )
    assert fine.status_code == 200 and fine.headers["x-amzn-RateLimit-Limit"] == "0.0167"
    assert too_big.status_code == 400


def test_orders_since_respects_the_two_minute_rule_and_moves_the_cursor(seller: Seller) -> None:
    [mug] = add_mugs(seller.state, 1, quantity=10)
    placed = seller.shopper_order((mug, 2)).json()

    early = seller.connector.orders_since("2024-05-01T09:00:00Z")
    seller.clock.advance(121)
    later = seller.connector.orders_since(early.cursor)

    assert early.orders == () and early.cursor == "2024-05-01T09:58:00Z"
    [order] = later.orders
    assert (order.external_id, order.status, order.cancelled) == (
        placed["AmazonOrderId"],
        "Unshipped",
        False,
    )
    [line] = order.lines
    assert (line.external_line_id, line.sku, line.listing_id, line.quantity) == (
        placed["OrderItems"][0]["OrderItemId"], mug, mug, 2)  # fmt: skip
    assert later.cursor == "2024-05-01T10:00:01Z"


def test_orders_since_pages_with_next_token(seller: Seller) -> None:
    mugs = add_mugs(seller.state, 5, quantity=3)
    placed = [seller.shopper_order((m, 1)).json()["AmazonOrderId"] for m in mugs]
    seller.clock.advance(180)
    connector = seller.connector_with(orders_page_size=2)

    page = connector.orders_since(None)
    connector.close()

    assert [o.external_id for o in page.orders] == placed
    assert seller.state.calls["getOrders"] == 3
    assert seller.state.calls["getOrderItems"] == 5


def test_pending_orders_keep_their_status_and_canceled_ones_are_cancelled(seller: Seller) -> None:
    mug, clock = add_mugs(seller.state, 2, quantity=4)
    pending = seller.shopper_order((mug, 1), status="Pending").json()["AmazonOrderId"]
    cancelled = seller.shopper_order((clock, 3)).json()["AmazonOrderId"]
    seller.sandbox(f"shopper/orders/{cancelled}/cancel", {})
    seller.clock.advance(180)

    orders = {
        o.external_id: o for o in seller.connector.orders_since("2024-05-01T09:00:00Z").orders
    }

    assert (orders[pending].status, orders[pending].cancelled) == ("Pending", False)
    assert (orders[cancelled].status, orders[cancelled].cancelled) == ("Canceled", True)
    assert orders[cancelled].lines[0].cancelled == 3
    assert seller.state.quantity_of(clock) == 4


def test_a_fulfillment_confirms_the_shipment(seller: Seller) -> None:
    [mug] = add_mugs(seller.state, 1)
    placed = seller.shopper_order((mug, 2)).json()
    item_id = placed["OrderItems"][0]["OrderItemId"]

    package = seller.connector.create_fulfillment(
        Fulfillment(placed["AmazonOrderId"], {item_id: 2}, "UPS", "1Z999AA10123456784")
    )

    [shipment] = seller.state.shipments
    assert shipment["packageReferenceId"] == package and package.isdigit()
    assert shipment["trackingNumber"] == "1Z999AA10123456784"
    assert seller.state.orders[placed["AmazonOrderId"]]["OrderStatus"] == "Shipped"


def test_a_shopper_order_sends_an_order_change_the_connector_parses(
    seller: Seller, relay: tuple[str, queue.Queue[Received]]
) -> None:
    url, inbox = relay
    seller.sandbox("notifications", {"url": url, "secret": RELAY_SECRET})
    [mug] = add_mugs(seller.state, 1)

    placed = seller.shopper_order((mug, 1)).json()
    message = inbox.get(timeout=5)

    [event] = seller.connector.parse_webhook(message.headers, message.body)
    assert message.headers[SECRET_HEADER] == RELAY_SECRET
    assert event.kind is EventKind.ORDER_UPDATED
    assert event.order is not None and event.order.external_id == placed["AmazonOrderId"]
    assert [(ln.sku, ln.quantity) for ln in event.order.lines] == [(mug, 1)]


def test_an_eventbridge_cancellation_is_an_order_cancelled_event(
    seller: Seller, relay: tuple[str, queue.Queue[Received]]
) -> None:
    url, inbox = relay
    seller.sandbox("notifications", {"url": url, "secret": RELAY_SECRET, "form": "eventbridge"})
    [mug] = add_mugs(seller.state, 1)
    placed = seller.shopper_order((mug, 1)).json()["AmazonOrderId"]

    seller.sandbox(f"shopper/orders/{placed}/cancel", {})
    created, cancelled = inbox.get(timeout=5), inbox.get(timeout=5)

    assert "detail" in httpx.Response(200, content=cancelled.body).json()
    [event] = seller.connector.parse_webhook(cancelled.headers, cancelled.body)
    assert event.kind is EventKind.ORDER_CANCELLED
    assert (
        event.event_id != seller.connector.parse_webhook(created.headers, created.body)[0].event_id
    )


def test_duplicate_notifications_keep_the_same_event_id_and_dropped_ones_never_arrive(
    seller: Seller, relay: tuple[str, queue.Queue[Received]]
) -> None:
    url, inbox = relay
    seller.sandbox("notifications", {"url": url, "secret": RELAY_SECRET})
    mug, clock = add_mugs(seller.state, 2)
    seller.sandbox("faults", {"drop_notifications": True})
    seller.shopper_order((mug, 1))
    seller.sandbox("faults", {"duplicate_notifications": True})
    seller.shopper_order((clock, 1))

    first, second = inbox.get(timeout=5), inbox.get(timeout=5)

    [one] = seller.connector.parse_webhook(first.headers, first.body)
    [two] = seller.connector.parse_webhook(second.headers, second.body)
    assert one.event_id == two.event_id
    assert one.order is not None and one.order.lines[0].sku == clock
    assert inbox.empty()
    assert seller.state.deliveries[0]["outcome"] == "dropped"


def test_reordered_notifications_arrive_late_and_order_by_event_time(
    seller: Seller, relay: tuple[str, queue.Queue[Received]]
) -> None:
    url, inbox = relay
    seller.sandbox("notifications", {"url": url, "secret": RELAY_SECRET})
    mug, clock = add_mugs(seller.state, 2)
    seller.sandbox("faults", {"reorder_notifications": True})
    held = seller.shopper_order((mug, 1)).json()["AmazonOrderId"]
    seller.sandbox("faults", {})
    seller.clock.advance(5)
    overtaking = seller.shopper_order((clock, 1)).json()["AmazonOrderId"]

    events = [
        seller.connector.parse_webhook(r.headers, r.body)[0]
        for r in (inbox.get(timeout=5) for _ in range(2))
    ]

    assert [e.order.external_id for e in events] == [overtaking, held]  # type: ignore[union-attr]
    assert events[0].occurred_at > events[1].occurred_at  # type: ignore[operator]


def fast_forward(seller: Seller) -> Callable[[float], None]:
    """The connector's sleep: Amazon's clock jumps ahead while the test barely waits."""

    def sleep(seconds: float) -> None:
        seller.clock.advance(seconds)
        time.sleep(min(seconds, 0.02))

    return sleep


def test_a_large_push_goes_through_a_json_listings_feed_and_its_report(seller: Seller) -> None:
    mugs = add_mugs(seller.state, 30)
    config = seller.connector_with().config
    connector = AmazonConnector(
        replace(config, feed_threshold=20, feed_poll_s=0.4), sleep=fast_forward(seller)
    )
    pushes = [QuantityPush(m, n) for n, m in enumerate(mugs)] + [QuantityPush("RETRO-CLOCK", 3)]

    results = connector.push_quantities(pushes)
    connector.close()

    assert [r.status for r in results] == [PushStatus.APPLIED] * 30 + [PushStatus.REJECTED]
    assert "RETRO-CLOCK" in results[-1].message
    assert seller.state.calls["patchListingsItem"] == 0
    assert seller.state.calls["getFeed"] >= 3
    assert [seller.state.quantity_of(m) for m in mugs] == list(range(30))


def test_a_feed_that_outlasts_the_timeout_leaves_every_push_retry_later(seller: Seller) -> None:
    [mug] = add_mugs(seller.state, 1)
    seller.state.feed_processing_s = 3600
    config = replace(
        seller.connector_with().config, feed_threshold=1, feed_poll_s=1, feed_timeout_s=2
    )
    connector = AmazonConnector(config, sleep=fast_forward(seller))

    [result] = connector.push_quantities([QuantityPush(mug, 9)])
    connector.close()

    assert result.status is PushStatus.RETRY_LATER and "IN_QUEUE" in result.message


def test_reading_every_quantity_uses_the_merchant_listings_report(seller: Seller) -> None:
    mugs = add_mugs(seller.state, 3, quantity=4)
    connector = AmazonConnector(
        replace(seller.connector_with().config, feed_poll_s=0.4), sleep=fast_forward(seller)
    )

    found = connector.read_quantities()
    connector.close()

    assert {(q.listing_id, q.sku, q.quantity) for q in found} == {(m, m, 4) for m in mugs}
    assert (seller.state.calls["createReport"], seller.state.calls["getReportDocument"]) == (1, 1)
