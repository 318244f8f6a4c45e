"""A customer's cancel on every emulator: the channel restocks its own listing, announces the
cancellation as the real channel does, and the connector reads it as one."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from typing import Any

import pytest

from stocksync.domain.messages import EventKind, InboundEvent
from stocksync.sandbox.harness import KINDS, RunningEmulator, start_emulator
from tests.channels.receiver import Received, webhook_receiver

MUG, COASTER = "TEAL-MUG-350ML", "OAK-COASTER"
TOPIC = {
    "shopify": "orders/cancelled",
    "woocommerce": "order.updated",
    "amazon": "ORDER_CHANGE",
    "custom": "order.cancelled",
}
"""The topic each channel announces a customer's cancel under."""


@pytest.fixture(params=KINDS)
def hooked(
    request: pytest.FixtureRequest,
) -> Iterator[tuple[RunningEmulator, queue.Queue[Received]]]:
    kind = str(request.param)
    limits: dict[str, Any] = {"apply_delay_s": 0.05} if kind == "amazon" else {}
    with webhook_receiver() as (url, inbox):
        with start_emulator(
            kind, f"{kind}-cancel", {MUG: 6, COASTER: 3}, webhook_url=url, **limits
        ) as running:
            yield running, inbox


def cancellation(channel: RunningEmulator, inbox: queue.Queue[Received]) -> InboundEvent:
    """The first delivered event the connector reads as an order cancelled."""
    connector = channel.connector()
    while True:
        delivery = inbox.get(timeout=10)
        for event in connector.parse_webhook(delivery.headers, delivery.body):
            if event.kind is EventKind.ORDER_CANCELLED:
                return event


def test_a_cancelled_order_is_restocked_announced_and_read_as_a_cancellation(hooked) -> None:  # type: ignore[no-untyped-def]
    channel, inbox = hooked
    placed = channel.shopper_order({MUG: 2, COASTER: 1})
    assert placed.accepted and (channel.shown(MUG), channel.shown(COASTER)) == (4, 2)

    assert channel.shopper_cancel(str(placed.order_id)) is True
    event = cancellation(channel, inbox)

    assert (channel.shown(MUG), channel.shown(COASTER)) == (6, 3)
    assert event.topic == TOPIC[channel.kind]
    assert event.order is not None and event.order.external_id == placed.order_id
    assert event.order.cancelled is True
    cancelled = {line.sku or line.listing_id: line.cancelled for line in event.order.lines}
    assert cancelled == {MUG: 2, COASTER: 1}


def test_a_second_cancel_is_refused_and_restocks_nothing_more(hooked) -> None:  # type: ignore[no-untyped-def]
    channel, inbox = hooked
    placed = channel.shopper_order({MUG: 1})
    assert channel.shopper_cancel(str(placed.order_id)) is True
    cancellation(channel, inbox)

    assert channel.shopper_cancel(str(placed.order_id)) is False
    assert channel.shown(MUG) == 6


def test_an_unknown_order_cannot_be_cancelled(hooked) -> None:  # type: ignore[no-untyped-def]
    channel, _ = hooked
    unknown = {"shopify": "4242", "woocommerce": "4242", "amazon": "114-0000000-0000000"}

    assert channel.shopper_cancel(unknown.get(channel.kind, "SO-4242")) is False
