"""The pure rules of a listing's push state: what a channel should show, when it needs a push,
and what each push outcome, count and stock change make of the state."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from stocksync.domain.listing_identity import MAX_REFUSALS, ListingState
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
    needs_push,
    push_quantity,
    shown_quantity,
    target,
)

NOW = datetime(2024, 11, 29, 9, 0, tzinfo=UTC)
EARLIER = NOW - timedelta(minutes=10)


def leased(**values: object) -> PushState:
    """A clean, active listing of the mug showing 10, leased by drainer w1; ``values`` on top."""
    base = PushState(
        desired_qty=10, expected_qty=10, dirty=False, version=4, pushed_qty=10, pushed_version=3,
        state=ListingState.ACTIVE, lease_owner="w1", lease_until=NOW + timedelta(minutes=5),
    )  # fmt: skip
    return replace(base, **values)  # type: ignore[arg-type]


def claim(listing: PushState, **values: object) -> ClaimedListing:
    """The claim of ``listing`` as it stands (``values`` say how it stood when claimed)."""
    claimed = ClaimedListing(
        id=7, channel_id=1, sku="TEAL-MUG-350ML", external_id="gid://shopify/InventoryItem/1",
        refs={}, version=listing.version, desired_qty=listing.desired_qty,
        expected_qty=listing.expected_qty, unheard_qty=listing.unheard_qty, state=listing.state,
        refusals=listing.refusals,
    )  # fmt: skip
    return replace(claimed, **values)  # type: ignore[arg-type]


def failure(listing: PushState, **values: object) -> Failed:
    base = Failed(listing=claim(listing), error="HTTP 503", delay_s=30.0, attempts=listing.attempts)
    return replace(base, **values)  # type: ignore[arg-type]


# what a channel should show, and when a listing needs a push


def test_a_channel_should_end_at_the_desired_quantity() -> None:
    assert target(desired_qty=8, unheard_qty=3) == 8
    assert not needs_push(expected_qty=8, desired_qty=8, unheard_qty=3)


def test_unheard_units_beyond_the_desired_quantity_are_the_target_and_nothing_is_pushed() -> None:
    assert target(desired_qty=2, unheard_qty=5) == 5
    assert push_quantity(desired_qty=2, unheard_qty=5) == 0
    assert not needs_push(expected_qty=5, desired_qty=2, unheard_qty=5)


def test_a_listing_never_pushed_needs_a_push() -> None:
    assert needs_push(expected_qty=None, desired_qty=0, unheard_qty=0)


def test_a_push_holds_back_unheard_units_and_compares_with_what_the_channel_shows() -> None:
    claimed = claim(leased(desired_qty=9, expected_qty=10, unheard_qty=2))
    assert (claimed.push_qty, claimed.shown_qty) == (7, 8)
    assert shown_quantity(expected_qty=None, unheard_qty=0) is None


# claims


def test_only_a_dirty_pushable_listing_not_backing_off_and_not_leased_is_due() -> None:
    free = leased(dirty=True, lease_owner=None, lease_until=None)
    assert is_due(free, NOW)
    assert not is_due(replace(free, dirty=False), NOW)
    assert not is_due(replace(free, state=ListingState.MISMATCHED), NOW)
    assert not is_due(replace(free, state=ListingState.REFUSED), NOW)
    assert is_due(replace(free, state=ListingState.UNVERIFIED), NOW)
    assert not is_due(replace(free, next_attempt_at=NOW + timedelta(seconds=1)), NOW)
    assert is_due(replace(free, next_attempt_at=NOW), NOW)
    assert not is_due(replace(free, lease_until=NOW), NOW)
    assert is_due(replace(free, lease_until=NOW - timedelta(seconds=1)), NOW)


# applied


def test_an_applied_push_is_what_the_channel_shows_and_the_listing_is_clean() -> None:
    before = leased(desired_qty=7, dirty=True, version=5, attempts=2, last_error="HTTP 503")
    after = after_applied(
        before, Applied(listing=claim(before), quantity=7), now=NOW, last_write_wins=False
    )
    assert (after.expected_qty, after.pushed_qty, after.pushed_version, after.dirty) == (
        7,
        7,
        5,
        False,
    )
    assert (after.attempts, after.refusals, after.last_error, after.next_attempt_at) == (
        0,
        0,
        None,
        None,
    )
    assert (after.pushed_at, after.lease_owner, after.lease_until) == (NOW, None, None)


def test_a_version_bumped_during_the_push_stays_dirty() -> None:
    claimed = claim(leased(desired_qty=10, version=4))
    now = leased(desired_qty=8, version=5, dirty=True)  # an order landed during the call
    after = after_applied(
        now, Applied(listing=claimed, quantity=10), now=NOW, last_write_wins=False
    )
    assert (after.expected_qty, after.pushed_version, after.dirty) == (10, 4, True)


def test_an_applied_push_carries_over_own_sales_heard_during_the_call() -> None:
    claimed = claim(leased(desired_qty=10, expected_qty=12))
    now = leased(desired_qty=8, expected_qty=10)  # the channel's own 2 units heard meanwhile
    after = after_applied(
        now, Applied(listing=claimed, quantity=10), now=NOW, last_write_wins=False
    )
    assert (after.expected_qty, after.dirty) == (8, False)


def test_a_last_write_wins_channel_stays_dirty_after_its_own_sale_during_the_call() -> None:
    """The sale's decrement may have landed before our write, which overwrote it."""
    claimed = claim(leased(desired_qty=10, expected_qty=12))
    now = leased(desired_qty=8, expected_qty=10)
    after = after_applied(now, Applied(listing=claimed, quantity=10), now=NOW, last_write_wins=True)
    assert (after.expected_qty, after.dirty) == (8, True)


