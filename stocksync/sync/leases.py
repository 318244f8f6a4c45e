"""Claiming dirty listings for a push, and writing back what the channel made of it.

A claim is a lease, not a row lock: the claiming transaction stamps ``lease_owner`` and
``lease_until`` and commits at once, so no row lock is held while the HTTP call runs (the order
path locks listings too, and must not wait for a channel). Every write-back is guarded by the
lease owner, so a drainer whose lease ran out and was taken over records nothing.

The claim captures (version, desired, expected) as they are at that moment: only the latest
desired quantity goes out, however many versions came before it (coalescing).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    bindparam,
    case,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    tuple_,
    update,
)
from sqlmodel import Session

from stocksync.domain.clock import utcnow
from stocksync.domain.listing_identity import PUSHABLE, ListingState
from stocksync.ledger.notify import notify_dirty
from stocksync.ledger.sql import conn
from stocksync.ledger.tables import ChannelRow, ListingRow, SkuRow

__all__ = [
    "DIRTY",
    "Applied",
    "ClaimedListing",
    "PUSHABLE_STATE",
    "Failed",
    "Identified",
    "Rebased",
    "channel_ids",
    "claim_dirty",
    "count_due",
    "forget_unheard",
    "record_seen",
    "release",
    "record_identities",
    "write_back",
]

listings: Table = ListingRow.__table__  # type: ignore[attr-defined]
channels_table: Table = ChannelRow.__table__  # type: ignore[attr-defined]
skus_table: Table = SkuRow.__table__  # type: ignore[attr-defined]
c = listings.c
DIRTY: ColumnElement[bool] = literal_column("listings.dirty")
"""Bare, as the partial index ``ix_listings_dirty`` says it: SQLite uses that index only for a
query that states ``dirty`` the same way, and SQLAlchemy would write ``dirty = 1`` there."""
PUSHABLE_STATE: ColumnElement[bool] = c.state.in_(PUSHABLE)
"""Listings the pipeline may push (not mismatched, not refused for good)."""


@dataclass(frozen=True, slots=True)
class ClaimedListing:
    """A listing leased for one push, with the state it had when claimed."""

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

    @property
    def push_qty(self) -> int:
        """What the channel should show: the desired quantity less the units it sold that the
        ledger has not heard of yet (they are not in ``desired_qty`` yet)."""
        return max(self.desired_qty - self.unheard_qty, 0)

    @property
    def shown_qty(self) -> int | None:
        """What the channel shows now, as far as we know: the compare-and-set value."""
        return None if self.expected_qty is None else self.expected_qty - self.unheard_qty


@dataclass(frozen=True, slots=True)
class Applied:
    listing: ClaimedListing
    quantity: int


@dataclass(frozen=True, slots=True)
class Rebased:
    """Applied after the channel rebased the push on a fresh count below what we expected
    (``QuantityPush.rebased``): ``seen`` is that count, ``quantity`` what the channel now shows."""

    listing: ClaimedListing
    seen: int
    quantity: int


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
class Identified:
    """What an identity check found under a listing's id: ``problem`` None, the ledger's SKU
    (the listing turns ``active`` and is pushed); else it turns ``mismatched``."""

    listing: ClaimedListing
    channel_sku: str | None
    problem: str | None


def channel_ids(session: Session, names: Sequence[str]) -> dict[str, int]:
    rows = conn(session).execute(
        select(channels_table.c.name, channels_table.c.id).where(channels_table.c.name.in_(names))
    )
    return dict(rows.all())


def _due(now: datetime) -> Any:
    return and_(
        DIRTY,
        PUSHABLE_STATE,
        or_(c.next_attempt_at.is_(None), c.next_attempt_at <= now),
        or_(c.lease_until.is_(None), c.lease_until < now),
    )


def count_due(session: Session, channel_id: int, now: datetime) -> int:
    """How many of the channel's dirty listings could be claimed now."""
    stmt = select(func.count()).select_from(listings).where(c.channel_id == channel_id, _due(now))
    return int(conn(session).execute(stmt).scalar_one())


