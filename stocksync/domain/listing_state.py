"""A listing's push state, and what every push outcome and every stock change make of it.

These are the anti-oversell rules as plain values. The ledger runs them as set-based SQL on the
hot path (``stocksync.ledger.push_outcomes``, ``stocksync.ledger.listings``), and a property test
(``tests/integration/test_listing_state_sql.py``) holds that SQL to these functions; reconciling a
channel's counts classifies drift with them too.

Three counts tell where a listing stands:

* ``desired_qty``: what the rules want the channel to list now;
* ``expected_qty``: what the channel will show once the ledger has heard of every sale the
  channel made itself: what we last pushed, less the channel's own orders ingested since (None:
  nothing pushed, nothing known);
* ``unheard_qty``: units a count showed the channel had sold beyond ``expected_qty``, whose orders
  the ledger has not recorded yet (most often a webhook in flight). The channel itself shows
  ``expected_qty - unheard_qty``; hearing of the channel's own orders uses the units up, and until
  then every push holds them back, so they are not sold twice.

A listing is dirty (it needs a push) while the channel may show something other than what it
should (:func:`needs_push`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from stocksync.domain.listing_identity import PUSHABLE, ListingState

__all__ = [
    "ERROR_CHARS",
    "Applied",
    "ClaimedListing",
    "Failed",
    "Identified",
    "ListedQuantities",
    "PushState",
    "QuantityChange",
    "Rebased",
    "after_applied",
    "after_conflict",
    "after_count_seen",
    "after_failure",
    "after_identity_check",
    "after_rebased",
    "after_stock_change",
    "after_unheard_forgotten",
    "after_written",
    "heard_since_claim",
    "is_due",
    "needs_push",
    "push_quantity",
    "settled_at_zero",
    "shown_quantity",
    "target",
]

ERROR_CHARS = 2000
"""How much of a channel's error a listing keeps."""


def target(desired_qty: int, unheard_qty: int) -> int:
    """``expected_qty`` once the channel shows what it should: ``desired_qty``, or the unheard
    units when they exceed it (the channel then shows 0; pushing cannot take it lower)."""
    return desired_qty if desired_qty >= unheard_qty else unheard_qty


def needs_push(expected_qty: int | None, desired_qty: int, unheard_qty: int) -> bool:
    """Whether a listing is dirty: nothing is known of what the channel shows, or it will not
    show the :func:`target` once every sale is heard of."""
    return expected_qty is None or expected_qty != target(desired_qty, unheard_qty)


def push_quantity(desired_qty: int, unheard_qty: int) -> int:
    """What the channel should show: the desired quantity less the units it sold that the
    ledger has not heard of yet (they are not in ``desired_qty`` yet)."""
    return max(desired_qty - unheard_qty, 0)


def settled_at_zero(
    expected_qty: int | None,
    unheard_qty: int,
    pushed_at: datetime | None,
    settle_s: float,
    now: datetime,
) -> bool:
    """Whether the channel shows 0 and has sold nothing the ledger has not heard of.

    It shows 0 once every sale is heard of (``expected_qty`` at or below 0, no unheard units).
    Sales after the last push took the count down from what it set, so the ledger has heard of
    them all (the channel cannot sell below 0); sales of the count the push replaced may still
    be on their way until ``settle_s`` (the channel's push to shown plus its order lateness,
    ``stocksync.domain.sync_lag.settle_seconds``) after the push.
    """
    if expected_qty is None or expected_qty > 0 or unheard_qty > 0 or pushed_at is None:
        return False
    return (now - pushed_at).total_seconds() >= settle_s


def shown_quantity(expected_qty: int | None, unheard_qty: int) -> int | None:
    """What the channel shows now, as far as we know: the compare-and-set value."""
    return None if expected_qty is None else expected_qty - unheard_qty


@dataclass(frozen=True, slots=True, kw_only=True)
class PushState:
    """The columns of a listing row that the push pipeline and the order path read and write.

    ``unheard_qty`` is 0 whenever ``expected_qty`` is None: units can only be unheard against
    a count we expect.
    """

    desired_qty: int
    expected_qty: int | None
    unheard_qty: int = 0
    unheard_since: datetime | None = None
    """When ``unheard_qty`` last grew; polled orders that never bring them age them out."""
    dirty: bool = True
    version: int = 0
    """Moves with every change of ``desired_qty``; a push records the version it carried."""
    pushed_qty: int | None = None
    pushed_version: int = 0
    pushed_at: datetime | None = None
    attempts: int = 0
    """Failed pushes in a row; zero again once the channel applies one."""
    refusals: int = 0
    """Pushes in a row the channel refused (see ``listing_identity.MAX_REFUSALS``)."""
    next_attempt_at: datetime | None = None
    """A listing backing off after a failure is not claimed before this."""
    last_error: str | None = None
    state: str = ListingState.UNVERIFIED
    """Its identity on the channel (:class:`ListingState`); only pushable states are pushed."""
    channel_sku: str | None = None
    lease_owner: str | None = None
    """The drainer pushing this listing now; only it may record the outcome."""
    lease_until: datetime | None = None