def test_an_applied_push_keeps_counting_the_unheard_units_it_held_back() -> None:
    before = leased(desired_qty=9, expected_qty=10, unheard_qty=2, dirty=True)
    claimed = claim(before)
    after = after_applied(
        before, Applied(listing=claimed, quantity=claimed.push_qty), now=NOW, last_write_wins=False
    )
    assert (after.expected_qty, after.unheard_qty, after.dirty) == (9, 2, False)


# rebased


def test_a_rebased_push_turns_the_shortfall_into_unheard_units() -> None:
    """Someone set the count to 4 where we expected 10; the push of 9 went out as 3 against 4."""
    before = leased(desired_qty=9, expected_qty=10, dirty=True)
    outcome = Rebased(listing=claim(before), seen=4, quantity=3)
    after = after_rebased(before, outcome, now=NOW)
    assert (after.expected_qty, after.unheard_qty, after.unheard_since) == (9, 6, NOW)
    assert (after.pushed_qty, after.dirty, after.lease_owner) == (3, False, None)


def test_a_rebased_push_carries_over_own_sales_heard_during_the_call() -> None:
    claimed = claim(leased(desired_qty=9, expected_qty=10))
    now = leased(desired_qty=8, expected_qty=9, dirty=True)  # one own sale heard meanwhile
    after = after_rebased(now, Rebased(listing=claimed, seen=4, quantity=3), now=NOW)
    assert (after.expected_qty, after.unheard_qty) == (3 + 9 - 4, 5)


# conflicts


def test_a_conflict_below_expectation_becomes_unheard_and_the_listing_goes_again() -> None:
    """Shopify shows 8 where we expect 10: two units sold whose webhook is in flight."""
    before = leased(desired_qty=9, dirty=True)
    after = after_conflict(before, claim(before), 8, now=NOW)
    assert (after.expected_qty, after.unheard_qty, after.unheard_since) == (10, 2, NOW)
    assert (after.dirty, after.lease_owner) == (True, None)
    assert shown_quantity(after.expected_qty, after.unheard_qty) == 8
    assert push_quantity(after.desired_qty, after.unheard_qty) == 7


def test_a_conflict_above_expectation_is_taken_when_quiet_since_the_claim() -> None:
    """Someone raised the count in the admin: we expect what it shows, and overwrite it."""
    before = leased(desired_qty=2, expected_qty=3, dirty=True)
    after = after_conflict(before, claim(before), 7, now=NOW)
    assert (after.expected_qty, after.unheard_qty, after.dirty) == (7, 0, True)


def test_a_conflict_above_expectation_is_not_taken_after_a_sale_heard_since_the_claim() -> None:
    claimed = claim(leased(expected_qty=4))
    now = leased(desired_qty=2, expected_qty=3, dirty=True)  # an own sale heard since the claim
    after = after_conflict(now, claimed, 7, now=NOW)
    assert (after.expected_qty, after.unheard_qty) == (3, 0)


