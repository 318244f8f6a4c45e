"""Writing back what a channel made of a push, and what its counts say outside a push.

Each function here is the set-based SQL form of a rule in :mod:`stocksync.domain.listing_state`
(named in its docstring, where the reasoning is); the push pipeline's hot path runs one statement
per outcome kind for a whole batch. ``tests/integration/test_listing_state_sql.py`` holds every
statement to its rule. Only the lease owner records an outcome (:mod:`push_leases`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, case, literal, null, or_, update
from sqlmodel import Session

from stocksync.domain.clock import utcnow
from stocksync.domain.listing_identity import ListingState
from stocksync.domain.listing_state import (
    ERROR_CHARS,
    Applied,
    ClaimedListing,
    Failed,
    Identified,
    Rebased,
)
from stocksync.ledger.notify import notify_dirty
from stocksync.ledger.push_leases import NO_LEASE, held_by, listings, release, still_owned, target
from stocksync.ledger.sql import conn

__all__ = ["forget_unheard", "record_identities", "record_seen", "write_back"]

c = listings.c


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
    anything is written. ``applied``: ``after_applied``, where ``last_write_wins`` says the
    channel's writes overwrite (no compare-and-set); ``rebased``: ``after_rebased``;
    ``conflicts``: ``after_conflict``; ``written``: conflicts whose push moved the count all the
    same (``after_written``); ``failed``: ``after_failure``.
    """
    ids = [a.listing.id for a in applied] + [li.id for li, _ in [*conflicts, *written]]
    ids += [r.listing.id for r in rebased]
    ours = still_owned(session, owner, ids + [f.listing.id for f in failed])
    mine = [a for a in applied if a.listing.id in ours]
    _record_applied(session, owner, mine, now, last_write_wins)
    _record_rebased(session, owner, [r for r in rebased if r.listing.id in ours], now)
    _record_conflicts(session, owner, [(li, q) for li, q in conflicts if li.id in ours], now)
    _record_written(session, owner, [(li, q) for li, q in written if li.id in ours])
    _record_failures(session, owner, [f for f in failed if f.listing.id in ours], now)
    return ours


def _record_applied(
    session: Session,
    owner: str,
    applied: Sequence[Applied],
    now: datetime,
    last_write_wins: bool,
) -> None:
    """``after_applied``: the channel shows ``quantity`` now, with the sales heard since the
    claim and the unheard units held back carried over."""
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
            .where(held_by(owner))
            .values(
                pushed_qty=quantity,
                expected_qty=expected,
                pushed_version=bindparam("b_v"),
                pushed_at=bindparam("b_now"),
                dirty=(
                    # own sales heard during the call may have been overwritten by it: push again
                    or_(expected != target(c.unheard_qty), _heard_since(claimed))
                    if last_write_wins
                    else expected != target(c.unheard_qty)
                ),
                attempts=0,
                refusals=0,
                next_attempt_at=null(),
                last_error=null(),
                **NO_LEASE,
            )  # fmt: skip
        )
        conn(session).execute(stmt, rows)


def _heard_since(claimed: Any) -> Any:
    """``heard_since_claim``: ``expected_qty`` moved since the claim."""
    return and_(c.expected_qty.is_not(None), claimed.is_not(None), c.expected_qty != claimed)


def _record_rebased(
    session: Session, owner: str, rebased: Sequence[Rebased], now: datetime
) -> None:
    """``after_rebased``: the shortfall against ``seen`` becomes unheard, then the push is
    recorded as applied against ``seen`` with nothing held back."""
    if not rebased:
        return
    seen = bindparam("b_seen", type_=listings.c.expected_qty.type)
    unheard = case((c.expected_qty - seen > 0, c.expected_qty - seen), else_=0)
    conn(session).execute(
        update(listings)
        .where(held_by(owner))
        .values(
            unheard_qty=unheard,
            unheard_since=_unheard_since(unheard),
        ),
        [{"b_id": r.listing.id, "b_seen": r.seen, "b_now": now} for r in rebased],
    )
    applied = [
        Applied(listing=replace(r.listing, expected_qty=r.seen, unheard_qty=0), quantity=r.quantity)
        for r in rebased
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
) -> None:
    """``after_conflict``: a compare-and-set found another count; take it in, push again."""
    known = [
        {"b_id": li.id, "b_seen": q, "b_now": now, "b_claimed": li.expected_qty}
        for li, q in seen
        if q is not None
    ]
    if known:
        claimed = bindparam("b_claimed", type_=listings.c.expected_qty.type)
        conn(session).execute(
            update(listings).where(held_by(owner)).values(**_seen_values(claimed), **NO_LEASE),
            known,
        )
    release(session, owner, [li.id for li, q in seen if q is None])


