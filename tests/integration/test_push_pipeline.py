"""The push pipeline against the Shopify (compare-and-set) and WooCommerce (last write wins)
emulators over loopback HTTP, on both backends."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta

import httpx
import pytest

from stocksync.channels.base import PushResult, QuantityPush
from stocksync.channels.errors import ChannelRejectedError
from stocksync.domain.clock import utcnow
from stocksync.ledger.results import LineIn
from stocksync.ledger.service import Ledger
from stocksync.sync.drain import drain
from stocksync.sync.poll import poll_channel
from stocksync.sync.report import Outcome
from tests.integration.push_support import (
    AMAZON,
    SHOPIFY,
    WOO,
    Shops,
    list_in_ledger,
    listing,
    running_shops,
)

MUG = "TEAL-MUG-350ML"
COASTER = "OAK-COASTER"
LAMP = "BRASS-LAMP"


@pytest.fixture
def shops(ledger: Ledger) -> Iterator[Shops]:
    with running_shops([MUG, COASTER, LAMP]) as running:
        list_in_ledger(ledger, running, {MUG: 10, COASTER: 6, LAMP: 3})
        yield running


def test_orders_recorded_in_the_ledger_reach_both_shops(ledger: Ledger, shops: Shops) -> None:
    first = drain(ledger, shops.connectors, worker_id="w1")
    assert first.counts()[SHOPIFY]["pushed"] == 3
    assert first.counts()[WOO]["pushed"] == 3
    assert shops.shows(MUG) == {SHOPIFY: 10, WOO: 10}

    ledger.record_order(AMAZON, "114-1", [LineIn(MUG, 3), LineIn(LAMP, 1)])
    second = drain(ledger, shops.connectors, worker_id="w1")

    assert shops.shows(MUG) == {SHOPIFY: 7, WOO: 7}
    assert shops.shows(LAMP) == {SHOPIFY: 2, WOO: 2}
    assert shops.shows(COASTER) == {SHOPIFY: 6, WOO: 6}
    assert sorted((r.channel, r.sku, r.quantity) for ch in second.channels.values() for r in ch.pushed) == [
        (SHOPIFY, LAMP, 2), (SHOPIFY, MUG, 7), (WOO, LAMP, 2), (WOO, MUG, 7),
    ]  # fmt: skip
    mug = listing(ledger, SHOPIFY, MUG)
    assert (mug.expected, mug.pushed, mug.dirty, mug.pushed_version) == (7, 7, False, mug.version)
    assert mug.lease_owner is None
    assert ledger.verify() == []


def test_only_the_latest_desired_quantity_goes_out(ledger: Ledger, shops: Shops) -> None:
    for n in range(4):
        ledger.record_order(AMAZON, f"114-{n}", [LineIn(MUG, 1)])

    drain(ledger, shops.connectors, worker_id="w1")

    assert [q for ext, q in shops.connectors[WOO].applied() if ext == str(shops.products[MUG])] == [
        6
    ]
    assert shops.shows(MUG) == {SHOPIFY: 6, WOO: 6}


def test_a_version_bumped_mid_push_stays_dirty_and_is_pushed_next(
    ledger: Ledger, shops: Shops
) -> None:
    woo = shops.connectors[WOO]
    woo.after_push = lambda pushes: ledger.record_order(AMAZON, "114-9", [LineIn(MUG, 2)])
    before = listing(ledger, WOO, MUG)

    drain(ledger, {WOO: woo}, worker_id="w1", limit=3)

    mid = listing(ledger, WOO, MUG)
    assert (mid.dirty, mid.pushed, mid.pushed_version) == (True, 10, before.version)
    assert (mid.desired, mid.version) == (8, before.version + 1)
    assert shops.shows(MUG)[WOO] == 10

    woo.after_push = None
    drain(ledger, {WOO: woo}, worker_id="w1")

    after = listing(ledger, WOO, MUG)
    assert (after.dirty, after.pushed, after.pushed_version) == (False, 8, mid.version)
    assert shops.shows(MUG)[WOO] == 8


def test_a_count_lowered_behind_our_back_is_held_back_until_a_poll_finds_no_order_for_it(
    ledger: Ledger, shops: Shops
) -> None:
    drain(ledger, shops.connectors, worker_id="w1")
    shops.shopify.stock(MUG, 4)  # someone edits the count in the Shopify admin
    ledger.record_order(AMAZON, "114-2", [LineIn(MUG, 1)])

    report = drain(ledger, shops.connectors, worker_id="w1")

    # Six units fewer than expected look like sales whose webhooks are in flight: held back, and
    # the push (9 against 10) is rebased on the count at once (3 against 4).
    shopify = report.channels[SHOPIFY]
    assert [(r.sku, r.outcome, r.quantity) for r in shopify.records] == [(MUG, Outcome.PUSHED, 3)]
    assert "the channel showed 4" in shopify.records[0].message
    sent = [(q, expected) for _, q, expected, _ in shops.connectors[SHOPIFY].log[-1:]]
    assert sent == [(3, 4)]
    assert shops.shows(MUG) == {SHOPIFY: 3, WOO: 9}
    mug = listing(ledger, SHOPIFY, MUG)
    assert (mug.expected, mug.unheard, mug.dirty) == (9, 6, False)

    # A complete poll brings no order for them: the count was someone else's, and ours goes back.
    poll_channel(ledger, SHOPIFY, shops.connectors[SHOPIFY], unheard_ttl_s=0)
    drain(ledger, shops.connectors, worker_id="w1")

    assert shops.shows(MUG) == {SHOPIFY: 9, WOO: 9}
    mug = listing(ledger, SHOPIFY, MUG)
    assert (mug.expected, mug.unheard, mug.dirty) == (9, 0, False)
    assert ledger.verify() == []


def test_a_sale_in_flight_is_held_back_and_not_counted_twice_when_its_webhook_lands(
    ledger: Ledger, shops: Shops
) -> None:
    drain(ledger, shops.connectors, worker_id="w1")
    sale = {"lines": [{"inventory_item_id": shops.items[MUG], "quantity": 2}]}
    answer = httpx.post(f"{shops.urls[SHOPIFY]}/_sandbox/shopper/orders", json=sale, timeout=5)
    answer.raise_for_status()  # Shopify shows 8; its webhook is still on the way
    ledger.record_order(AMAZON, "114-3", [LineIn(MUG, 1)])

    drain(ledger, shops.connectors, worker_id="w1")

    assert shops.shows(MUG) == {SHOPIFY: 7, WOO: 9}  # 10 - 2 - 1: the sold units not offered again
    ledger.record_order(SHOPIFY, str(answer.json()["id"]), [LineIn(MUG, 2)])  # the webhook lands
    mug = listing(ledger, SHOPIFY, MUG)
    assert (mug.desired, mug.expected, mug.unheard, mug.dirty) == (7, 7, 0, False)
    drain(ledger, shops.connectors, worker_id="w1")
    assert shops.shows(MUG) == {SHOPIFY: 7, WOO: 7}
    assert ledger.verify() == []


def test_a_conflict_hook_sees_the_conflicted_listings(ledger: Ledger, shops: Shops) -> None:
    drain(ledger, shops.connectors, worker_id="w1")
    shops.shopify.stock(LAMP, 7)  # someone raised the count in the Shopify admin
    ledger.adjust(LAMP, -1, "berlin")
    seen = []

    drain(
        ledger, shops.connectors, worker_id="w1", on_conflict=lambda ch, li: seen.append((ch, li))
    )

    [(channel, [conflicted])] = seen
    # the push went as a delta (-1): it met 7 where we expected 3 and left 6
    assert (channel, conflicted.sku, conflicted.quantity_seen) == (SHOPIFY, LAMP, 6)
    # more than expected is someone else's change: overwritten by the next push
    assert shops.shows(LAMP) == {SHOPIFY: 2, WOO: 2}


def test_a_failing_shop_backs_off_loses_nothing_and_converges_once_it_recovers(
    ledger: Ledger, shops: Shops
) -> None:
    drain(ledger, shops.connectors, worker_id="w1")
    ledger.record_order(AMAZON, "114-3", [LineIn(COASTER, 2)])
    shops.shopify.faults.error_rate = 1.0
    shops.woo.faults.error_rate = 1.0
    now = utcnow()

    report = drain(ledger, shops.connectors, worker_id="w1", clock=lambda: now)

    for name in (SHOPIFY, WOO):
        assert [r.outcome for r in report.channels[name].records] == [Outcome.RETRY]
        assert "503" in (report.channels[name].error or "")
        coaster = listing(ledger, name, COASTER)
        assert (coaster.dirty, coaster.attempts, coaster.expected) == (True, 1, 6)
        assert coaster.next_attempt_at is not None and "503" in (coaster.last_error or "")
    assert shops.shows(COASTER) == {SHOPIFY: 6, WOO: 6}

    shops.shopify.faults.error_rate = 0.0
    shops.woo.faults.error_rate = 0.0
    not_yet = drain(ledger, shops.connectors, worker_id="w1", clock=lambda: now)
    assert not_yet.counts()[SHOPIFY]["pushed"] == not_yet.counts()[WOO]["pushed"] == 0

    later = now + timedelta(hours=1)
    drain(ledger, shops.connectors, worker_id="w1", clock=lambda: later)

    assert shops.shows(COASTER) == {SHOPIFY: 4, WOO: 4}
    coaster = listing(ledger, SHOPIFY, COASTER)
    assert (coaster.dirty, coaster.attempts, coaster.last_error, coaster.next_attempt_at) == (
        False, 0, None, None,
    )  # fmt: skip


def test_a_delta_whose_outcome_stayed_unknown_lands_once_and_the_shop_converges(
    ledger: Ledger, shops: Shops
) -> None:
    """Shopify's answers are lost for the delta and for its replay under the same key: the -2
    landed once, but the drain cannot know it. The next push is a compare-and-set, never the
    delta again: it meets 4 where it expected 6, and holds the 2 back as sales not heard of
    (the shop shows less, never more, than the ledger wants) until a complete order poll finds
    no order behind them."""
    drain(ledger, shops.connectors, worker_id="w1")
    ledger.record_order(AMAZON, "114-5", [LineIn(COASTER, 2)])
    shops.shopify.faults.lost_answers = 2
    now = utcnow()
    shopify = {SHOPIFY: shops.connectors[SHOPIFY]}

    report = drain(ledger, shopify, worker_id="w1", clock=lambda: now)

    assert [r.outcome for r in report.channels[SHOPIFY].records] == [Outcome.RETRY]
    assert shops.shows(COASTER)[SHOPIFY] == 4
    assert listing(ledger, SHOPIFY, COASTER).attempts == 1

    later = now + timedelta(hours=1)
    drain(ledger, shopify, worker_id="w1", clock=lambda: later)
    assert shops.shows(COASTER)[SHOPIFY] == 2
    assert listing(ledger, SHOPIFY, COASTER).unheard == 2

    poll = poll_channel(ledger, SHOPIFY, shops.connectors[SHOPIFY], unheard_ttl_s=-3600)
    drain(ledger, shopify, worker_id="w1", clock=lambda: later)

    assert poll.unheard_forgotten == 1
    assert shops.shows(COASTER)[SHOPIFY] == 4
    coaster = listing(ledger, SHOPIFY, COASTER)
    assert (coaster.expected, coaster.unheard, coaster.attempts, coaster.dirty) == (4, 0, 0, False)
    assert ledger.verify() == []


@pytest.mark.parametrize("max_conflicts", [0, 3])
def test_a_delta_that_meets_a_raised_count_is_set_right_by_a_compare_and_set_once(
    ledger: Ledger, shops: Shops, max_conflicts: int
) -> None:
    """The delta (+7) meets a count someone raised in the admin (+1) and leaves 11: reported as
    a conflict that wrote, it is taken in as the count the channel shows, and the next push is
    a compare-and-set that puts 10 back. The delta never goes a second time, however few
    conflicts the drain allows (it used to: 11, then 18)."""
    drain(ledger, shops.connectors, worker_id="w1")
    ledger.adjust(LAMP, +7, "berlin")  # desired 10
    shops.shopify.stock(LAMP, 4)  # admin: +1 over the 3 we expect
    shopify = {SHOPIFY: shops.connectors[SHOPIFY]}
    writes = len(shops.shopify.calls)

    drain(ledger, shopify, worker_id="w1", max_conflicts=max_conflicts)
    drain(ledger, shopify, worker_id="w2", clock=lambda: utcnow() + timedelta(hours=1))

    ops = [c.operation for c in shops.shopify.calls[writes:]]
    assert ops == ["inventoryAdjustQuantities", "inventorySetQuantities"]
    assert shops.shows(LAMP)[SHOPIFY] == 10
    lamp = listing(ledger, SHOPIFY, LAMP)
    assert (lamp.expected, lamp.unheard, lamp.attempts, lamp.dirty) == (10, 0, 0, False)


def test_a_delta_that_lowers_a_raised_count_holds_no_units_back_as_unheard(
    ledger: Ledger, shops: Shops
) -> None:
    """The delta (-3) meets 4 where we expected 3 and leaves 1: our own write, not 2 sales we
    have not heard of, so a restock later is listed in full."""
    drain(ledger, shops.connectors, worker_id="w1")
    shops.shopify.stock(LAMP, 4)
    ledger.adjust(LAMP, -3, "berlin")  # desired 0
    shopify = {SHOPIFY: shops.connectors[SHOPIFY]}

    drain(ledger, shopify, worker_id="w1")
    ledger.adjust(LAMP, +5, "berlin")
    drain(ledger, shopify, worker_id="w1")

    assert shops.shows(LAMP)[SHOPIFY] == 5
    assert listing(ledger, SHOPIFY, LAMP).unheard == 0


def test_the_halves_of_a_refused_call_go_as_compare_and_set(ledger: Ledger, shops: Shops) -> None:
    """A call refused as a whole may have been applied in part (a set before the refused
    delta): the drain's halves must not send a delta again, so they go as compare-and-set."""
    drain(ledger, shops.connectors, worker_id="w1")
    for sku in (MUG, COASTER):
        ledger.adjust(sku, -1, "berlin")
    real = shops.connectors[SHOPIFY]
    sent: list[list[bool]] = []

    class RefusesFirst:
        name, compare_and_set, max_batch = real.name, real.compare_and_set, real.max_batch

        def push_quantities(self, pushes: Sequence[QuantityPush]) -> list[PushResult]:
            sent.append([p.rebase for p in pushes])
            if len(sent) == 1:
                raise ChannelRejectedError(SHOPIFY, "HTTP 400")
            return real.push_quantities(pushes)

    drain(ledger, {SHOPIFY: RefusesFirst()}, worker_id="w1")

    assert sent == [[True, True], [False], [False]]
    assert shops.shows(MUG)[SHOPIFY] == 9 and shops.shows(COASTER)[SHOPIFY] == 5