def _urgency() -> tuple[Any, ...]:
    """Claim order: listings the channel may show more of than it should first (an oversell in
    the making), then the rest; within each, the one pushed longest ago (never pushed first), so
    a channel that takes few pushes a second (Amazon) goes round every hot listing in turn."""
    overstated = or_(c.expected_qty.is_(None), c.expected_qty > _target(c.unheard_qty))
    never = case((c.pushed_at.is_(None), 0), else_=1)
    return (case((overstated, 0), else_=1), never, c.pushed_at, c.id)


def claim_dirty(
    session: Session,
    *,
    channel_id: int,
    owner: str,
    limit: int,
    now: datetime,
    lease_s: float,
    skip: Collection[tuple[int, int]] = (),
) -> tuple[list[ClaimedListing], dict[int, int]]:
    """Lease up to ``limit`` due dirty listings of one channel, most urgent first (``_urgency``),
    passing over the (listing id, version) pairs in ``skip``.

    Returns the claimed listings and their ``attempts`` so far. On PostgreSQL the candidate rows
    are picked with ``FOR UPDATE SKIP LOCKED``: rows another drainer is claiming, or an order is
    updating, are passed over instead of waited for. SQLite has one writer at a time, so the
    same statement is safe there without the clause (which it would not understand anyway).
    """
    candidates = select(c.id).where(c.channel_id == channel_id, _due(now))
    if skip:
        candidates = candidates.where(tuple_(c.id, c.version).not_in(list(skip)))
    picked = (
        candidates.order_by(*_urgency())
        .limit(limit)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    stmt = (
        update(listings)
        .where(c.id.in_(picked))
        .values(lease_owner=owner, lease_until=now + timedelta(seconds=lease_s))
        .returning(
            c.id,
            c.sku_id,
            c.external_id,
            c.external_refs,
            c.version,
            c.desired_qty,
            c.expected_qty,
            c.attempts,
            c.unheard_qty,
            c.state,
            c.refusals,
        )  # fmt: skip
    )
    rows = conn(session).execute(stmt).all()
    if not rows:
        return [], {}
    sk = skus_table.c
    skus = select(sk.id, sk.sku).where(sk.id.in_({r.sku_id for r in rows}))
    names = dict(conn(session).execute(skus).all())
    claimed = [
        ClaimedListing(
            r.id,
            channel_id,
            names[r.sku_id],
            r.external_id,
            dict(r.external_refs or {}),
            r.version,
            r.desired_qty,
            r.expected_qty,
            r.unheard_qty,
            r.state,
            r.refusals,
        )  # fmt: skip
        for r in sorted(rows, key=lambda r: r.id)
    ]
    return claimed, {r.id: r.attempts for r in rows}


def _owned(owner: str) -> Any:
    return and_(c.id == bindparam("b_id"), c.lease_owner == owner)


_FREE = {"lease_owner": null(), "lease_until": null()}


def _still_owned(session: Session, owner: str, ids: Sequence[int]) -> set[int]:
    """The ids whose lease is still ours, locked until the write-back commits."""
    if not ids:
        return set()
    stmt = (
        select(c.id).where(c.id.in_(ids), c.lease_owner == owner).order_by(c.id).with_for_update()
    )
    return set(conn(session).execute(stmt).scalars())


def write_back(
    session: Session,
    owner: str,
    *,
    applied: Sequence[Applied] = (),
    conflicts: Sequence[tuple[ClaimedListing, int | None]] = (),
    failed: Sequence[Failed] = (),
    rebased: Sequence[Rebased] = (),
    written: Sequence[tuple[ClaimedListing, int | None]] = (),
    now: datetime,
    last_write_wins: bool = True,
) -> set[int]:
    """Record a batch's outcomes; return the ids recorded (the others lost their lease).

    Every listing of the batch is locked once, in id order (the ledger's lock order), before
    anything is written. ``last_write_wins``: the channel's writes overwrite (no compare-and-set),
    so an own sale heard while the call ran may have been overwritten, and the listing goes again.
    ``written``: conflicts whose push moved the count all the same (a delta that met more than we
    expected); taken in like a conflict, and counted as an attempt, so that the next push is a
    compare-and-set (``QuantityPush.rebase`` false) until one confirms what the channel shows.
    """
    ids = [a.listing.id for a in applied] + [li.id for li, _ in [*conflicts, *written]]
    ids += [r.listing.id for r in rebased]
    ours = _still_owned(session, owner, ids + [f.listing.id for f in failed])
    mine = [a for a in applied if a.listing.id in ours]
    _record_applied(session, owner, mine, now, last_write_wins)
    _record_rebased(session, owner, [r for r in rebased if r.listing.id in ours], now)
    _record_conflicts(session, owner, [(li, q) for li, q in conflicts if li.id in ours], now)
    _record_conflicts(
        session, owner, [(li, q) for li, q in written if li.id in ours], now, doubt=True
    )
    _record_failures(session, owner, [f for f in failed if f.listing.id in ours], now)
    return ours


def _record_applied(
    session: Session,
    owner: str,
    applied: Sequence[Applied],
    now: datetime,
    last_write_wins: bool,
) -> None:
    """The channel shows ``quantity`` now.

    Orders the channel sold since the claim already lowered ``expected_qty`` by their units, so
    that difference is carried over onto the pushed quantity, and so are the unheard units held
    back from it (``expected_qty`` counts them until their orders arrive). The listing stays
    dirty only if the channel would still show something other than the (possibly newer)
    desired quantity.
    """
    rows = [
        {"b_id": a.listing.id, "b_q": a.quantity, "b_v": a.listing.version,
         "b_claimed": a.listing.expected_qty, "b_uc": a.listing.unheard_qty, "b_now": now}
        for a in applied
    ]  # fmt: skip
    if rows:
        claimed = bindparam("b_claimed", type_=listings.c.expected_qty.type)
        quantity = bindparam("b_q", type_=listings.c.expected_qty.type)
        held_back = quantity + bindparam("b_uc", type_=listings.c.unheard_qty.type)
        expected = case(
            (or_(c.expected_qty.is_(None), claimed.is_(None)), held_back),
            else_=held_back + c.expected_qty - claimed,
        )
        stmt = (
            update(listings)
            .where(_owned(owner))
            .values(
                pushed_qty=quantity,
                expected_qty=expected,
                pushed_version=bindparam("b_v"),
                pushed_at=bindparam("b_now"),
                dirty=(
                    # own sales heard during the call may have been overwritten by it: push again
                    or_(expected != _target(c.unheard_qty), _heard_since(claimed))
                    if last_write_wins
                    else expected != _target(c.unheard_qty)
                ),
                attempts=0,
                refusals=0,
                next_attempt_at=null(),
                last_error=null(),
                **_FREE,
            )  # fmt: skip
        )
        conn(session).execute(stmt, rows)


def _target(unheard: Any) -> Any:
    """``expected_qty`` once the channel shows what it should: ``desired_qty``, or the unheard
    units when they exceed it (the channel then shows 0; pushing cannot take it lower)."""
    return case((c.desired_qty >= unheard, c.desired_qty), else_=unheard)


def _heard_since(claimed: Any) -> Any:
    """The ledger heard of the channel's own sales since the claim (``expected_qty`` moved)."""
    return and_(c.expected_qty.is_not(None), claimed.is_not(None), c.expected_qty != claimed)


def _record_rebased(
    session: Session, owner: str, rebased: Sequence[Rebased], now: datetime
) -> None:
    """The channel was set to ``quantity`` against its count ``seen`` (compare-and-set).

    At that moment the channel lacked ``expected_qty - seen`` units of what we expect: sales not
    heard of yet, which become ``unheard_qty``. Orders heard since (in ``expected_qty`` now) are
    carried over as for any applied push: ``_record_applied`` with ``seen`` as the claimed
    expectation and nothing held back gives ``expected = quantity + expected_now - seen``.
    """
    if not rebased:
        return
    seen = bindparam("b_seen", type_=listings.c.expected_qty.type)
    unheard = case((c.expected_qty - seen > 0, c.expected_qty - seen), else_=0)
    conn(session).execute(
        update(listings)
        .where(_owned(owner))
        .values(
            unheard_qty=unheard,
            unheard_since=_unheard_since(unheard),
        ),
        [{"b_id": r.listing.id, "b_seen": r.seen, "b_now": now} for r in rebased],
    )
    applied = [
        Applied(replace(r.listing, expected_qty=r.seen, unheard_qty=0), r.quantity) for r in rebased
    ]
    _record_applied(session, owner, applied, now, last_write_wins=False)


def _unheard_since(unheard: Any) -> Any:
    """When the listing's unheard units began: now (``b_now``) if this adds some, else as was
    while some remain, else none."""
    return case(
        (unheard > c.unheard_qty, bindparam("b_now", type_=listings.c.unheard_since.type)),
        (unheard > 0, c.unheard_since),
        else_=null(),
    )


def _record_conflicts(
    session: Session,
    owner: str,
    seen: Sequence[tuple[ClaimedListing, int | None]],
    now: datetime,
    *,
    doubt: bool = False,
) -> None:
    """A compare-and-set found another count: take it in (:func:`_seen_values`), push again.
    ``doubt``: the push moved the count all the same (:func:`_written_values`).
    """
    known = [
        {"b_id": li.id, "b_seen": q, "b_now": now, "b_claimed": li.expected_qty}
        for li, q in seen
        if q is not None
    ]
    if known:
        claimed = bindparam("b_claimed", type_=listings.c.expected_qty.type)
        values = _written_values() if doubt else _seen_values(claimed)
        conn(session).execute(
            update(listings).where(_owned(owner)).values(**values, **_FREE), known
        )
    unknown = [li.id for li, q in seen if q is None]
    if doubt and unknown:
        conn(session).execute(
            update(listings)
            .where(c.id.in_(unknown), c.lease_owner == owner)
            .values(attempts=c.attempts + 1)
        )
    release(session, owner, unknown)


def _seen_values(claimed: Any = None) -> dict[str, Any]:
    """Column values once the channel was seen showing ``b_seen`` (at ``b_now``).

    Fewer units than we expect are sales whose orders the ledger has not heard of yet, most often
    a webhook in flight: they become ``unheard_qty`` and the next push holds them back, instead of
    offering them again (the channel sold them) or counting them twice when the order arrives.

    More units than we expect are someone else's change on the channel (a person in its admin),
    to be overwritten by the next push: we expect what it shows. But only when the ledger heard of
    none of the channel's sales since ``claimed`` (its ``expected_qty`` when the listing was
    claimed; None: never): a sale heard since may have happened after the count was read, so
    the count is too high by it, and trusting it would leave a unit counted as unheard forever.
    Then ``expected_qty`` stays; if the channel really holds more, the next conflict says so.
    """
    shown = bindparam("b_seen", type_=listings.c.expected_qty.type)
    unheard = case(
        (c.expected_qty.is_(None), 0),
        (c.expected_qty - shown > 0, c.expected_qty - shown),
        else_=0,
    )
    quiet = literal(False) if claimed is None else c.expected_qty == claimed
    expected = case(
        (c.expected_qty.is_(None), shown),
        (c.expected_qty >= shown, c.expected_qty),
        (quiet, shown),
        else_=c.expected_qty,
    )
    return {
        "expected_qty": expected,
        "unheard_qty": unheard,
        "unheard_since": _unheard_since(unheard),
        "dirty": expected != _target(unheard),
    }


def _written_values() -> dict[str, Any]:
    """Column values once a push that met more units than expected left the channel at
    ``b_seen``: a write, so the shortfall against ``expected_qty`` is ours, not unheard sales.
    The channel shows ``b_seen`` with the unheard units as they are; a sale heard since, which
    may have come before the push or after it, makes that uncertain, so an attempt is counted
    and the next push is a compare-and-set, which cannot over-list on a wrong count."""
    shown = bindparam("b_seen", type_=listings.c.expected_qty.type)
    expected = shown + c.unheard_qty
    return {
        "expected_qty": expected,
        "attempts": c.attempts + 1,
        "dirty": expected != _target(c.unheard_qty),
    }


def _record_failures(session: Session, owner: str, failed: Sequence[Failed], now: datetime) -> None:
    """Count the attempt (and a refusal), keep the error and back off; the listing stays dirty,
    and one refused once too often is held back (``refused``)."""
    rows = [
        {"b_id": f.listing.id, "b_err": f.error[:2000], "b_n": f.attempts + f.counted,
         "b_next": now + timedelta(seconds=f.delay_s),
         "b_refusals": f.refusals,
         "b_state": ListingState.REFUSED if f.refused else f.listing.state}
        for f in failed
    ]  # fmt: skip
    if rows:
        conn(session).execute(
            update(listings)
            .where(_owned(owner))
            .values(
                attempts=bindparam("b_n"),
                last_error=bindparam("b_err"),
                next_attempt_at=bindparam("b_next"),
                refusals=bindparam("b_refusals"),
                state=bindparam("b_state"),
                **_FREE,
            ),  # fmt: skip
            rows,
        )


def record_identities(session: Session, owner: str, found: Sequence[Identified]) -> set[int]:
    """Record what the channel holds under each claimed listing's id; return the ids still
    ours (the caller pushes those that matched, under the same lease).

    A listing that matched turns ``active``; one that did not turns ``mismatched`` with the
    problem as its error and its lease given back: it stays dirty, and is never claimed again
    until a person gives it a right id.
    """
    ours = _still_owned(session, owner, [f.listing.id for f in found])
    rows = [
        {"b_id": f.listing.id, "b_sku": f.channel_sku,
         "b_state": ListingState.ACTIVE if f.problem is None else ListingState.MISMATCHED,
         "b_err": None if f.problem is None else f.problem[:2000]}
        for f in found
        if f.listing.id in ours
    ]  # fmt: skip
    if rows:
        conn(session).execute(
            update(listings)
            .where(_owned(owner))
            .values(
                state=bindparam("b_state"),
                channel_sku=bindparam("b_sku"),
                last_error=bindparam("b_err"),
            ),
            rows,
        )
    bad = [f.listing.id for f in found if f.problem is not None and f.listing.id in ours]
    release(session, owner, bad)
    return ours


def release(session: Session, owner: str, ids: Sequence[int]) -> None:
    """Give leases back unchanged (the listing is claimable again at once)."""
    if ids:
        conn(session).execute(
            update(listings).where(c.id.in_(ids), c.lease_owner == owner).values(**_FREE)
        )


def record_seen(
    session: Session, channel_id: int, seen: dict[str, int], now: datetime | None = None
) -> int:
    """Record what the channel shows for listings (external id → count) outside any lease.

    Used after a conflict read-back, the same way as a conflict's own count
    (:func:`_seen_values`), except that a count above what we expect is not taken: outside a
    lease nothing tells whether the ledger heard of sales after the count was read. The listing
    is dirty exactly when the channel should show another count than it does.
    """
    at = now or utcnow()
    rows = [{"b_ext": ext, "b_seen": q, "b_now": at} for ext, q in seen.items()]
    if not rows:
        return 0
    result = conn(session).execute(
        update(listings)
        .where(c.channel_id == literal(channel_id), c.external_id == bindparam("b_ext"))
        .values(**_seen_values()),
        rows,
    )
    return int(result.rowcount or 0)


def forget_unheard(session: Session, channel_id: int, heard_before: datetime) -> int:
    """Give up on unheard units no order has explained since ``heard_before``.

    Called after a complete order poll: an order behind them would have been read by now, so the
    channel's count was changed by something else (a person in its admin, another app). We expect
    what it shows, and the next push puts the desired quantity back.
    """
    expected = c.expected_qty - c.unheard_qty
    result = conn(session).execute(
        update(listings)
        .where(
            c.channel_id == literal(channel_id),
            c.unheard_qty > 0,
            c.unheard_since < heard_before,
        )
        .values(
            expected_qty=expected,
            unheard_qty=0,
            unheard_since=null(),
            dirty=expected != c.desired_qty,
        )
    )
    if result.rowcount:
        notify_dirty(session)
    return int(result.rowcount or 0)
