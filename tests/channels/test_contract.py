"""The contract every channel connector keeps, run against each emulator over loopback HTTP.

One test body per promise of ``ChannelConnector``, parametrised over the four connector and
emulator pairs through the sandbox harness. What only one channel does stays in its own file.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest

from stocksync.channels.base import ChannelConnector, Fulfillment, PushStatus, QuantityPush
from stocksync.channels.errors import SignatureError, TransientChannelError
from stocksync.domain.messages import ChannelOrder, EventKind, InboundEvent
from stocksync.sandbox.emulators import EMULATORS
from stocksync.sandbox.harness import KINDS, RunningEmulator, start_emulator
from tests.channels.receiver import Received, webhook_receiver

MUG, COASTER = "TEAL-MUG-350ML", "OAK-COASTER"
STOCK = {MUG: 5, COASTER: 12}

LIMITS: dict[str, dict[str, Any]] = {"amazon": {"apply_delay_s": 0.05, "feed_processing_s": 0.05}}
"""Amazon's patches go live after a delay and its feeds queue; shortened, not removed."""
FAST: dict[str, dict[str, Any]] = {"amazon": {"feed_poll_s": 0.05}}
"""Connector settings that keep the tests quick (Amazon polls a feed every 30 s by default)."""
UNKNOWN: dict[str, tuple[str, str]] = {
    "shopify": ("gid://shopify/InventoryItem/9999", "INVALID_INVENTORY_ITEM"),
    "woocommerce": ("999999", "Invalid ID."),
    "amazon": ("RETRO-CLOCK", "RETRO-CLOCK"),
    "custom": ("L-404", "unknown listing L-404"),
}
"""A listing id each channel does not know, and what its refusal message says."""
NOT_HELD = {
    "shopify": "no inventory item gid://shopify/InventoryItem/9999 on shopify-contract",
    "woocommerce": "no product 999999 on woocommerce-contract",
    "amazon": "no listing with seller SKU RETRO-CLOCK in marketplace ",
    "custom": "no listing L-404 on custom-contract",
}
"""What ``identify`` says of that id."""
ORDER_EVENT = {"amazon": EventKind.ORDER_UPDATED}
"""Amazon announces a new order as an ORDER_CHANGE; the others as order created."""


def start(kind: str, stock: dict[str, int], **kwargs: Any) -> RunningEmulator:
    return start_emulator(kind, f"{kind}-contract", stock, **LIMITS.get(kind, {}), **kwargs)


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def receiver() -> Iterator[tuple[str, queue.Queue[Received]]]:
    with webhook_receiver() as endpoint:
        yield endpoint


@pytest.fixture
def channel(kind: str, receiver: tuple[str, queue.Queue[Received]]) -> Iterator[RunningEmulator]:
    with start(kind, STOCK, webhook_url=receiver[0]) as running:
        yield running


def connect(channel: RunningEmulator, **changes: Any) -> ChannelConnector:
    return channel.connector(**FAST.get(channel.kind, {}), **changes)


def push(channel: RunningEmulator, sku: str, quantity: int, expected: int | None) -> QuantityPush:
    listing_id, refs = channel.listings()[sku]
    return QuantityPush(listing_id, quantity, expected=expected, refs=refs, sku=sku)


