"""How the drain treats channels that refuse whole calls or our credentials (a fake channel)."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Mapping, Sequence

from stocksync.channels.base import ListingIdentity, PushResult, PushStatus, QuantityPush
from stocksync.channels.errors import (
    ChannelAuthError,
    ChannelRejectedError,
    TransientChannelError,
)
from stocksync.domain.messages import ChannelQuantity
from stocksync.ledger.results import LineIn
from stocksync.ledger.service import Ledger
from stocksync.sync.backoff import RetryPolicy
from stocksync.sync.drain import drain
from stocksync.sync.report import Outcome
from tests.factories import shop_with
from tests.integration.push_support import listing

SKUS = ["TEAL-MUG-350ML", "OAK-COASTER", "BRASS-LAMP", "LINEN-APRON", "CORK-TRIVET"]


class FakeChannel:
    """Last write wins; a call carrying a ``poisoned`` listing is refused whole, like a 400."""

    compare_and_set = False

    def __init__(self, name: str, *, max_batch: int = 100, poisoned: Sequence[str] = ()) -> None:
        self.name = name
        self.max_batch = max_batch
        self.poisoned = set(poisoned)
        self.auth_fails = False
        self.shows: dict[str, int] = {}
        self.calls: list[int] = []

    def push_quantities(self, pushes: Sequence[QuantityPush]) -> list[PushResult]:
        self.calls.append(len(pushes))
        if self.auth_fails:
            raise ChannelAuthError(self.name, "credentials refused", status=401)
        if self.poisoned & {p.listing_id for p in pushes}:
            raise ChannelRejectedError(self.name, "HTTP 400", status=400)
        self.shows.update((p.listing_id, p.quantity) for p in pushes)
        return [PushResult(p.listing_id, PushStatus.APPLIED) for p in pushes]

    def read_quantities(self, listing_ids: Sequence[str] | None = None) -> list[ChannelQuantity]:
        return [ChannelQuantity(k, None, v) for k, v in self.shows.items()]

    def identify(self, listings: Sequence[tuple[str, Mapping[str, str]]]) -> list[ListingIdentity]:
        return [ListingIdentity(listing_id, found=True) for listing_id, _ in listings]


def test_a_call_refused_whole_is_halved_until_the_bad_listing_stands_alone(
    ledger: Ledger,
) -> None:
    shop_with(ledger, {sku: {"berlin": 4} for sku in SKUS})
    woo = FakeChannel("woo-site", poisoned=["woo-site-BRASS-LAMP"])

    report = drain(ledger, {"woo-site": woo}, worker_id="w1")

    channel = report.channels["woo-site"]
    assert [r.sku for r in channel.rejected] == ["BRASS-LAMP"]
    assert sorted(r.sku for r in channel.pushed) == sorted(set(SKUS) - {"BRASS-LAMP"})
    assert woo.shows == {f"woo-site-{s}": 4 for s in SKUS if s != "BRASS-LAMP"}
    assert woo.calls[0] == len(SKUS) and len(woo.calls) <= 1 + 2 * 3
    lamp = listing(ledger, "woo-site", "BRASS-LAMP")
    assert (lamp.dirty, lamp.attempts) == (True, 1)
    assert "HTTP 400" in (lamp.last_error or "")


def test_refused_credentials_stop_that_channel_only_and_back_off_long(ledger: Ledger) -> None:
    shop_with(ledger, {sku: {"berlin": 4} for sku in SKUS})
    woo = FakeChannel("woo-site", max_batch=2)
    woo.auth_fails = True
    shopify = FakeChannel("shopify-main")
    policy = RetryPolicy(rng=random.Random(3))

    report = drain(ledger, {"woo-site": woo, "shopify-main": shopify}, worker_id="w1", retry=policy)

    woo_report = report.channels["woo-site"]
    assert woo.calls == [2]  # the first refusal ends the channel's drain
    assert [r.outcome for r in woo_report.records] == [Outcome.REJECTED] * 2
    assert all((r.retry_in_s or 0) >= policy.rejected_base_s / 2 for r in woo_report.records)
    assert "credentials refused" in (woo_report.error or "")
    assert len(report.channels["shopify-main"].pushed) == len(SKUS)


class ContendedChannel(FakeChannel):
    """Compare-and-set, and a shopper buys one unit between every read and every push."""

    compare_and_set = True

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.pushed: list[tuple[str, int, int | None]] = []

    def push_quantities(self, pushes: Sequence[QuantityPush]) -> list[PushResult]:
        self.calls.append(len(pushes))
        results = []
        for p in pushes:
            self.pushed.append((p.listing_id, p.quantity, p.expected))
            now = self.shows.get(p.listing_id, 50) - 1
            self.shows[p.listing_id] = now
            results.append(PushResult(p.listing_id, PushStatus.CONFLICT, quantity_seen=now))
        return results


def test_a_listing_that_keeps_conflicting_pauses_briefly_without_counting_a_failure(
    ledger: Ledger,
) -> None:
    shop_with(ledger, {"TEAL-MUG-350ML": {"berlin": 40}})
    shopify = ContendedChannel("shopify-main")

    report = drain(
        ledger, {"shopify-main": shopify}, worker_id="w1", max_conflicts=3,
        retry=RetryPolicy(contended_s=0.5),
    )  # fmt: skip

    records = report.channels["shopify-main"].records
    assert [r.outcome for r in records] == [Outcome.CONFLICT] * 3 + [Outcome.RETRY]
    assert "kept conflicting" in records[-1].message
    assert records[-1].retry_in_s is not None and 0.25 <= records[-1].retry_in_s <= 0.5
    mug = listing(ledger, "shopify-main", "TEAL-MUG-350ML")
    assert (mug.dirty, mug.attempts) == (True, 0)
    # the first count (never pushed before) is where we start; the next two conflicts each found
    # one more unit sold that we have not heard of, held back from the next push
    assert (mug.expected, mug.unheard) == (49, 2)
    assert [p for p in shopify.pushed if p[0] == "shopify-main-TEAL-MUG-350ML"][-1][1:] == (38, 47)


class SmallCalls(FakeChannel):
    """Last write wins, and asks for ``per_call`` pushes at a time below a backlog of 100."""

    def __init__(self, name: str, per_call: int) -> None:
        super().__init__(name)
        self.per_call = per_call
        self.batches: list[list[str]] = []

    def batch_size(self, backlog: int) -> int:
        return self.max_batch if backlog >= 100 else self.per_call

    def push_quantities(self, pushes: Sequence[QuantityPush]) -> list[PushResult]:
        self.batches.append([p.sku or "" for p in pushes])
        return super().push_quantities(pushes)


def test_a_small_backlog_goes_out_in_the_calls_the_channel_asks_for_overstated_first(
    ledger: Ledger,
) -> None:
    stock = {"TEAL-MUG-350ML": 30, "OAK-COASTER": 2, "BRASS-LAMP": 9, "LINEN-APRON": 0}
    shop_with(ledger, {sku: {"berlin": qty} for sku, qty in stock.items()})
    amazon = SmallCalls("amazon-eu", per_call=2)
    drain(ledger, {"amazon-eu": amazon}, worker_id="w1")
    assert [len(b) for b in amazon.batches] == [2, 2]

    ledger.adjust("LINEN-APRON", 5, "berlin")  # a restock: Amazon shows too few (understated)
    for sku in ("TEAL-MUG-350ML", "BRASS-LAMP", "OAK-COASTER"):  # sold elsewhere: overstated
        ledger.record_order("woo-site", f"w-{sku}", [LineIn(sku, 1)])
    amazon.batches.clear()
    drain(ledger, {"amazon-eu": amazon}, worker_id="w1")

    # the overstated ones first, the scarcest first (1 left, 8, 29); the restock last
    assert amazon.batches == [["OAK-COASTER", "BRASS-LAMP"], ["TEAL-MUG-350ML", "LINEN-APRON"]]


def test_overstated_listings_as_scarce_go_out_the_one_pushed_longest_ago_first(
    ledger: Ledger,
) -> None:
    stock = {"TEAL-MUG-350ML": 30, "OAK-COASTER": 40, "BRASS-LAMP": 50, "LINEN-APRON": 60}
    shop_with(ledger, {sku: {"berlin": qty} for sku, qty in stock.items()})
    amazon = SmallCalls("amazon-eu", per_call=2)
    drain(ledger, {"amazon-eu": amazon}, worker_id="w1")
    first = amazon.batches[0] + amazon.batches[1]

    for sku in stock:  # sold elsewhere: all overstated, all above the last scarcity step
        ledger.record_order("woo-site", f"w-{sku}", [LineIn(sku, 1)])
    amazon.batches.clear()
    drain(ledger, {"amazon-eu": amazon}, worker_id="w1")

    assert amazon.batches == [first[:2], first[2:]]


class PacedChannel(SmallCalls):
    """Paces its calls: the drain must wait for capacity before it claims, never when idle."""

    def __init__(self, name: str) -> None:
        super().__init__(name, per_call=1)
        self.events: list[str] = []

    def await_capacity(self, max_wait_s: float) -> None:
        assert 0 < max_wait_s <= 1.0
        self.events.append("await")

    def push_quantities(self, pushes: Sequence[QuantityPush]) -> list[PushResult]:
        self.events.append(f"push {len(pushes)}")
        return super().push_quantities(pushes)


def test_a_paced_channel_is_given_its_wait_before_each_claim_and_none_when_nothing_is_due(
    ledger: Ledger,
) -> None:
    shop_with(ledger, {sku: {"berlin": 4} for sku in SKUS[:3]})
    amazon = PacedChannel("amazon-eu")

    drain(ledger, {"amazon-eu": amazon}, worker_id="w1")
    assert amazon.events == ["await", "push 1"] * 3
    amazon.events.clear()
    drain(ledger, {"amazon-eu": amazon}, worker_id="w1")
    assert amazon.events == []


class SlowChannel(FakeChannel):
    """Each call takes ``seconds``: a rate-limited channel that keeps a drain busy."""

    def __init__(self, name: str, seconds: float) -> None:
        super().__init__(name)
        self.seconds = seconds

    def push_quantities(self, pushes: Sequence[QuantityPush]) -> list[PushResult]:
        time.sleep(self.seconds)
        return super().push_quantities(pushes)


class FlakyChannel(FakeChannel):
    """Refuses its first call with a 503."""

    def push_quantities(self, pushes: Sequence[QuantityPush]) -> list[PushResult]:
        self.calls.append(len(pushes))
        if len(self.calls) == 1:
            raise TransientChannelError(self.name, "HTTP 503", status=503)
        self.shows.update((p.listing_id, p.quantity) for p in pushes)
        return [PushResult(p.listing_id, PushStatus.APPLIED) for p in pushes]


def test_a_channel_that_failed_once_keeps_taking_changes_while_a_slow_one_drains(
    ledger: Ledger,
) -> None:
    shop_with(ledger, {"TEAL-MUG-350ML": {"berlin": 9}})
    woo, amazon = FlakyChannel("woo-site"), SlowChannel("amazon-eu", 1.5)
    timer = threading.Timer(0.5, lambda: ledger.record_order("shopify-main", "1", [LineIn(
        "TEAL-MUG-350ML", 2)]))  # fmt: skip
    timer.start()

    report = drain(
        ledger, {"woo-site": woo, "amazon-eu": amazon}, worker_id="w1",
        retry=RetryPolicy(base_s=0.05),
    )  # fmt: skip
    timer.join()

    assert report.channels["woo-site"].error is not None  # the 503 is reported…
    assert woo.shows == {"woo-site-TEAL-MUG-350ML": 7}  # …and the sale still went out
    assert len(woo.calls) >= 2
