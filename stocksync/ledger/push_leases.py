"""Claiming dirty listings for a push: leases, and which listings are due.

A claim is a lease, not a row lock: the claiming transaction stamps ``lease_owner`` and
``lease_until`` and commits at once, so no row lock is held while the HTTP call runs (the order
path locks listings too, and must not wait for a channel). Every write-back is guarded by the
lease owner (:mod:`stocksync.ledger.push_outcomes`), so a drainer whose lease ran out and was
taken over records nothing.

The claim captures (version, desired, expected) as they are at that moment: only the latest
desired quantity goes out, however many versions came before it (coalescing). Which listings may
be claimed is :func:`stocksync.domain.listing_state.is_due`, in SQL here.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Table,
    and_,
    bindparam,
    case,
    func,
    literal_column,
    null,
    or_,
    select,
    tuple_,
    update,
)
from sqlmodel import Session

from stocksync.domain.clock import as_utc
from stocksync.domain.listing_identity import PUSHABLE
from stocksync.domain.listing_state import ClaimedListing
from stocksync.ledger.sql import conn
from stocksync.ledger.tables import ChannelRow, ListingRow, SkuRow

__all__ = [
    "DIRTY",
    "NO_LEASE",
    "PUSHABLE_STATE",
    "SCARCITY_STEPS",
    "channel_ids",
    "claim_dirty",
    "count_due",
    "earliest_due",
    "held_by",
    "listings",
    "release",
    "still_owned",
    "target",
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
NO_LEASE = {"lease_owner": null(), "lease_until": null()}
"""Column values that give a lease back."""


def target(unheard: Any) -> Any:
    """:func:`stocksync.domain.listing_state.target` of the row, with ``unheard`` units."""
    return case((c.desired_qty >= unheard, c.desired_qty), else_=unheard)


def channel_ids(session: Session, names: Sequence[str]) -> dict[str, int]:
    """Channel name → id, for the names the ledger has."""
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


def earliest_due(
    connection: Connection, now: datetime, channels: Collection[str] | None = None
) -> datetime | None:
    """When the first dirty, pushable, unleased listing (of ``channels``, if given) may be
    claimed: ``now`` or earlier when one may be now, the end of the soonest backoff otherwise,
    None when there is none."""
    lease_free = c.lease_until.is_(None) | (c.lease_until < now)
    stmt = select(func.min(func.coalesce(c.next_attempt_at, now))).where(
        DIRTY, PUSHABLE_STATE, lease_free
    )
    if channels is not None:
        ch = channels_table.c
        stmt = stmt.where(c.channel_id.in_(select(ch.id).where(ch.name.in_(list(channels)))))
    earliest = connection.execute(stmt).scalar()
    if isinstance(earliest, str):  # SQLite hands aggregates back untyped
        earliest = datetime.fromisoformat(earliest)
    return None if earliest is None else as_utc(earliest)


SCARCITY_STEPS = (0, 2, 8, 32)
"""Overstated listings are claimed in these steps of what they should show (at most 0, 2, …):
a hide first, a listing that may still sell hundreds last."""


def _urgency() -> tuple[Any, ...]:
    """Claim order: listings the channel may show more of than it should first (an oversell in
    the making), the scarcest of them first (``SCARCITY_STEPS``: a listing to hide before one
    that shows 300 and should show 299), then the rest; within each step, the one pushed longest
    ago (never pushed first), so a channel that takes few pushes a second (Amazon) goes round
    every hot listing in turn."""
    should = target(c.unheard_qty)
    overstated = or_(c.expected_qty.is_(None), c.expected_qty > should)
    step = case(
        *((should <= most, n) for n, most in enumerate(SCARCITY_STEPS)),
        else_=len(SCARCITY_STEPS),
    )
    never = case((c.pushed_at.is_(None), 0), else_=1)
    return (case((overstated, 0), else_=1), case((overstated, step), else_=0), never,
            c.pushed_at, c.id)  # fmt: skip


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
            c.updated_at,
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
            id=r.id,
            channel_id=channel_id,
            sku=names[r.sku_id],
            external_id=r.external_id,
            refs=dict(r.external_refs or {}),
            version=r.version,
            desired_qty=r.desired_qty,
            expected_qty=r.expected_qty,
            unheard_qty=r.unheard_qty,
            state=r.state,
            refusals=r.refusals,
            changed_at=as_utc(r.updated_at),
        )
        for r in sorted(rows, key=lambda r: r.id)
    ]
    return claimed, {r.id: r.attempts for r in rows}


def held_by(owner: str) -> Any:
    """The row named by the ``b_id`` parameter, while ``owner`` holds its lease."""
    return and_(c.id == bindparam("b_id"), c.lease_owner == owner)


def still_owned(session: Session, owner: str, ids: Sequence[int]) -> set[int]:
    """The ids whose lease is still ``owner``'s, locked (in id order, the ledger's lock order)
    until the write-back commits."""
    if not ids:
        return set()
    stmt = (
        select(c.id).where(c.id.in_(ids), c.lease_owner == owner).order_by(c.id).with_for_update()
    )
    return set(conn(session).execute(stmt).scalars())


def release(session: Session, owner: str, ids: Sequence[int]) -> None:
    """Give leases back unchanged (the listing is claimable again at once)."""
    if ids:
        conn(session).execute(
            update(listings).where(c.id.in_(ids), c.lease_owner == owner).values(**NO_LEASE)
        )
