"""Slow and failing channels under the uniform fault names, on every emulator: latency jitter,
late webhooks that hold back neither the shopper nor each other, and an outage that ends."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from typing import Any

import pytest

from stocksync.channels.base import ChannelConnector
from stocksync.channels.errors import TransientChannelError
from stocksync.sandbox.adversity import fault_rng, webhook_delay_s
from stocksync.sandbox.harness import KINDS, RunningEmulator, start_emulator
from tests.channels.receiver import Received, webhook_receiver

MUG = "TEAL-MUG-350ML"
LIMITS: dict[str, dict[str, Any]] = {"amazon": {"apply_delay_s": 0.05}}
DELAY_MS = 400


@pytest.fixture(params=KINDS)
def hooked(
    request: pytest.FixtureRequest,
) -> Iterator[tuple[RunningEmulator, queue.Queue[Received]]]:
    kind = str(request.param)
    with webhook_receiver() as (url, inbox):
        with start_emulator(
            kind, f"{kind}-slow", {MUG: 6}, webhook_url=url, **LIMITS.get(kind, {})
        ) as running:
            yield running, inbox


def order_arrivals(
    connector: ChannelConnector, inbox: queue.Queue[Received], count: int
) -> list[tuple[float, str]]:
    """(monotonic arrival, order id) of the next ``count`` deliveries carrying an order."""
    found: list[tuple[float, str]] = []
    while len(found) < count:
        delivery = inbox.get(timeout=10)
        arrived = time.monotonic()
        for event in connector.parse_webhook(delivery.headers, delivery.body):
            if event.order is not None:
                found.append((arrived, event.order.external_id))
    return found


def test_every_emulator_takes_the_new_fault_names(hooked) -> None:  # type: ignore[no-untyped-def]
    channel, _ = hooked

    assert {"latency_jitter_ms", "webhook_delay_ms"} <= channel.supported_faults
    channel.set_faults(latency_jitter_ms=5, webhook_delay_ms=5)
    channel.clear_faults()


def test_each_api_call_waits_at_least_its_latency_with_jitter_on(hooked) -> None:  # type: ignore[no-untyped-def]
    channel, _ = hooked
    connector = channel.connector()
    channel.set_faults(latency_ms=60, latency_jitter_ms=40)
    before = channel.api_calls()

    waits = []
    for _ in range(4):
        started = time.monotonic()
        connector.read_quantities([channel.listing_id(MUG)])
        waits.append(time.monotonic() - started)

    assert min(waits) >= 0.06
    assert channel.api_calls() >= before + 4


def test_a_late_webhook_arrives_after_its_delay_and_the_shopper_is_answered_first(hooked) -> None:  # type: ignore[no-untyped-def]
    channel, inbox = hooked
    connector = channel.connector()
    channel.set_faults(webhook_delay_ms=DELAY_MS)

    started = time.monotonic()
    placed = channel.shopper_order({MUG: 1})
    nothing_yet = inbox.empty()
    [(arrived, order_id)] = order_arrivals(connector, inbox, 1)

    assert placed.accepted and order_id == placed.order_id
    assert nothing_yet  # the answer did not wait for the delivery
    assert arrived - started >= DELAY_MS / 1000


def test_with_the_delay_cleared_webhooks_go_out_at_once_again(hooked) -> None:  # type: ignore[no-untyped-def]
    channel, inbox = hooked
    connector = channel.connector()
    channel.set_faults(webhook_delay_ms=DELAY_MS)
    channel.clear_faults()

    placed = channel.shopper_order({MUG: 1})
    [(_, order_id)] = order_arrivals(connector, inbox, 1)

    assert order_id == placed.order_id


def _seed_where_the_second_delay_is_shorter(delay_ms: int) -> int:
    """A fault seed whose second webhook delay is at least 60 % of ``delay_ms`` shorter than its
    first, so the second webhook must overtake the first unless deliveries wait in line."""
    for seed in range(1000):
        rng = fault_rng("webhook_delay_ms", seed)
        first, second = webhook_delay_s(delay_ms, rng), webhook_delay_s(delay_ms, rng)
        if first - second >= 0.6 * delay_ms / 1000:
            return seed
    raise AssertionError("no such seed")


@pytest.mark.parametrize("kind", ["woocommerce", "amazon", "custom"])
def test_a_long_delay_does_not_hold_back_a_shorter_one_behind_it(kind: str) -> None:
    """One delay drawn per order webhook on these kinds, from the seeded generator; Shopify
    draws for its inventory webhooks too (the ordering is covered by ``Postponer``'s tests)."""
    delay_ms = 1000
    seed = _seed_where_the_second_delay_is_shorter(delay_ms)
    with webhook_receiver() as (url, inbox):
        with start_emulator(
            kind, f"{kind}-late", {MUG: 6}, webhook_url=url, **LIMITS.get(kind, {})
        ) as channel:
            connector = channel.connector()
            channel.set_faults(webhook_delay_ms=delay_ms, seed=seed)
            first = channel.shopper_order({MUG: 1}).order_id
            second = channel.shopper_order({MUG: 1}).order_id
            arrivals = order_arrivals(connector, inbox, 2)

    assert [order_id for _, order_id in arrivals] == [second, first]


def test_an_outage_fails_every_api_call_while_the_shop_still_sells_then_it_ends(hooked) -> None:  # type: ignore[no-untyped-def]
    channel, _ = hooked
    connector = channel.connector()
    listing = channel.listing_id(MUG)
    channel.set_faults(error_rate=1.0)
    before = channel.api_calls()

    for _ in range(3):
        with pytest.raises(TransientChannelError):
            connector.read_quantities([listing])
    with pytest.raises(TransientChannelError):
        connector.orders_since(None)
    sold = channel.shopper_order({MUG: 2})
    failed_calls = channel.api_calls() - before
    channel.set_faults(error_rate=0.0)

    assert sold.accepted and channel.shown(MUG) == 4
    assert failed_calls >= 4
    [seen] = connector.read_quantities([listing])
    assert seen.quantity == 4
