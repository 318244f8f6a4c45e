"""A wrong listing id in a catalog, on every channel kind, over loopback HTTP: nothing is pushed
to it, the listing is mismatched and the seller is told; once ``channel map --apply`` gives it
the channel's own id, it syncs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stocksync.ledger.held_listings import held_listings
from stocksync.ledger.mapping import map_channel
from stocksync.ledger.service import Ledger
from stocksync.sandbox.harness import RunningEmulator, start_emulator
from stocksync.sync.drain import drain
from stocksync.sync.report import Outcome
from tests.factories import add_channels, add_locations, load_catalog

MUG, COASTER = "TEAL-MUG-350ML", "OAK-COASTER"
KINDS = ("shopify", "woocommerce", "amazon", "custom")


@pytest.fixture(params=KINDS)
def shop(request: pytest.FixtureRequest) -> Iterator[RunningEmulator]:
    running = start_emulator(request.param, "shop", {MUG: 20, COASTER: 40})
    yield running
    running.stop()


def test_a_wrong_id_is_never_pushed_is_reported_and_syncs_once_mapped(
    ledger: Ledger, shop: RunningEmulator
) -> None:
    # Amazon's listing id is the seller SKU itself: a typo there names no listing at all
    wrong = "B0-TYPO-MUG" if shop.kind == "amazon" else shop.listing_id(COASTER)
    add_locations(ledger, "berlin-dc")
    add_channels(ledger, ("shop", shop.kind, 10))
    load_catalog(
        ledger,
        f"sku,location,on_hand,listing:shop\n{MUG},berlin-dc,3,{wrong}\n{COASTER},berlin-dc,8,\n",
    )
    connector = shop.connector()

    report = drain(ledger, {"shop": connector}, worker_id="w1")

    assert [(r.sku, r.outcome) for r in report.channels["shop"].records] == [
        (MUG, Outcome.MISMATCHED)
    ]
    assert (shop.shown(MUG), shop.shown(COASTER)) == (20, 40)  # the coaster never got the mug's 3
    held = ledger.run(held_listings)
    assert [(h.sku, h.state, h.external_id) for h in held] == [(MUG, "mismatched", wrong)]
    assert [m.subject for m in ledger.verify()] == [f"shop/{MUG}"]

    mapping = ledger.run(lambda s: map_channel(s, "shop", connector.read_quantities(), apply=True))
    assert {p.sku: p.status for p in mapping.to_apply} == {MUG: "change", COASTER: "new"}
    report = drain(ledger, {"shop": connector}, worker_id="w1")

    assert sorted(r.sku for r in report.channels["shop"].pushed) == [COASTER, MUG]
    shop.advance_clock(600)  # Amazon applies an accepted patch minutes later
    assert (shop.shown(MUG), shop.shown(COASTER)) == (3, 8)
    assert ledger.run(held_listings) == []
    assert ledger.verify() == []