def test_a_rejected_listing_does_not_hold_back_its_batch_mates(
    ledger: Ledger, shops: Shops
) -> None:
    drain(ledger, shops.connectors, worker_id="w1")  # every id checked and pushed once
    with shops.shopify.lock:  # then the lamp is deleted in both shops' admins
        del shops.shopify.items[int(shops.items[LAMP].rsplit("/", 1)[1])]
    with shops.woo.lock:
        del shops.woo.products[shops.products[LAMP]]
    for sku in (MUG, COASTER, LAMP):
        ledger.adjust(sku, -1, "berlin")

    report = drain(ledger, shops.connectors, worker_id="w1")

    for name in (SHOPIFY, WOO):
        channel = report.channels[name]
        assert sorted(r.sku for r in channel.pushed) == [COASTER, MUG]
        assert [r.sku for r in channel.rejected] == [LAMP]
        lamp = listing(ledger, name, LAMP)
        assert (lamp.dirty, lamp.attempts) == (True, 1)
        assert lamp.last_error
    assert shops.shows(MUG) == {SHOPIFY: 9, WOO: 9}
    again = drain(ledger, shops.connectors, worker_id="w1")
    assert again.counts()[SHOPIFY]["rejected"] == 0  # backing off, not hammering the channel


def test_an_unknown_channel_is_reported_and_the_others_still_drain(
    ledger: Ledger, shops: Shops
) -> None:
    connectors = {"etsy-shop": shops.connectors[WOO], SHOPIFY: shops.connectors[SHOPIFY]}

    report = drain(ledger, connectors, worker_id="w1")

    assert report.channels["etsy-shop"].error
    assert report.counts()[SHOPIFY]["pushed"] == 3
    assert report.rows()[0]["channel"] == SHOPIFY
