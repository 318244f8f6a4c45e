"""The sandbox harness itself: uniform fault names reach each emulator, config entries round-trip."""

from __future__ import annotations

import json
import queue
import time
from collections.abc import Iterator

import pytest

from stocksync.channels.base import ChannelConnector
from stocksync.sandbox.harness import KINDS, RunningEmulator, connector_from_fields, start_emulator
from tests.channels.receiver import Received, webhook_receiver

MUG = "TEAL-MUG-350ML"


@pytest.fixture(params=KINDS)
def hooked(
    request: pytest.FixtureRequest,
) -> Iterator[tuple[RunningEmulator, queue.Queue[Received]]]:
    with webhook_receiver() as (url, inbox):
        with start_emulator(str(request.param), "harnessed", {MUG: 5}, webhook_url=url) as running:
            yield running, inbox


def order_deliveries(connector: ChannelConnector, inbox: queue.Queue[Received]) -> list[str]:
    """Event ids of the order events that arrived within half a second of the last one."""
    ids: list[str] = []
    while True:
        try:
            delivery = inbox.get(timeout=0.5)
        except queue.Empty:
            return ids
        ids += [
            e.event_id for e in connector.parse_webhook(delivery.headers, delivery.body) if e.order
        ]


def test_duplicate_webhooks_by_the_uniform_name_arrive_twice_with_one_event_id(hooked) -> None:  # type: ignore[no-untyped-def]
    channel, inbox = hooked
    channel.set_faults(duplicate_webhooks=True)

    assert channel.shopper_order({MUG: 1}).accepted
    ids = order_deliveries(channel.connector(), inbox)

    assert len(ids) == 2 and len(set(ids)) == 1


def test_dropped_webhooks_by_the_uniform_name_never_arrive_until_cleared(hooked) -> None:  # type: ignore[no-untyped-def]
    channel, inbox = hooked
    connector = channel.connector()
    channel.set_faults(drop_webhooks=True)
    channel.shopper_order({MUG: 1})
    dropped = order_deliveries(connector, inbox)

    channel.clear_faults()
    channel.shopper_order({MUG: 1})

    assert dropped == []
    assert len(order_deliveries(connector, inbox)) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_connector_fields_survive_a_json_file_and_build_a_working_connector(kind: str) -> None:
    with start_emulator(kind, "from-file", {MUG: 4}) as channel:
        entry = json.loads(json.dumps(channel.connector_fields()))
        connector = connector_from_fields(entry)
        try:
            [seen] = connector.read_quantities([channel.listing_id(MUG)])
        finally:
            connector.close()

    assert (entry["kind"], entry["name"], connector.name) == (kind, "from-file", "from-file")
    assert (seen.sku, seen.quantity) == (MUG, 4)


@pytest.mark.parametrize("kind", ["woocommerce", "amazon", "custom"])
def test_a_fault_the_emulator_cannot_inject_is_refused_by_name(kind: str) -> None:
    with start_emulator(kind, "faulty", {MUG: 1}) as channel:
        with pytest.raises(ValueError, match="cannot inject \\['timeout_rate'\\]"):
            channel.set_faults(timeout_rate=0.5)
        assert "timeout_rate" not in channel.supported_faults


def test_latency_set_at_start_slows_every_api_call() -> None:
    with start_emulator("custom", "slow", {MUG: 1}, latency_ms=150) as channel:
        connector = channel.connector()
        started = time.monotonic()
        connector.read_quantities()
        assert time.monotonic() - started >= 0.15