def test_a_first_count_of_a_listing_never_pushed_is_taken_as_it_is() -> None:
    before = leased(desired_qty=40, expected_qty=None, dirty=True)
    after = after_conflict(before, claim(before), 49, now=NOW)
    assert (after.expected_qty, after.unheard_qty, after.dirty) == (49, 0, True)


def test_a_conflict_without_a_count_only_gives_the_lease_back() -> None:
    before = leased(dirty=True)
    assert after_conflict(before, claim(before), None, now=NOW) == replace(
        before, lease_owner=None, lease_until=None
    )


def test_unheard_units_date_from_when_they_last_grew() -> None:
    before = leased(unheard_qty=3, unheard_since=EARLIER, dirty=True)
    assert after_conflict(before, claim(before), 6, now=NOW).unheard_since == NOW  # 4 unheard
    assert after_conflict(before, claim(before), 8, now=NOW).unheard_since == EARLIER  # 2
    assert after_conflict(before, claim(before), 10, now=NOW).unheard_since is None  # none


@given(
    expected=st.integers(-3, 30), unheard=st.integers(0, 30), seen=st.integers(-3, 30),
    desired=st.integers(0, 30),
)  # fmt: skip
def test_after_a_conflict_quiet_since_the_claim_we_know_what_the_channel_shows(
    expected: int, unheard: int, seen: int, desired: int
) -> None:
    before = leased(desired_qty=desired, expected_qty=expected, unheard_qty=unheard)
    after = after_conflict(before, claim(before), seen, now=NOW)
    assert shown_quantity(after.expected_qty, after.unheard_qty) == seen
    assert after.dirty == needs_push(after.expected_qty, desired, after.unheard_qty)


def test_a_count_seen_outside_a_lease_is_taken_below_expectation_only() -> None:
    before = leased(desired_qty=9, expected_qty=10, lease_owner="w2")
    lower = after_count_seen(before, 8, now=NOW)
    assert (lower.expected_qty, lower.unheard_qty, lower.lease_owner) == (10, 2, "w2")
    raised = after_count_seen(before, 12, now=NOW)
    assert (raised.expected_qty, raised.unheard_qty, raised.dirty) == (10, 0, True)
    assert raised.lease_owner == "w2"


# conflicts that wrote


def test_a_written_conflict_takes_the_count_it_left_and_counts_an_attempt() -> None:
    """A delta of +7 met 4 where we expected 3 and left 11 (we want 10)."""
    before = leased(desired_qty=10, expected_qty=3, dirty=True)
    after = after_written(before, 11)
    assert (after.expected_qty, after.unheard_qty, after.attempts, after.dirty) == (11, 0, 1, True)
    assert after.lease_owner is None


def test_a_written_conflict_that_lowered_a_raised_count_holds_nothing_back_as_unheard() -> None:
    """A delta of -3 met 4 where we expected 3 and left 1: our own write, not 2 unheard sales."""
    after = after_written(leased(desired_qty=0, expected_qty=3, dirty=True), 1)
    assert (after.expected_qty, after.unheard_qty, after.dirty) == (1, 0, True)


def test_a_written_conflict_keeps_the_unheard_units_as_they_are() -> None:
    after = after_written(leased(desired_qty=6, expected_qty=9, unheard_qty=2, dirty=True), 4)
    assert (after.expected_qty, after.unheard_qty, after.dirty) == (6, 2, False)


def test_a_written_conflict_without_a_count_still_counts_an_attempt() -> None:
    before = leased(attempts=1, dirty=True)
    assert after_written(before, None) == replace(
        before, attempts=2, lease_owner=None, lease_until=None
    )


# failures


def test_a_failure_counts_an_attempt_keeps_the_error_and_backs_off_still_dirty() -> None:
    before = leased(desired_qty=4, dirty=True, attempts=0)
    after = after_failure(before, failure(before, error="HTTP 503 " + "x" * 3000), now=NOW)
    assert (after.attempts, after.dirty, after.expected_qty) == (1, True, 10)
    assert after.next_attempt_at == NOW + timedelta(seconds=30)
    assert after.last_error is not None and len(after.last_error) == 2000
    assert after.lease_owner is None


def test_a_listing_that_kept_conflicting_pauses_without_counting_an_attempt() -> None:
    before = leased(dirty=True, attempts=0)
    after = after_failure(before, failure(before, counted=False, delay_s=0.5), now=NOW)
    assert (after.attempts, after.next_attempt_at) == (0, NOW + timedelta(seconds=0.5))


