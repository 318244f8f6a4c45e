"""A listing's id is checked on the channel before its first push, and a push the channel keeps
refusing is held back for a person instead of being retried without end."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta

from sqlalchemy import select

from stocksync.alerts.service import alert_held
from stocksync.alerts.slack_messages import SlackMessage
from stocksync.channels.base import ListingIdentity, PushResult, PushStatus, QuantityPush
from stocksync.channels.errors import TransientChannelError
from stocksync.domain.clock import utcnow
from stocksync.domain.listing_identity import MAX_REFUSALS
from stocksync.domain.messages import ChannelQuantity
from stocksync.ledger.held_listings import held_listings, retry_listing
from stocksync.ledger.service import Ledger
from stocksync.ledger.tables import ListingRow
from stocksync.sync.drain import drain
from stocksync.sync.report import Outcome
from stocksync.sync.wakeup import seconds_until_due
from tests.factories import shop_with

SKUS = ("TEAL-MUG-350ML", "OAK-COASTER")
WOO = "woo-site"


class Channel:
    """A channel holding SKUs under ids, as its API would tell them; pushes land by id."""

    compare_and_set = False
    max_batch = 100

    def __init__(self, holds: Mapping[str, str | None], *, refuse: Sequence[str] = ()) -> None:
        self.name = WOO
        self.holds = dict(holds)
        self.refuse = set(refuse)
        self.busy: set[str] = set()
        self.shows: dict[str, int] = {}
        self.identified: list[str] = []
        self.pushed: list[str] = []
        self.identify_fails = False

    def identify(self, listings: Sequence[tuple[str, Mapping[str, str]]]) -> list[ListingIdentity]:
        if self.identify_fails:
            raise TransientChannelError(self.name, "HTTP 503")
        self.identified.extend(i for i, _ in listings)
        return [
            ListingIdentity(i, True, self.holds[i])
            if i in self.holds
            else ListingIdentity(i, False, problem=f"no product {i} on {self.name}")
            for i, _ in listings
        ]

    def push_quantities(self, pushes: Sequence[QuantityPush]) -> list[PushResult]:
        results = []
        for p in pushes:
            self.pushed.append(p.listing_id)
            if p.listing_id in self.refuse:
                results.append(PushResult(p.listing_id, PushStatus.REJECTED, message="Invalid ID"))
                continue
            if p.listing_id in self.busy:
                results.append(PushResult(p.listing_id, PushStatus.RETRY_LATER, message="HTTP 503"))
                continue
            self.shows[p.listing_id] = p.quantity
            results.append(PushResult(p.listing_id, PushStatus.APPLIED))
        return results

    def read_quantities(self, listing_ids: Sequence[str] | None = None) -> list[ChannelQuantity]:
        return [ChannelQuantity(k, self.holds.get(k), v) for k, v in self.shows.items()]


class RecordingNotifier:
    def __init__(self) -> None:
        self.messages: list[SlackMessage] = []

    def post(self, message: SlackMessage) -> str:
        self.messages.append(message)
        return str(len(self.messages))


def _shop(ledger: Ledger) -> None:
    shop_with(ledger, {sku: {"berlin": 9} for sku in SKUS}, channels=((WOO, "woocommerce", 10),))


def _id(sku: str) -> str:
    return f"{WOO}-{sku}"


def _row(ledger: Ledger, sku: str) -> ListingRow:
    def read(s):  # noqa: ANN001, ANN202
        row = s.execute(select(ListingRow).where(ListingRow.external_id == _id(sku))).scalar_one()
        s.expunge(row)
        return row

    return ledger.run(read)


def test_a_listing_whose_id_holds_its_sku_is_checked_once_then_pushed(ledger: Ledger) -> None:
    _shop(ledger)
    woo = Channel({_id(s): s for s in SKUS})

    report = drain(ledger, {WOO: woo}, worker_id="w1")

    assert sorted(woo.identified) == sorted(_id(s) for s in SKUS)
    assert woo.shows == {_id(s): 9 for s in SKUS}
    assert [r.outcome for r in report.channels[WOO].records] == [Outcome.PUSHED] * 2
    row = _row(ledger, "OAK-COASTER")
    assert (row.state, row.channel_sku, row.dirty) == ("active", "OAK-COASTER", False)
    ledger.adjust("OAK-COASTER", -2, "berlin", reason="adjustment")
    drain(ledger, {WOO: woo}, worker_id="w1")
    assert len(woo.identified) == 2  # checked once: the next push goes out without a look-up
    assert woo.shows[_id("OAK-COASTER")] == 7


def test_an_id_holding_another_sku_is_never_pushed_and_the_seller_is_told(
    ledger: Ledger,
) -> None:
    _shop(ledger)
    woo = Channel({_id("TEAL-MUG-350ML"): "TEAL-MUG-350ML", _id("OAK-COASTER"): "SLATE-TRAY-L"})

    report = drain(ledger, {WOO: woo}, worker_id="w1")

    assert woo.pushed == [_id("TEAL-MUG-350ML")]  # the coaster's 9 never reach the tray
    coaster = [r for r in report.channels[WOO].records if r.sku == "OAK-COASTER"]
    assert [r.outcome for r in coaster] == [Outcome.MISMATCHED]
    assert "'SLATE-TRAY-L'" in coaster[0].message
    assert report.held() == coaster
    row = _row(ledger, "OAK-COASTER")
    assert (row.state, row.channel_sku, row.dirty, row.lease_owner) == (
        "mismatched", "SLATE-TRAY-L", True, None,
    )  # fmt: skip
    mismatches = ledger.verify()
    assert [(m.subject, m.field) for m in mismatches] == [(f"{WOO}/OAK-COASTER", "state")]
    assert "SLATE-TRAY-L" in mismatches[0].actual

    ledger.adjust("OAK-COASTER", -1, "berlin", reason="adjustment")
    drain(ledger, {WOO: woo}, worker_id="w1")
    assert woo.pushed == [_id("TEAL-MUG-350ML")] and len(woo.identified) == 2
    with ledger.engine.connect() as conn:  # a held listing does not keep the worker awake
        assert seconds_until_due(conn, utcnow(), [WOO]) is None

    slack = RecordingNotifier()
    first, again = alert_held(ledger, slack), alert_held(ledger, slack)
    assert len(first.sent) == 1 and again.sent == [] and len(slack.messages) == 1
    assert "OAK-COASTER" in slack.messages[0].text
    assert "stocksync channel map woo-site" in str(slack.messages[0].blocks)


def test_an_id_the_channel_does_not_have_is_mismatched_with_the_channels_words(
    ledger: Ledger,
) -> None:
    _shop(ledger)
    woo = Channel({_id("TEAL-MUG-350ML"): "TEAL-MUG-350ML"})

    drain(ledger, {WOO: woo}, worker_id="w1")

    row = _row(ledger, "OAK-COASTER")
    assert (row.state, row.channel_sku) == ("mismatched", None)
    assert row.last_error == f"no product {_id('OAK-COASTER')} on woo-site"
    assert [h.sku for h in ledger.run(held_listings)] == ["OAK-COASTER"]


def test_a_channel_that_shows_no_sku_of_its_own_cannot_contradict_the_ledger(
    ledger: Ledger,
) -> None:
    _shop(ledger)
    woo = Channel({_id(s): None for s in SKUS})  # Amazon: the listing id is the seller SKU

    drain(ledger, {WOO: woo}, worker_id="w1")

    assert woo.shows == {_id(s): 9 for s in SKUS}
    assert _row(ledger, "TEAL-MUG-350ML").state == "active"


def test_a_failed_look_up_pushes_nothing_and_checks_again_later(ledger: Ledger) -> None:
    _shop(ledger)
    woo = Channel({_id(s): s for s in SKUS})
    woo.identify_fails = True

    report = drain(ledger, {WOO: woo}, worker_id="w1")

    assert woo.pushed == []
    assert {r.outcome for r in report.channels[WOO].records} == {Outcome.RETRY}
    row = _row(ledger, "TEAL-MUG-350ML")
    assert (row.state, row.attempts, row.dirty) == ("unverified", 1, True)
    woo.identify_fails = False
    later = utcnow() + timedelta(hours=1)
    drain(ledger, {WOO: woo}, worker_id="w1", clock=lambda: later)
    assert woo.shows == {_id(s): 9 for s in SKUS}


def test_a_push_refused_again_and_again_is_held_back_after_max_refusals(ledger: Ledger) -> None:
    _shop(ledger)
    woo = Channel({_id(s): s for s in SKUS}, refuse=[_id("OAK-COASTER")])
    now = utcnow()
    outcomes = []
    for n in range(MAX_REFUSALS + 2):
        at = now + timedelta(days=n)  # past any backoff
        report = drain(ledger, {WOO: woo}, worker_id="w1", clock=lambda at=at: at)
        outcomes += [r.outcome for r in report.channels[WOO].records if r.sku == "OAK-COASTER"]

    assert outcomes == [Outcome.REJECTED] * (MAX_REFUSALS - 1) + [Outcome.REFUSED]
    assert woo.pushed.count(_id("OAK-COASTER")) == MAX_REFUSALS
    row = _row(ledger, "OAK-COASTER")
    assert (row.state, row.refusals, row.last_error) == ("refused", MAX_REFUSALS, "Invalid ID")
    assert woo.shows == {_id("TEAL-MUG-350ML"): 9}  # its neighbour syncs all along


def test_a_transient_failure_between_refusals_starts_the_count_again(ledger: Ledger) -> None:
    _shop(ledger)
    woo = Channel({_id(s): s for s in SKUS}, refuse=[_id("OAK-COASTER")])
    now = utcnow()

    def drain_on(day: int) -> None:
        at = now + timedelta(days=day)
        drain(ledger, {WOO: woo}, worker_id="w1", clock=lambda: at)

    for day in range(MAX_REFUSALS - 1):
        drain_on(day)
    assert _row(ledger, "OAK-COASTER").refusals == MAX_REFUSALS - 1
    woo.refuse.clear()
    woo.busy.add(_id("OAK-COASTER"))
    drain_on(MAX_REFUSALS)
    woo.busy.clear()
    woo.refuse.add(_id("OAK-COASTER"))
    drain_on(MAX_REFUSALS + 1)

    row = _row(ledger, "OAK-COASTER")
    assert (row.state, row.refusals, row.attempts) == ("active", 1, MAX_REFUSALS + 1)


def test_a_held_listing_retried_is_checked_again_and_synced_once_fixed(ledger: Ledger) -> None:
    _shop(ledger)
    woo = Channel({_id("TEAL-MUG-350ML"): "TEAL-MUG-350ML", _id("OAK-COASTER"): "SLATE-TRAY-L"})
    drain(ledger, {WOO: woo}, worker_id="w1")
    woo.holds[_id("OAK-COASTER")] = "OAK-COASTER"  # the seller fixed the SKU in the shop

    before = ledger.run(lambda s: retry_listing(s, WOO, "OAK-COASTER"))
    drain(ledger, {WOO: woo}, worker_id="w1")

    assert before == "mismatched"
    assert woo.shows[_id("OAK-COASTER")] == 9
    assert _row(ledger, "OAK-COASTER").state == "active"
    assert ledger.verify() == []