def eventually(check: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Wait for ``check`` (Amazon shows an accepted patch only after its delay)."""
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def new_orders(channel: RunningEmulator, connector: ChannelConnector) -> tuple[ChannelOrder, ...]:
    """Orders since the start; Amazon lists an order only once it is two minutes old."""
    channel.advance_clock(121)
    return connector.orders_since(None).orders


def order_event(
    channel: RunningEmulator, connector: ChannelConnector, inbox: queue.Queue[Received]
) -> tuple[Received, InboundEvent]:
    """The first delivery that parses to an order event (Shopify also sends inventory updates)."""
    while True:
        delivery = inbox.get(timeout=5)
        for event in connector.parse_webhook(delivery.headers, delivery.body):
            if event.order is not None:
                return delivery, event


def test_the_connector_implements_the_interface_under_the_channel_name(
    channel: RunningEmulator,
) -> None:
    connector = connect(channel)
    assert isinstance(connector, ChannelConnector)
    assert connector.name == channel.name == channel.connector_fields().get("name")
    assert connector.max_batch >= 1


def test_a_pushed_quantity_reads_back(channel: RunningEmulator) -> None:
    connector = connect(channel)
    [result] = connector.push_quantities([push(channel, MUG, 9, expected=5)])
    listing_id = channel.listing_id(MUG)

    assert result.status is PushStatus.APPLIED and result.listing_id == listing_id
    eventually(lambda: channel.shown(MUG) == 9)
    assert [(q.listing_id, q.sku, q.quantity) for q in connector.read_quantities([listing_id])] == [
        (listing_id, MUG, 9)
    ]


def test_a_push_larger_than_max_batch_is_split_into_calls_of_at_most_max_batch(kind: str) -> None:
    with start(kind, {MUG: 1}) as sizing:
        size = connect(sizing).max_batch
    skus = {f"OAK-COASTER-{n:05d}": 5 for n in range(size + 1)}
    with start(kind, skus) as channel:
        listings = channel.listings()
        pushes = [QuantityPush(listings[s][0], 7, 5, listings[s][1], s) for s in skus]

        results = connect(channel).push_quantities(pushes)

        assert channel.push_calls() == 2
        assert [r.listing_id for r in results] == [p.listing_id for p in pushes]
        assert {r.status for r in results} == {PushStatus.APPLIED}
        eventually(lambda: all(channel.shown(sku) == 7 for sku in (min(skus), max(skus))))


def test_an_unknown_listing_is_rejected_with_the_channels_message_and_the_rest_applies(
    channel: RunningEmulator,
) -> None:
    unknown, message = UNKNOWN[channel.kind]
    pushes = [push(channel, MUG, 4, 5), QuantityPush(unknown, 3), push(channel, COASTER, 2, 12)]

    before, rejected, after = connect(channel).push_quantities(pushes)

    assert rejected.status is PushStatus.REJECTED and message in rejected.message
    assert (before.status, after.status) == (PushStatus.APPLIED, PushStatus.APPLIED)
    eventually(lambda: (channel.shown(MUG), channel.shown(COASTER)) == (4, 2))


def test_a_count_lowered_by_unheard_sales_rebases_the_push_where_the_channel_compares(
    channel: RunningEmulator,
) -> None:
    """With compare-and-set, a sale between our read and our push makes the count stale. Shopify's
    connector reads the count, takes the units sold off the push (they are sold: not offered
    again) and sends it against the fresh count, reporting both; a connector that does not
    rebase reports the conflict with the count and writes nothing. Without it (WooCommerce,
    Amazon, custom channels without an expected field) the push overwrites: the sold unit is back
    on sale until the ledger learns of the order (poll or webhook) and pushes again; the
    connector cannot prevent that.
    """
    connector = connect(channel)
    seen = {q.sku: q.quantity for q in connector.read_quantities()}
    assert channel.shopper_order({MUG: 2}).accepted

    stale, fresh = connector.push_quantities(
        [push(channel, MUG, 8, expected=seen[MUG]), push(channel, COASTER, 10, seen[COASTER])]
    )

    assert fresh.status is PushStatus.APPLIED
    if connector.compare_and_set and channel.kind == "shopify":
        assert (stale.status, stale.quantity_seen, stale.applied_quantity) == (
            PushStatus.APPLIED, 3, 6,
        )  # fmt: skip
        eventually(lambda: channel.shown(MUG) == 6)
    elif connector.compare_and_set:
        assert (stale.status, stale.quantity_seen) == (PushStatus.CONFLICT, 3)
        assert channel.shown(MUG) == 3
    else:
        assert stale.status is PushStatus.APPLIED
        eventually(lambda: channel.shown(MUG) == 8)
    eventually(lambda: channel.shown(COASTER) == 10)


def test_a_count_raised_by_someone_else_conflicts_where_the_channel_compares(
    channel: RunningEmulator,
) -> None:
    """More units than we expected is someone else's change: a compare-and-set channel reports
    the conflict with its count (the drain decides). Shopify's delta keeps the change and reports
    the count it left; a quantity a person asked for writes nothing there. The others overwrite."""
    connector = connect(channel)
    seen = {q.sku: q.quantity for q in connector.read_quantities()}
    [raised] = connector.push_quantities([push(channel, MUG, seen[MUG] + 4, None)])
    assert raised.status is PushStatus.APPLIED
    eventually(lambda: channel.shown(MUG) == seen[MUG] + 4)

    [stale] = connector.push_quantities([push(channel, MUG, 8, expected=seen[MUG])])

    if connector.compare_and_set and channel.kind == "shopify":
        assert (stale.status, stale.quantity_seen) == (PushStatus.CONFLICT, 8 + 4)
        assert channel.shown(MUG) == 8 + 4
        manual = replace(push(channel, MUG, 3, expected=seen[MUG]), rebase=False)
        [refused] = connector.push_quantities([manual])
        assert (refused.status, refused.quantity_seen) == (PushStatus.CONFLICT, 8 + 4)
        assert channel.shown(MUG) == 8 + 4
    elif connector.compare_and_set:
        assert (stale.status, stale.quantity_seen) == (PushStatus.CONFLICT, seen[MUG] + 4)
        assert channel.shown(MUG) == seen[MUG] + 4
    else:
        assert stale.status is PushStatus.APPLIED
        eventually(lambda: channel.shown(MUG) == 8)


def test_a_shopper_order_takes_what_is_shown_and_one_beyond_it_is_refused_whole(
    channel: RunningEmulator,
) -> None:
    placed = channel.shopper_order({MUG: 2})
    refused = channel.shopper_order({COASTER: 1, MUG: 4})

    assert placed.accepted and placed.order_id
    assert (refused.accepted, refused.status_code) == (False, 409)
    assert (channel.shown(MUG), channel.shown(COASTER)) == (3, 12)
    assert [o.external_id for o in new_orders(channel, connect(channel))] == [placed.order_id]


def test_orders_since_returns_the_shopper_order_and_its_cursor_brings_nothing_new(
    channel: RunningEmulator,
) -> None:
    """Shopify and WooCommerce overlap a call with the cursor's own second on purpose (times are
    whole seconds): an order seen already may come again, unchanged; the ledger deduplicates it.
    """
    connector = connect(channel)
    placed = channel.shopper_order({MUG: 2})
    listing_id, refs = channel.listings()[MUG]
    channel.advance_clock(121)

    first = connector.orders_since(None)
    again = connector.orders_since(first.cursor)

    [order] = first.orders
    assert (order.channel, order.external_id, order.cancelled) == (
        channel.name,
        placed.order_id,
        False,
    )
    [line] = order.lines
    assert (line.sku, line.quantity) == (MUG, 2)
    assert line.listing_id in {listing_id, *refs.values()}
    assert first.cursor is not None and not first.more
    assert set(again.orders) <= {order}
    assert again.cursor is not None


def test_the_shopper_orders_webhook_reaches_the_receiver_and_parses_to_that_order(
    channel: RunningEmulator, receiver: tuple[str, queue.Queue[Received]]
) -> None:
    connector = connect(channel)
    placed = channel.shopper_order({MUG: 1})

    _, event = order_event(channel, connector, receiver[1])

    assert event.kind is ORDER_EVENT.get(channel.kind, EventKind.ORDER_CREATED)
    assert event.event_id
    assert event.order is not None and event.order.external_id == placed.order_id
    assert [(ln.sku, ln.quantity) for ln in event.order.lines] == [(MUG, 1)]


def test_a_webhook_checked_with_the_wrong_secret_raises_signature_error(
    channel: RunningEmulator, receiver: tuple[str, queue.Queue[Received]]
) -> None:
    channel.shopper_order({MUG: 1})
    delivery, _ = order_event(channel, connect(channel), receiver[1])

    with pytest.raises(SignatureError):
        connect(channel, webhook_secret="not-the-secret").parse_webhook(
            delivery.headers, delivery.body
        )
    with pytest.raises(SignatureError):
        connect(channel).parse_webhook({}, delivery.body)


@pytest.mark.parametrize("kind", [k for k in KINDS if EMULATORS[k].signs_body])
def test_a_tampered_webhook_body_raises_signature_error(
    channel: RunningEmulator, receiver: tuple[str, queue.Queue[Received]]
) -> None:
    """Amazon is not here: its relay proves itself by a shared-secret header, not a body HMAC."""
    connector = connect(channel)
    channel.shopper_order({MUG: 1})
    delivery, _ = order_event(channel, connector, receiver[1])
    tampered = delivery.body.replace(b"1", b"7", 1)
    assert tampered != delivery.body

    with pytest.raises(SignatureError):
        connector.parse_webhook(delivery.headers, tampered)


def test_server_errors_surface_as_transient_errors_or_retry_later_never_as_success(
    channel: RunningEmulator,
) -> None:
    connector = connect(channel)
    channel.set_faults(error_rate=1.0)

    try:
        results = connector.push_quantities([push(channel, MUG, 9, expected=5)])
    except TransientChannelError:
        results = []
    with pytest.raises(TransientChannelError):
        connector.orders_since(None)

    assert {r.status for r in results} <= {PushStatus.RETRY_LATER}
    channel.clear_faults()
    assert channel.shown(MUG) == 5


def test_identify_tells_what_the_channel_holds_under_each_id_in_the_order_given(
    channel: RunningEmulator,
) -> None:
    """Amazon's listing id is the seller SKU itself: found, with no SKU of its own to compare."""
    connector = connect(channel)
    unknown, _ = UNKNOWN[channel.kind]
    listings = channel.listings()

    mug, missing, coaster = connector.identify([listings[MUG], (unknown, {}), listings[COASTER]])

    own_sku = channel.kind != "amazon"
    assert (mug.listing_id, mug.found, mug.sku, mug.problem) == (
        channel.listing_id(MUG), True, MUG if own_sku else None, "",
    )  # fmt: skip
    assert (coaster.listing_id, coaster.found, coaster.sku) == (
        channel.listing_id(COASTER), True, COASTER if own_sku else None,
    )  # fmt: skip
    assert (missing.listing_id, missing.found, missing.sku) == (unknown, False, None)
    assert missing.problem.startswith(NOT_HELD[channel.kind])
    assert connector.identify([]) == []


def test_identify_raises_a_transient_error_when_the_channel_fails(channel: RunningEmulator) -> None:
    connector = connect(channel)
    channel.set_faults(error_rate=1.0)

    with pytest.raises(TransientChannelError):
        connector.identify([channel.listings()[MUG]])


def test_the_shopper_order_can_be_fulfilled(channel: RunningEmulator) -> None:
    connector = connect(channel)
    placed = channel.shopper_order({MUG: 2})
    [order] = new_orders(channel, connector)
    lines = {line.external_line_id: line.quantity for line in order.lines}

    shipment = connector.create_fulfillment(
        Fulfillment(str(placed.order_id), lines, "DHL", "JD014600003828")
    )

    assert isinstance(shipment, str) and shipment