def test_the_attempts_count_on_from_the_claim() -> None:
    before = leased(dirty=True, attempts=3)
    assert after_failure(replace(before, attempts=0), failure(before), now=NOW).attempts == 4


def test_a_refusal_counts_and_the_limit_refuses_the_listing_for_good() -> None:
    before = leased(dirty=True, refusals=MAX_REFUSALS - 2)
    once = after_failure(before, failure(before, rejected=True, refusal=True), now=NOW)
    assert (once.refusals, once.state) == (MAX_REFUSALS - 1, ListingState.ACTIVE)
    last = failure(once, rejected=True, refusal=True, refused=True)
    held = after_failure(once, last, now=NOW)
    assert (held.refusals, held.state, held.dirty) == (MAX_REFUSALS, ListingState.REFUSED, True)


def test_a_refused_call_or_credentials_keep_the_refusals_as_they_were() -> None:
    before = leased(dirty=True, refusals=2)
    assert after_failure(before, failure(before, rejected=True), now=NOW).refusals == 2


def test_a_transient_failure_between_refusals_starts_the_count_again() -> None:
    before = leased(dirty=True, refusals=MAX_REFUSALS - 1)
    assert after_failure(before, failure(before), now=NOW).refusals == 0


def test_a_failure_keeps_the_state_the_push_went_out_with() -> None:
    """An unverified listing found right turned active before its push failed."""
    before = leased(dirty=True, state=ListingState.UNVERIFIED)
    went_out = replace(claim(before), state=ListingState.ACTIVE)
    after = after_failure(before, replace(failure(before), listing=went_out), now=NOW)
    assert after.state == ListingState.ACTIVE


# identity


def test_an_id_holding_the_sku_turns_active_and_keeps_its_lease_for_the_push() -> None:
    before = leased(dirty=True, state=ListingState.UNVERIFIED, last_error="old")
    found = Identified(listing=claim(before), channel_sku="TEAL-MUG-350ML", problem=None)
    after = after_identity_check(before, found)
    assert (after.state, after.channel_sku, after.last_error) == ("active", "TEAL-MUG-350ML", None)
    assert after.lease_owner == "w1"


def test_an_id_holding_another_sku_turns_mismatched_stays_dirty_and_gives_its_lease_back() -> None:
    before = leased(dirty=True, state=ListingState.UNVERIFIED)
    found = Identified(listing=claim(before), channel_sku="SLATE-TRAY-L", problem="wrong SKU")
    after = after_identity_check(before, found)
    assert (after.state, after.channel_sku, after.last_error) == (
        "mismatched",
        "SLATE-TRAY-L",
        "wrong SKU",
    )
    assert (after.dirty, after.lease_owner) == (True, None)
    assert not is_due(after, NOW)


# unheard units forgotten


def test_unheard_units_no_poll_explained_are_forgotten_and_the_listing_goes_again() -> None:
    """Someone set Shopify to 4 where we wanted 10: after a poll we expect what it shows."""
    before = leased(desired_qty=9, expected_qty=9, unheard_qty=6, unheard_since=EARLIER)
    after = after_unheard_forgotten(before, heard_before=NOW)
    assert (after.expected_qty, after.unheard_qty, after.unheard_since, after.dirty) == (
        3, 0, None, True,
    )  # fmt: skip


def test_unheard_units_younger_than_the_poll_are_kept() -> None:
    before = leased(expected_qty=9, unheard_qty=6, unheard_since=NOW)
    assert after_unheard_forgotten(before, heard_before=NOW) == before


def test_forgetting_unheard_units_that_were_the_whole_difference_leaves_the_listing_clean() -> None:
    before = leased(desired_qty=4, expected_qty=6, unheard_qty=2, unheard_since=EARLIER, dirty=True)
    assert after_unheard_forgotten(before, heard_before=NOW).dirty is False


# stock changes (the order path)


def test_a_sale_elsewhere_lowers_the_desired_quantity_and_bumps_the_version() -> None:
    change = after_stock_change(leased(), 7, last_write_wins=False)
    assert change is not None
    assert (change.desired_qty, change.expected_qty, change.dirty, change.version) == (
        7,
        10,
        True,
        5,
    )