def _seen_values(claimed: Any = None) -> dict[str, Any]:
    """Column values once the channel was seen showing ``b_seen`` (at ``b_now``): the count
    taken in by ``after_conflict`` (``claimed``: the expectation when claimed) or, without
    ``claimed``, by ``after_count_seen`` (a count above what we expect is not taken)."""
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
        "dirty": expected != target(unheard),
    }


def _record_written(
    session: Session,
    owner: str,
    written: Sequence[tuple[ClaimedListing, int | None]],
) -> None:
    """``after_written``: a push that met more than expected left the channel at ``b_seen``;
    an attempt is counted, known count or not."""
    known = [{"b_id": li.id, "b_seen": q} for li, q in written if q is not None]
    if known:
        shown = bindparam("b_seen", type_=listings.c.expected_qty.type)
        expected = shown + c.unheard_qty
        values = {
            "expected_qty": expected,
            "attempts": c.attempts + 1,
            "dirty": expected != target(c.unheard_qty),
        }
        conn(session).execute(
            update(listings).where(held_by(owner)).values(**values, **NO_LEASE), known
        )
    unknown = [li.id for li, q in written if q is None]
    if unknown:
        conn(session).execute(
            update(listings)
            .where(c.id.in_(unknown), c.lease_owner == owner)
            .values(attempts=c.attempts + 1)
        )
    release(session, owner, unknown)


def _record_failures(session: Session, owner: str, failed: Sequence[Failed], now: datetime) -> None:
    """``after_failure``: count the attempt (and a refusal), keep the error and back off."""
    rows = [
        {"b_id": f.listing.id, "b_err": f.error[:ERROR_CHARS], "b_n": f.attempts + f.counted,
         "b_next": now + timedelta(seconds=f.delay_s),
         "b_refusals": f.refusals,
         "b_state": ListingState.REFUSED if f.refused else f.listing.state}
        for f in failed
    ]  # fmt: skip
    if rows:
        conn(session).execute(
            update(listings)
            .where(held_by(owner))
            .values(
                attempts=bindparam("b_n"),
                last_error=bindparam("b_err"),
                next_attempt_at=bindparam("b_next"),
                refusals=bindparam("b_refusals"),
                state=bindparam("b_state"),
                **NO_LEASE,
            ),  # fmt: skip
            rows,
        )


def record_identities(session: Session, owner: str, found: Sequence[Identified]) -> set[int]:
    """Record what the channel holds under each claimed listing's id (``after_identity_check``);
    return the ids still ours (the caller pushes those that matched, under the same lease)."""
    ours = still_owned(session, owner, [f.listing.id for f in found])
    rows = [
        {"b_id": f.listing.id, "b_sku": f.channel_sku,
         "b_state": ListingState.ACTIVE if f.problem is None else ListingState.MISMATCHED,
         "b_err": None if f.problem is None else f.problem[:ERROR_CHARS]}
        for f in found
        if f.listing.id in ours
    ]  # fmt: skip
    if rows:
        conn(session).execute(
            update(listings)
            .where(held_by(owner))
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


def record_seen(
    session: Session, channel_id: int, seen: dict[str, int], now: datetime | None = None
) -> int:
    """Record what the channel shows for listings (external id → count) outside any lease
    (``after_count_seen``); return how many listings it named."""
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
    """Give up on the channel's unheard units no order has explained since ``heard_before``
    (``after_unheard_forgotten``, after a complete order poll); return how many listings."""
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
