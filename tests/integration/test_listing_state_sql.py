"""The ledger's set-based SQL for the push pipeline does exactly what the pure rules say.

Each example writes random states into real listing rows, runs one of the ledger's write-backs
(a batch of mixed push outcomes, an identity check, a count read back outside a lease, unheard
units forgotten), reads the rows back and requires each to be what
:mod:`stocksync.domain.listing_state` makes of its state. Rows whose lease another drainer holds
must come back untouched, and so must rows of another channel.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from stocksync.domain.clock import as_utc
from stocksync.domain.listing_identity import MAX_REFUSALS, PUSHABLE, ListingState
from stocksync.domain.listing_state import (
    Applied,
    ClaimedListing,
    Failed,
    Identified,
    PushState,
    Rebased,
    after_applied,
    after_conflict,
    after_count_seen,
    after_failure,
    after_identity_check,
    after_rebased,
    after_stock_change,
    after_unheard_forgotten,
    after_written,
    is_due,
)
from stocksync.ledger.push_leases import count_due
from stocksync.ledger.push_outcomes import (
    forget_unheard,
    record_identities,
    record_seen,
    write_back,
)
from stocksync.ledger.service import Ledger
from stocksync.ledger.tables import ChannelRow, ListingRow, SkuRow
from tests.factories import shop_with

SKUS = ["TEAL-MUG-350ML", "OAK-COASTER", "BRASS-LAMP", "LINEN-APRON", "CORK-TRIVET"]
SHOPIFY, WOO = "shopify-main", "woo-site"
OWNER, OTHER = "w1", "w2"
NOW = datetime(2024, 11, 29, 9, 0, 0, 250_000, tzinfo=UTC)
COLUMNS = [f.name for f in fields(PushState)]


@dataclass(frozen=True)
class Row:
    id: int
    channel_id: int
    channel: str
    sku: str
    external_id: str


@dataclass(frozen=True)
class Conflict:
    """A compare-and-set that met ``seen``; ``write_back(conflicts=...)`` takes it as a pair."""

    listing: ClaimedListing
    seen: int | None


@dataclass(frozen=True)
class Written:
    """A conflict whose push moved the count all the same (``write_back(written=...)``)."""

    listing: ClaimedListing
    seen: int | None


@pytest.fixture
def rows(ledger: Ledger) -> list[Row]:
    """Five SKUs listed on Shopify and WooCommerce: ten listing rows."""
    shop_with(ledger, {sku: {"berlin": 5} for sku in SKUS},
              channels=((SHOPIFY, "shopify", 30), (WOO, "woocommerce", 10)))  # fmt: skip
    stmt = (
        select(ListingRow.id, ListingRow.channel_id, ChannelRow.name, SkuRow.sku,
               ListingRow.external_id)
        .join(ChannelRow, ChannelRow.id == ListingRow.channel_id)
        .join(SkuRow, SkuRow.id == ListingRow.sku_id)
        .order_by(ListingRow.id)
    )  # fmt: skip
    return [Row(*r) for r in ledger.run(lambda s: s.execute(stmt).all())]


# Small ranges, so that the rules' equalities (a count met, a target reached, a moment passed)
# come up often.
counts = st.integers(-1, 6)
counts_or_none = st.integers(-2, 6).map(lambda n: None if n == -2 else n)
"""A count, now and then none (``st.none() | counts`` would be none half the time)."""
units = st.integers(0, 6)
moments = st.sampled_from([None, -3600, -1, 0, 1, 3600]).map(
    lambda s: None if s is None else NOW + timedelta(seconds=s)
)


@st.composite
def push_states(draw: st.DrawFn) -> PushState:
    """Any state a listing row can be in (units are unheard only against an expected count)."""
    expected = draw(counts_or_none)
    return PushState(
        desired_qty=draw(units),
        expected_qty=expected,
        unheard_qty=0 if expected is None else draw(units),
        unheard_since=draw(moments),
        dirty=draw(st.booleans()),
        version=draw(st.integers(0, 4)),
        pushed_qty=draw(st.none() | counts),
        pushed_version=draw(st.integers(0, 4)),
        pushed_at=draw(moments),
        attempts=draw(st.integers(0, 3)),
        refusals=draw(st.integers(0, MAX_REFUSALS)),
        next_attempt_at=draw(moments),
        last_error=draw(st.none() | st.just("HTTP 503")),
        state=draw(st.sampled_from(list(ListingState))),
        channel_sku=draw(st.none() | st.sampled_from(SKUS)),
        lease_owner=draw(st.sampled_from([OWNER, OWNER, OWNER, OTHER, None])),
        lease_until=draw(moments),
    )


@st.composite
def claims(draw: st.DrawFn, row: Row) -> tuple[ClaimedListing, PushState]:
    """A claim of the row, and the row when the outcome is written back: as claimed, after the
    stock moved meanwhile (an own sale heard, an order elsewhere), or anything at all."""
    then = draw(push_states())
    claimed = ClaimedListing(
        id=row.id, channel_id=row.channel_id, sku=row.sku, external_id=row.external_id, refs={},
        version=then.version, desired_qty=then.desired_qty, expected_qty=then.expected_qty,
        unheard_qty=then.unheard_qty, state=draw(st.sampled_from(PUSHABLE)),
        refusals=then.refusals,
    )  # fmt: skip
    meanwhile = draw(
        st.sampled_from(["nothing", "own sale", "own sale", "stock moved", "anything"])
    )
    if meanwhile == "anything":
        return claimed, draw(push_states())
    if meanwhile == "nothing":
        return claimed, then
    sold = draw(st.integers(1, 3)) if meanwhile == "own sale" else 0
    desired = draw(st.just(max(then.desired_qty - sold, 0)) | units)
    change = after_stock_change(then, desired, sold, last_write_wins=draw(st.booleans()))
    return claimed, then if change is None else replace(then, **asdict(change))


def outcomes(claimed: ClaimedListing) -> st.SearchStrategy[Any]:
    """One outcome of a push of ``claimed``, as the drain hands it to the ledger."""
    failed = st.builds(
        Failed, listing=st.just(claimed), error=st.sampled_from(["HTTP 503", "x" * 2500]),
        delay_s=st.floats(0, 7200, allow_nan=False), attempts=st.integers(0, 3),
        rejected=st.booleans(), counted=st.booleans(), refusal=st.booleans(),
        refused=st.booleans(),
    )  # fmt: skip
    applied = st.builds(
        Applied, listing=st.just(claimed), quantity=st.just(claimed.push_qty) | units
    )
    return st.one_of(
        applied,
        applied,  # the most common outcome, and the one with the most rules
        st.builds(Rebased, listing=st.just(claimed), seen=counts, quantity=units),
        st.builds(Conflict, listing=st.just(claimed), seen=counts_or_none),
        st.builds(Written, listing=st.just(claimed), seen=counts_or_none),
        failed,
        st.builds(
            Identified,
            listing=st.just(claimed),
            channel_sku=st.none() | st.sampled_from(SKUS),
            problem=st.none() | st.sampled_from(["no product on woo-site", "y" * 2500]),
        ),
    )


def expected_after(now: PushState, outcome: Any, last_write_wins: bool) -> PushState:
    """What the pure rules make of ``now`` after ``outcome``, when the lease is ours."""
    if now.lease_owner != OWNER:
        return now
    match outcome:
        case Applied():
            return after_applied(now, outcome, now=NOW, last_write_wins=last_write_wins)
        case Rebased():
            return after_rebased(now, outcome, now=NOW)
        case Failed():
            return after_failure(now, outcome, now=NOW)
        case Identified():
            return after_identity_check(now, outcome)
        case Conflict():
            return after_conflict(now, outcome.listing, outcome.seen, now=NOW)
        case Written():
            return after_written(now, outcome.seen)
    raise AssertionError(outcome)


def write_states(ledger: Ledger, states: dict[int, PushState]) -> None:
    def write(session: Any) -> None:
        for listing_id, state in states.items():
            session.execute(
                update(ListingRow).where(ListingRow.id == listing_id).values(**asdict(state))
            )

    ledger.run(write)


def read_states(ledger: Ledger) -> dict[int, PushState]:
    stmt = select(ListingRow.id, *(getattr(ListingRow, name) for name in COLUMNS))
    read = ledger.run(lambda s: s.execute(stmt).all())
    return {r[0]: PushState(**dict(zip(COLUMNS, map(_utc, r[1:]), strict=True))) for r in read}


def _utc(value: Any) -> Any:
    return as_utc(value) if isinstance(value, datetime) else value


@st.composite
def pipeline_rounds(draw: st.DrawFn, rows: list[Row]) -> tuple[dict[int, PushState], list[Any]]:
    """A state for every row, and one push outcome for most of them."""
    states, batch = {}, []
    for row in rows:
        if draw(st.integers(0, 4)):
            claimed, states[row.id] = draw(claims(row))
            batch.append(draw(outcomes(claimed)))
        else:
            states[row.id] = draw(push_states())
    return states, batch


EXAMPLES = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@EXAMPLES
@given(data=st.data(), last_write_wins=st.booleans())
def test_write_back_and_identity_checks_do_what_the_rules_say(
    ledger: Ledger, rows: list[Row], data: st.DataObject, last_write_wins: bool
) -> None:
    states, batch = data.draw(pipeline_rounds(rows))
    write_states(ledger, states)
    channel_id = rows[0].channel_id
    due = ledger.run(lambda s: count_due(s, channel_id, NOW))
    assert due == sum(is_due(states[r.id], NOW) for r in rows if r.channel_id == channel_id)

    def of(kind: type) -> list[Any]:
        return [o for o in batch if isinstance(o, kind)]

    identified = of(Identified)
    found = ledger.run(lambda s: record_identities(s, OWNER, identified))
    recorded = ledger.run(
        lambda s: write_back(
            s,
            OWNER,
            now=NOW,
            last_write_wins=last_write_wins,
            applied=of(Applied),
            rebased=of(Rebased),
            failed=of(Failed),
            conflicts=[(o.listing, o.seen) for o in of(Conflict)],
            written=[(o.listing, o.seen) for o in of(Written)],
        )
    )

    want = dict(states)
    for o in batch:
        want[o.listing.id] = expected_after(states[o.listing.id], o, last_write_wins)
    assert read_states(ledger) == want
    ours = {i for i, s in states.items() if s.lease_owner == OWNER}
    assert found == {o.listing.id for o in identified} & ours
    pushed = {o.listing.id for o in batch if not isinstance(o, Identified)}
    assert recorded == pushed & ours


@EXAMPLES
@given(data=st.data())
def test_counts_seen_outside_a_lease_and_unheard_units_forgotten_do_what_the_rules_say(
    ledger: Ledger, rows: list[Row], data: st.DataObject
) -> None:
    states = {row.id: data.draw(push_states()) for row in rows}
    write_states(ledger, states)
    shopify = [r for r in rows if r.channel == SHOPIFY]
    channel_id = shopify[0].channel_id

    if data.draw(st.booleans(), label="forget rather than record a count"):
        offset = data.draw(st.sampled_from([-3600, -1, 0, 1, 3600]), label="heard before")
        heard_before = NOW + timedelta(seconds=offset)
        changed = ledger.run(lambda s: forget_unheard(s, channel_id, heard_before))
        want = {r.id: after_unheard_forgotten(states[r.id], heard_before) for r in shopify}
        assert changed == sum(want[i] != states[i] for i in want)
    else:
        seen = data.draw(st.dictionaries(st.sampled_from(shopify), counts), label="seen")
        shows = {r.external_id: q for r, q in seen.items()} | {"NO-SUCH-LISTING": 3}
        assert ledger.run(lambda s: record_seen(s, channel_id, shows, NOW)) == len(seen)
        want = {r.id: after_count_seen(states[r.id], q, now=NOW) for r, q in seen.items()}

    assert read_states(ledger) == states | want