def test_a_channels_own_sale_is_already_off_its_count() -> None:
    """Shopify sold 3 itself: it shows 7, and 7 is what it should show."""
    change = after_stock_change(leased(), 7, 3, last_write_wins=False)
    assert change is not None
    assert (change.expected_qty, change.dirty, change.version) == (7, False, 5)


def test_a_last_write_wins_channel_stays_dirty_after_its_own_sale() -> None:
    change = after_stock_change(leased(), 7, 3, last_write_wins=True)
    assert change is not None and change.dirty


def test_a_channels_own_sale_uses_up_the_units_a_conflict_showed_unheard() -> None:
    """The webhook lands for the 2 units Shopify was seen to lack: heard of, not sold twice."""
    before = leased(desired_qty=9, expected_qty=9, unheard_qty=2)
    change = after_stock_change(before, 7, 2, last_write_wins=False)
    assert change is not None
    assert (change.desired_qty, change.expected_qty, change.unheard_qty, change.dirty) == (
        7, 7, 0, False,
    )  # fmt: skip


def test_an_own_cancellation_leaves_the_counts_alone_and_pushes_the_listing_again() -> None:
    before = leased(desired_qty=7, expected_qty=7, unheard_qty=1)
    change = after_stock_change(before, 9, -2, last_write_wins=False)
    assert change is not None
    assert (change.expected_qty, change.unheard_qty, change.dirty) == (7, 1, True)


def test_an_own_cancellation_on_a_hidden_listing_makes_it_dirty() -> None:
    """The guard hides the SKU (desired 0); the customer cancels 2 on the channel, which puts
    them back on its own count: it shows 2 and must be set to 0 again."""
    before = leased(desired_qty=0, expected_qty=0)
    change = after_stock_change(before, 0, -2, last_write_wins=False)
    assert change is not None
    assert change.dirty


def test_a_put_back_a_delta_already_met_is_not_counted_twice() -> None:
    """Shopify shows 10. Its customer cancels 1 (11), and before the webhook arrives a delta of
    ours (-1, for a sale elsewhere) meets 11 and leaves 10: the ledger takes 10 in. When the
    cancellation arrives the ledger must not expect 11; the push it makes ends at the desired
    count on the channel."""
    channel = 11
    pushed = after_written(leased(desired_qty=9), seen=channel - 1)
    channel -= 1
    assert pushed.expected_qty == channel
    change = after_stock_change(pushed, 10, -1, last_write_wins=False)
    assert change is not None and change.dirty
    heard = replace(pushed, desired_qty=change.desired_qty, expected_qty=change.expected_qty,
                    dirty=change.dirty, version=change.version)  # fmt: skip
    assert heard.expected_qty == channel  # a compare-and-set of 10 against 10: applied
    assert push_quantity(heard.desired_qty, heard.unheard_qty) == 10


def test_a_last_write_wins_channel_is_pushed_again_after_its_own_cancellation() -> None:
    """Its restock may have landed just before a push of ours that overwrote it."""
    before = leased(desired_qty=7, expected_qty=7)
    change = after_stock_change(before, 9, -2, last_write_wins=True)
    assert change is not None and change.dirty


@given(last_write_wins=st.booleans(), sold=st.integers(-3, 3), desired=st.integers(0, 12))
def test_a_pending_push_outlives_other_stock_changes(
    last_write_wins: bool, sold: int, desired: int
) -> None:
    """Dirty (after a sale that may have been overwritten, a put-back, a desired change): no
    stock change that follows clears it, even one that brings the desired quantity back to what
    we expect; only a push does."""
    before = leased(desired_qty=9, expected_qty=10, dirty=True)
    change = after_stock_change(before, desired, sold, last_write_wins=last_write_wins)
    assert change is None or change.dirty


def test_a_clean_compare_and_set_listing_stays_clean_when_its_desired_count_holds() -> None:
    before = leased(desired_qty=8, expected_qty=8)
    assert after_stock_change(before, 8, last_write_wins=False) is None


def test_an_own_sale_of_a_listing_never_pushed_changes_no_count() -> None:
    before = leased(expected_qty=None, dirty=True)
    assert after_stock_change(before, 10, 3, last_write_wins=False) is None


def test_a_stock_change_that_changes_nothing_is_no_change() -> None:
    assert after_stock_change(leased(), 10, last_write_wins=True) is None
