"""The orders behind the listings a drain is about to push: those changed since the listing's
last push, on its SKU (``stocksync.sync.pending`` names a run for them)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import Table, distinct, func, or_, select
from sqlmodel import Session

from stocksync.ledger.push_leases import DIRTY, PUSHABLE_STATE, listings
from stocksync.ledger.sql import conn
from stocksync.ledger.tables import ChannelRow, OrderLineRow, OrderRow

__all__ = ["orders_behind_dirty"]

orders: Table = OrderRow.__table__  # type: ignore[attr-defined]
lines: Table = OrderLineRow.__table__  # type: ignore[attr-defined]
channels: Table = ChannelRow.__table__  # type: ignore[attr-defined]
_NEVER = datetime(1970, 1, 1, tzinfo=UTC)


def orders_behind_dirty(
    session: Session, channel_names: Sequence[str], *, limit: int, now: datetime
) -> tuple[list[str], int]:
    """(The external ids of the first ``limit`` orders, oldest first; how many in all) changed
    since the last push of a due dirty listing (of ``channel_names``) of their SKU."""
    li, o = listings.c, orders.c
    behind = (
        select(o.id, o.external_id)
        .select_from(orders)
        .join(lines, lines.c.order_id == o.id)
        .join(listings, li.sku_id == lines.c.sku_id)
        .join(channels, channels.c.id == li.channel_id)
        .where(
            DIRTY,
            PUSHABLE_STATE,
            channels.c.name.in_(list(channel_names)),
            or_(li.next_attempt_at.is_(None), li.next_attempt_at <= now),
            o.updated_at > func.coalesce(li.pushed_at, _NEVER),
        )
        .distinct()
        .subquery()
    )
    db = conn(session)
    total = db.execute(select(func.count(distinct(behind.c.id)))).scalar() or 0
    first = db.execute(select(behind.c.external_id).order_by(behind.c.id).limit(limit)).scalars()
    return list(first), int(total)
