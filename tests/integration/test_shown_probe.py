"""Read-back probes time when a push shows on a channel that applies writes late."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from sqlalchemy import select, update

from stocksync.domain.messages import ChannelQuantity
from stocksync.ledger.service import Ledger
from stocksync.ledger.tables import ChannelRow, ListingRow, PushTimingRow
from stocksync.sandbox.harness import start_emulator
from stocksync.sync import shown_probe
from stocksync.sync.drain import drain
from stocksync.sync.shown_probe import ShownProbes
from tests.factories import shop_with


class LateChannel:
    """Shows each of ``counts`` in turn, one per read (the last one from then on)."""

    name = "amazon-eu"
    compare_and_set = False
    max_batch = 10
    applies_late = True

    def __init__(self, counts: Sequence[int]) -> None:
        self.counts = list(counts)
        self.reads = 0
        self.release = threading.Event()
        self.release.set()

    def read_quantities(self, listing_ids: Sequence[str] | None = None) -> list[ChannelQuantity]:
        self.release.wait(5)
        qty = self.counts[min(self.reads, len(self.counts) - 1)]
        self.reads += 1
        return [ChannelQuantity("X-1", None, qty)]


def _channel_id(ledger: Ledger) -> int:
    shop_with(ledger, {"TEAL-MUG-350ML": {"berlin": 5}})
    return ledger.run(
        lambda s: s.execute(
            select(ChannelRow.id).where(ChannelRow.name == "amazon-eu")
        ).scalar_one()
    )


def _timings(ledger: Ledger) -> list[tuple[float, bool]]:
    rows = ledger.run(lambda s: s.execute(select(PushTimingRow.seconds, PushTimingRow.read_back)))
    return [(seconds, back) for seconds, back in rows]


def _wait_idle(probes: ShownProbes, channel_id: int) -> None:
    deadline = time.monotonic() + 10
    while probes.running(channel_id) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not probes.running(channel_id)


def test_a_probe_records_claim_to_shown_once_the_channel_shows_the_pushed_quantity(
    ledger: Ledger, monkeypatch
) -> None:
    monkeypatch.setattr(shown_probe, "FIRST_READ_S", 0.01)
    channel_id = _channel_id(ledger)
    probes, late = ShownProbes(), LateChannel([9, 9, 4])
    claimed = time.monotonic() - 1.0

    assert probes.start(ledger, late, channel_id, ("X-1", 4), claimed)
    _wait_idle(probes, channel_id)

    [(seconds, read_back)] = _timings(ledger)
    assert read_back and 1.0 <= seconds < 5.0 and late.reads == 3


def test_a_count_moved_by_something_else_gives_no_sample(ledger: Ledger, monkeypatch) -> None:
    monkeypatch.setattr(shown_probe, "FIRST_READ_S", 0.01)
    channel_id = _channel_id(ledger)
    probes = ShownProbes()

    probes.start(ledger, LateChannel([9, 8]), channel_id, ("X-1", 4), time.monotonic())
    _wait_idle(probes, channel_id)

    assert _timings(ledger) == []


def test_one_probe_runs_at_a_time_per_channel_and_they_are_spaced(
    ledger: Ledger, monkeypatch
) -> None:
    monkeypatch.setattr(shown_probe, "FIRST_READ_S", 0.01)
    channel_id = _channel_id(ledger)
    now = [100.0]
    probes, late = ShownProbes(clock=lambda: now[0]), LateChannel([4])

    assert probes.start(ledger, late, channel_id, ("X-1", 4), now[0])
    _wait_idle(probes, channel_id)
    now[0] += shown_probe.PROBE_SPACING_S / 2
    assert not probes.start(ledger, late, channel_id, ("X-1", 4), now[0])  # too soon
    now[0] += shown_probe.PROBE_SPACING_S
    late.release.clear()  # the next read hangs: the probe keeps running
    assert probes.start(ledger, late, channel_id, ("X-1", 4), now[0])
    now[0] += 5 * shown_probe.PROBE_SPACING_S
    assert not probes.start(ledger, late, channel_id, ("X-1", 4), now[0])  # one is running
    late.release.set()
    _wait_idle(probes, channel_id)
    assert [back for _, back in _timings(ledger)] == [True, True]


def test_every_applied_batch_leaves_a_push_timing_of_its_channel(ledger: Ledger) -> None:
    shop_with(
        ledger, {"TEAL-MUG-350ML": {"berlin": 5}}, channels=(("woo-site", "woocommerce", 10),)
    )
    ids = {"TEAL-MUG-350ML": "woo-site-TEAL-MUG-350ML"}
    with start_emulator("woocommerce", "woo-site", {"TEAL-MUG-350ML": 0}) as woo:
        listing = woo.listing_id("TEAL-MUG-350ML")
        ledger.run(
            lambda s: s.execute(
                update(ListingRow).where(ListingRow.external_id == ids["TEAL-MUG-350ML"])
                .values(external_id=listing)
            )
        )  # fmt: skip
        report = drain(ledger, {"woo-site": woo.connector()}, worker_id="w1")

        assert report.counts()["woo-site"]["pushed"] == 1 and woo.shown("TEAL-MUG-350ML") == 5
    [(seconds, read_back)] = _timings(ledger)
    assert not read_back and 0 <= seconds < 30
