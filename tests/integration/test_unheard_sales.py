"""Unheard sales under every interleaving: a compare-and-set channel that sells while we push.

A fake Shopify-like channel (all-or-nothing compare-and-set, counts read back after a stale call)
sells units at random moments: before our claim, between the claim and the call, between a
failed call and the read-back, after an applied call. Its orders reach the ledger late, at random
moments too, some of them while a push is in flight. However they interleave, once every order is
in the ledger and the drain has settled, the channel shows exactly what the ledger wants it to,
and no unit is held back as unheard; and after every drain, what the ledger expects the channel
to show exceeds what it shows by exactly the sales whose orders have not reached the ledger.
Each seed runs three ways: with stale calls reported as conflicts; with pushes rebased on the
stale count and sent again at once (``QuantityPush.rebased``); and with pushes sent as deltas
from the count we expect, reporting the count each met, as Shopify's connector does.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence

import pytest

from stocksync.channels.base import ListingIdentity, PushResult, PushStatus, QuantityPush
from stocksync.channels.shopify import ShopifyConnector
from stocksync.domain.messages import ChannelQuantity
from stocksync.ledger.results import LineIn
from stocksync.ledger.service import Ledger
from stocksync.sync.drain import drain
from tests.factories import shop_with
from tests.integration.push_support import listing

SKUS = ["TEAL-MUG-350ML", "OAK-COASTER", "BRASS-LAMP"]
SHOP = "shopify-main"


class SellingChannel:
    """Compare-and-set like Shopify; ``moment(where)`` runs at each point a sale could slip in."""

    compare_and_set = True
    max_batch = 250

    def __init__(self, moment: Callable[[str], None], *, mode: str = "conflicts") -> None:
        self.name = SHOP
        self.shows: dict[str, int] = {}
        self.moment = moment
        self.rebase = mode == "rebased"
        """Rebase a push on a count below its expected one and send it again
        (``QuantityPush.rebased``), instead of reporting a conflict."""
        self.delta = mode == "delta"
        """Send a push whose count we know as a delta, as Shopify's connector does."""

    def push_quantities(self, pushes: Sequence[QuantityPush]) -> list[PushResult]:
        self.moment("before the call")
        if self.delta:
            return [self._delta(p) for p in pushes]
        stale = [
            p for p in pushes
            if p.expected is not None and self.shows.get(p.listing_id, 0) != p.expected
        ]  # fmt: skip
        if stale:
            self.moment("after a stale call")
            results = {p.listing_id: self._stale(p) for p in stale}
            rest = [p for p in pushes if p.listing_id not in results]
            if rest:
                results.update((r.listing_id, r) for r in self.push_quantities(rest))
            return [results[p.listing_id] for p in pushes]
        for p in pushes:
            self.shows[p.listing_id] = p.quantity
        self.moment("after an applied call")
        return [PushResult(p.listing_id, PushStatus.APPLIED) for p in pushes]

    def _delta(self, p: QuantityPush) -> PushResult:
        """A delta from what we expect, reported by the Shopify connector's own rule."""
        if not p.rebase or p.expected is None or p.quantity == p.expected:
            results = self._set([p])
            return results[0]
        seen = self.shows.get(p.listing_id, 0)
        count = self.shows[p.listing_id] = seen + p.quantity - p.expected
        result = ShopifyConnector._met(p, seen, count)
        self.moment("after an applied call")
        return result

    def _set(self, pushes: Sequence[QuantityPush]) -> list[PushResult]:
        delta, self.delta = self.delta, False
        try:
            return self.push_quantities(pushes)
        finally:
            self.delta = delta

    def _stale(self, p: QuantityPush) -> PushResult:
        """The count read back after a stale call; the push rebased on it and applied, or not."""
        seen = self.shows.get(p.listing_id, 0)
        again = p.rebased(seen) if self.rebase else None
        if again is None:
            return PushResult(p.listing_id, PushStatus.CONFLICT, quantity_seen=seen)
        self.moment("before the rebased call")
        if self.shows.get(p.listing_id, 0) != seen:  # sold again meanwhile: stale once more
            return PushResult(p.listing_id, PushStatus.CONFLICT, quantity_seen=seen)
        self.shows[p.listing_id] = again.quantity
        return PushResult(
            p.listing_id, PushStatus.APPLIED, quantity_seen=seen, applied_quantity=again.quantity
        )

    def read_quantities(self, listing_ids: Sequence[str] | None = None) -> list[ChannelQuantity]:
        return [ChannelQuantity(k, None, v) for k, v in self.shows.items()]

    def identify(self, listings: Sequence[tuple[str, Mapping[str, str]]]) -> list[ListingIdentity]:
        return [ListingIdentity(listing_id, found=True) for listing_id, _ in listings]


class Sale:
    """Random sales on the channel and elsewhere, and their orders delivered late, in any order."""

    def __init__(self, ledger: Ledger, seed: int, *, mode: str = "conflicts") -> None:
        self.ledger = ledger
        self.rng = random.Random(seed)
        self.channel = SellingChannel(self.moment, mode=mode)
        self.undelivered: list[tuple[str, str]] = []
        self.n = 0

    def moment(self, where: str) -> None:
        if self.rng.random() < 0.5:
            self.sell_on_channel()
        if self.rng.random() < 0.3:
            self.sell_elsewhere()
        while self.undelivered and self.rng.random() < 0.4:
            self.deliver_one()

    def sell_on_channel(self) -> None:
        sku = self.rng.choice(SKUS)
        ext = f"{SHOP}-{sku}"
        if self.channel.shows.get(ext, 0) > 0:
            self.channel.shows[ext] -= 1
            self.n += 1
            self.undelivered.append((f"s{self.n}", sku))

    def sell_elsewhere(self) -> None:
        self.n += 1
        self.ledger.record_order("woo-site", f"w{self.n}", [LineIn(self.rng.choice(SKUS), 1)])

    def deliver_one(self) -> None:
        order_id, sku = self.undelivered.pop(self.rng.randrange(len(self.undelivered)))
        self.ledger.record_order(SHOP, order_id, [LineIn(sku, 1)])


@pytest.mark.parametrize("mode", ["conflicts", "rebased", "delta"])
@pytest.mark.parametrize("seed", range(12))
def test_however_sales_and_their_orders_interleave_the_channel_ends_where_the_ledger_wants(
    ledger: Ledger, seed: int, mode: str
) -> None:
    shop_with(ledger, {sku: {"berlin": 60} for sku in SKUS})
    sale = Sale(ledger, seed, mode=mode)
    quiet = sale.channel.moment
    sale.channel.moment = lambda where: None
    drain(ledger, {SHOP: sale.channel}, worker_id="w1")  # the initial push, no sales yet
    sale.channel.moment = quiet

    for _ in range(25):
        sale.moment("between drains")
        drain(ledger, {SHOP: sale.channel}, worker_id="w1", max_conflicts=100)
        for sku in SKUS:  # what we expect = what it shows + its sales we have not heard of yet
            state = listing(ledger, SHOP, sku)
            late = sum(1 for _, sold in sale.undelivered if sold == sku)
            assert state.expected - sale.channel.shows[f"{SHOP}-{sku}"] == late, sku
            assert state.unheard <= late, sku
    while sale.undelivered:
        sale.deliver_one()
    sale.channel.moment = lambda where: None
    drain(ledger, {SHOP: sale.channel}, worker_id="w1")

    for sku in SKUS:
        state = listing(ledger, SHOP, sku)
        assert (sale.channel.shows[f"{SHOP}-{sku}"], state.unheard) == (state.desired, 0), sku
    assert ledger.verify() == []