def is_due(listing: PushState, now: datetime) -> bool:
    """Whether a drainer may claim the listing now: dirty, pushable, not backing off, and not
    leased (or its lease ran out)."""
    return (
        listing.dirty
        and listing.state in PUSHABLE
        and (listing.next_attempt_at is None or listing.next_attempt_at <= now)
        and (listing.lease_until is None or listing.lease_until < now)
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimedListing:
    """A listing leased for one push, with the state it had when claimed.

    The claim captures (version, desired, expected) as they are at that moment: only the latest
    desired quantity goes out, however many versions came before it (coalescing).
    """

    id: int
    channel_id: int
    sku: str
    external_id: str
    refs: dict[str, Any]
    version: int
    desired_qty: int
    expected_qty: int | None
    unheard_qty: int = 0
    state: str = ListingState.ACTIVE
    """``unverified``: the channel's identity of ``external_id`` is checked before the push."""
    refusals: int = 0
    changed_at: datetime | None = None
    """When the ledger last changed what the listing should show (its desired quantity)."""

    @property
    def push_qty(self) -> int:
        """What the next push sends (:func:`push_quantity`)."""
        return push_quantity(self.desired_qty, self.unheard_qty)

    @property
    def shown_qty(self) -> int | None:
        """What the channel shows now, as far as we know (:func:`shown_quantity`)."""
        return shown_quantity(self.expected_qty, self.unheard_qty)


@dataclass(frozen=True, slots=True, kw_only=True)
class Applied:
    """The channel took the push: it shows ``quantity`` now."""

    listing: ClaimedListing
    quantity: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Rebased:
    """Applied after the channel rebased the push on a fresh count below what we expected
    (``QuantityPush.rebased``): ``seen`` is that count, ``quantity`` what the channel now shows."""

    listing: ClaimedListing
    seen: int
    quantity: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Failed:
    """A push that did not land: try again after ``delay_s``."""

    listing: ClaimedListing
    error: str
    delay_s: float
    attempts: int
    """What ``attempts`` was when claimed; the record stores one more."""
    rejected: bool = False
    """The channel refused it (or us); a person may have to act."""
    counted: bool = True
    """Whether it counts as a failed attempt (a listing that kept conflicting does not)."""
    refusal: bool = False
    """The channel refused this listing's push (not our credentials, not the whole call)."""
    refused: bool = False
    """The channel refused it once too often: held back (``refused``) until a person acts."""

    @property
    def refusals(self) -> int:
        """The listing's refusals in a row once this is recorded: one more for a refusal, as
        they were for a refused call or credentials (nothing said about the listing), none
        after any other failure."""
        if self.refusal:
            return self.listing.refusals + 1
        return self.listing.refusals if self.rejected else 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Identified:
    """What an identity check found under a listing's id: ``problem`` None, the ledger's SKU
    (the listing turns ``active`` and is pushed); else it turns ``mismatched``."""

    listing: ClaimedListing
    channel_sku: str | None
    problem: str | None


def heard_since_claim(listing: PushState, claimed_expected: int | None) -> bool:
    """The ledger heard of the channel's own sales since the claim (``expected_qty`` moved from
    ``claimed_expected``, what it was when the listing was claimed)."""
    return (
        listing.expected_qty is not None
        and claimed_expected is not None
        and listing.expected_qty != claimed_expected
    )


def _released(listing: PushState, **changes: Any) -> PushState:
    """The listing with ``changes`` and its lease given back."""
    return replace(listing, lease_owner=None, lease_until=None, **changes)


def after_applied(
    listing: PushState, outcome: Applied, *, now: datetime, last_write_wins: bool
) -> PushState:
    """The channel shows ``outcome.quantity`` now.

    Orders the channel sold since the claim already lowered ``expected_qty`` by their units, so
    that difference is carried over onto the pushed quantity, and so are the unheard units held
    back from it (``expected_qty`` counts them until their orders arrive). The listing stays
    dirty only if the channel would still show something other than the (possibly newer)
    desired quantity; or, when its writes overwrite (``last_write_wins``: no compare-and-set),
    if the ledger heard of its own sales during the call, which the push may have overwritten.
    """
    claimed = outcome.listing
    return _pushed(
        listing, outcome.quantity, claimed.version, claimed.expected_qty, claimed.unheard_qty,
        now=now, last_write_wins=last_write_wins,
    )  # fmt: skip


def _pushed(
    listing: PushState,
    quantity: int,
    version: int,
    claimed_expected: int | None,
    held_back: int,
    *,
    now: datetime,
    last_write_wins: bool,
) -> PushState:
    expected = quantity + held_back
    if listing.expected_qty is not None and claimed_expected is not None:
        expected += listing.expected_qty - claimed_expected
    dirty = needs_push(expected, listing.desired_qty, listing.unheard_qty)
    if last_write_wins:
        dirty = dirty or heard_since_claim(listing, claimed_expected)
    return _released(
        listing, pushed_qty=quantity, expected_qty=expected, pushed_version=version,
        pushed_at=now, dirty=dirty, attempts=0, refusals=0, next_attempt_at=None,
        last_error=None,
    )  # fmt: skip


def after_rebased(listing: PushState, outcome: Rebased, *, now: datetime) -> PushState:
    """The channel was set to ``outcome.quantity`` against its count ``outcome.seen``
    (compare-and-set).

    At that moment the channel lacked ``expected_qty - seen`` units of what we expect: sales not
    heard of yet, which become ``unheard_qty``. Orders heard since (in ``expected_qty`` now) are
    carried over as for any applied push: :func:`after_applied` with ``seen`` as the claimed
    expectation and nothing held back gives ``expected = quantity + expected_now - seen``.
    """
    unheard = _shortfall(listing.expected_qty, outcome.seen)
    counted = replace(
        listing, unheard_qty=unheard, unheard_since=_unheard_since(listing, unheard, now)
    )
    return _pushed(
        counted, outcome.quantity, outcome.listing.version, outcome.seen, 0,
        now=now, last_write_wins=False,
    )  # fmt: skip


def _shortfall(expected_qty: int | None, seen: int) -> int:
    """Units the channel lacks of what we expect it to show: unheard sales."""
    return 0 if expected_qty is None else max(expected_qty - seen, 0)


def _unheard_since(listing: PushState, unheard: int, now: datetime) -> datetime | None:
    """When the listing's unheard units began: ``now`` if ``unheard`` adds some, else as was
    while some remain, else none."""
    if unheard > listing.unheard_qty:
        return now
    return listing.unheard_since if unheard > 0 else None


def after_conflict(
    listing: PushState, claimed: ClaimedListing, seen: int | None, *, now: datetime
) -> PushState:
    """A compare-and-set found the count ``seen`` (None: it did not say): take it in, and give
    the lease back so that the listing goes again.

    Fewer units than we expect are sales whose orders the ledger has not heard of yet, most often
    a webhook in flight: they become ``unheard_qty`` and the next push holds them back, instead of
    offering them again (the channel sold them) or counting them twice when the order arrives.

    More units than we expect are someone else's change on the channel (a person in its admin),
    to be overwritten by the next push: we expect what it shows. But only when the ledger heard of
    none of the channel's sales since the claim (``claimed.expected_qty``; None: never pushed): a
    sale heard since may have happened after the count was read, so the count is too high by it,
    and trusting it would leave a unit counted as unheard forever. Then ``expected_qty`` stays; if
    the channel really holds more, the next conflict says so.
    """
    if seen is None:
        return _released(listing)
    quiet = claimed.expected_qty is not None and listing.expected_qty == claimed.expected_qty
    return _released(_count_taken(listing, seen, now, quiet=quiet))


def after_count_seen(listing: PushState, seen: int, *, now: datetime) -> PushState:
    """The channel was found showing ``seen`` outside any lease (a conflict's read-back).

    Taken in like a conflict's own count (:func:`after_conflict`), except that a count above what
    we expect is not taken: outside a lease nothing tells whether the ledger heard of sales after
    the count was read. The listing is dirty exactly when the channel should show another count
    than it does; its lease, if any, is left alone.
    """
    return _count_taken(listing, seen, now, quiet=False)


def _count_taken(listing: PushState, seen: int, now: datetime, *, quiet: bool) -> PushState:
    expected = listing.expected_qty
    if expected is None or (expected < seen and quiet):
        expected = seen
    unheard = _shortfall(listing.expected_qty, seen)
    return replace(
        listing,
        expected_qty=expected,
        unheard_qty=unheard,
        unheard_since=_unheard_since(listing, unheard, now),
        dirty=expected != target(listing.desired_qty, unheard),
    )


def after_written(listing: PushState, seen: int | None) -> PushState:
    """A push that met more units than expected moved the count all the same (a delta), and left
    the channel at ``seen`` (None: it did not say).

    A write, so the shortfall against ``expected_qty`` is ours, not unheard sales: the channel
    shows ``seen`` with the unheard units as they are. A sale heard since, which may have come
    before the push or after it, makes that uncertain, so an attempt is counted and the next push
    is a compare-and-set (``QuantityPush.rebase`` false), which cannot over-list on a wrong count.
    """
    if seen is None:
        return _released(listing, attempts=listing.attempts + 1)
    expected = seen + listing.unheard_qty
    return _released(
        listing,
        expected_qty=expected,
        attempts=listing.attempts + 1,
        dirty=expected != target(listing.desired_qty, listing.unheard_qty),
    )


def after_failure(listing: PushState, outcome: Failed, *, now: datetime) -> PushState:
    """Count the attempt (and a refusal), keep the error and back off; the listing stays dirty,
    and one refused once too often is held back (``refused``)."""
    return _released(
        listing,
        attempts=outcome.attempts + outcome.counted,
        last_error=outcome.error[:ERROR_CHARS],
        next_attempt_at=now + timedelta(seconds=outcome.delay_s),
        refusals=outcome.refusals,
        state=ListingState.REFUSED if outcome.refused else outcome.listing.state,
    )


def after_identity_check(listing: PushState, found: Identified) -> PushState:
    """What the channel holds under the listing's id, recorded.

    A listing that matched turns ``active`` and keeps its lease (the caller pushes it under the
    same lease); one that did not turns ``mismatched`` with the problem as its error and its
    lease given back: it stays dirty, and is never claimed again until a person gives it a
    right id.
    """
    if found.problem is None:
        return replace(
            listing, state=ListingState.ACTIVE, channel_sku=found.channel_sku, last_error=None
        )
    return _released(
        listing,
        state=ListingState.MISMATCHED,
        channel_sku=found.channel_sku,
        last_error=found.problem[:ERROR_CHARS],
    )


def after_unheard_forgotten(listing: PushState, heard_before: datetime) -> PushState:
    """Give up on unheard units no order has explained since ``heard_before``.

    Done after a complete order poll: an order behind them would have been read by now, so the
    channel's count was changed by something else (a person in its admin, another app). We expect
    what it shows, and the next push puts the desired quantity back.
    """
    since = listing.unheard_since
    if listing.unheard_qty <= 0 or since is None or since >= heard_before:
        return listing
    assert listing.expected_qty is not None, "units are unheard only against an expected count"
    expected = listing.expected_qty - listing.unheard_qty
    return replace(
        listing,
        expected_qty=expected,
        unheard_qty=0,
        unheard_since=None,
        dirty=expected != listing.desired_qty,
    )


class ListedQuantities(Protocol):
    """What a stock change reads of a listing (a :class:`PushState` has it too)."""

    @property
    def desired_qty(self) -> int: ...
    @property
    def expected_qty(self) -> int | None: ...
    @property
    def unheard_qty(self) -> int: ...
    @property
    def dirty(self) -> bool: ...
    @property
    def version(self) -> int: ...


@dataclass(frozen=True, slots=True)
class QuantityChange:
    """A listing's quantities after a stock change, when they changed."""

    desired_qty: int
    expected_qty: int | None
    unheard_qty: int
    dirty: bool
    version: int


def after_stock_change(
    listing: ListedQuantities, desired_qty: int, sold: int = 0, *, last_write_wins: bool
) -> QuantityChange | None:
    """The listing once the stock moved (an order, a cancellation, a count) and the rules gave
    it ``desired_qty``; None when its desired or expected quantity and dirty flag stay as they
    are.

    ``sold``: units the listing's own channel just sold itself and so has already taken off its
    own count; units of it that a conflict had already shown us (``unheard_qty``) are heard of
    now. Negative: units the channel put back on its own count (its customer cancelled, or it
    restocked a refund). Those leave ``expected_qty`` as it is: a count the channel gave since
    (a conflict's read-back, a delta's answer) may already hold them, and adding them again would
    have the ledger expect units the channel does not show. The listing is pushed instead, which
    finds out: a compare-and-set meets the channel's count, an overwrite settles it.

    The listing is dirty while the channel may show something other than the desired quantity
    (:func:`needs_push`), after a put-back, and after each of its channel's own sales when that
    channel's writes overwrite (last write wins: WooCommerce, Amazon): the sale may have landed
    just before a push of ours that overwrote it, and pushing again settles it. A dirty listing
    stays dirty until it is pushed, whatever other stock changes come first: only a push can
    tell what the channel shows. The version moves with every change of desired quantity.
    """
    expected, unheard = listing.expected_qty, listing.unheard_qty
    if expected is not None and sold > 0:
        expected -= sold
        unheard -= min(sold, unheard)
    resync = listing.dirty or sold < 0 or (last_write_wins and sold > 0)
    dirty = needs_push(expected, desired_qty, unheard) or resync
    before = (listing.desired_qty, listing.expected_qty, listing.dirty, listing.unheard_qty)
    if (desired_qty, expected, dirty, unheard) == before:
        return None
    version = listing.version + (desired_qty != listing.desired_qty)
    return QuantityChange(desired_qty, expected, unheard, dirty, version)
