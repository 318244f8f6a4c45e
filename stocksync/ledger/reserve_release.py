"""Listing a keeper's reserve again once the channels it held back for have settled at 0.

The reserve (``stocksync.domain.allocation.reserve``) is recomputed whenever the SKU's stock
changes. Once the other channels show 0 no sale of theirs changes it, and the keeper, listing
the pool less its reserve, may be showing 0 as well: nothing would recompute it. The sync worker
calls :func:`release_settled` between pushes; it recomputes the SKUs hidden on some channel by a
push of the last ``RELEASE_WINDOW_S`` seconds and writes what changed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, select
from sqlmodel import Session

from stocksync.domain.clock import utcnow
from stocksync.ledger.listings import compute_desired, load_listings, refresh_listings
from stocksync.ledger.sql import conn
from stocksync.ledger.tables import ChannelRow, ListingRow
from stocksync.ledger.velocity import stock_remains

__all__ = ["RELEASE_WINDOW_S", "recently_hidden", "release_settled"]

RELEASE_WINDOW_S = 120.0
"""How long after a push hid a listing its SKU is looked at again: longer than any settling time
the measured lags give (their samples are capped, ``stocksync.domain.sync_lag``) in practice."""


def recently_hidden(session: Session, now: datetime) -> set[int]:
    """SKU ids a push of the last ``RELEASE_WINDOW_S`` seconds set to 0 on a channel whose guard
    follows the measured gap, while stock remains (or a bundle: its components hold it)."""
    stmt = (
        select(ListingRow.sku_id)
        .join(ChannelRow, ChannelRow.id == ListingRow.channel_id)
        .where(
            and_(ChannelRow.measured_guard, ChannelRow.last_units > 0),  # type: ignore[arg-type]
            ListingRow.expected_qty <= 0,  # type: ignore[operator]
            ListingRow.pushed_at >= now - timedelta(seconds=RELEASE_WINDOW_S),  # type: ignore[operator]
            stock_remains(),
        )
    )
    return set(conn(session).execute(stmt).scalars())


def release_settled(session: Session, now: datetime | None = None) -> int:
    """Recompute the recently hidden SKUs whose listings the rules would now change (a reserve
    released, most often) and write them; the number of listings changed.

    The rules are read without locks first: most of these SKUs change nothing, and the order
    path, which locks their stock, is not made to wait for them."""
    skus = recently_hidden(session, now or utcnow())
    if not skus:
        return 0
    listings = load_listings(session, skus, lock=False)
    desired = compute_desired(session, listings)
    moved = {row.sku_id for row in listings if desired[row.id] != row.desired_qty}
    return len(refresh_listings(session, moved)) if moved else 0
