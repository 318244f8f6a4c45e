"""Which orders a drain is about to carry to the channels, cheaply, for naming the run.

A dirty listing is behind its channel because of the orders (and cancellations) that touched
its SKU since it was last pushed. One query before the drain lists those orders, so a run can
be named for them ("#1001 #2001 +3 more") without the drain keeping any state between runs.
It is a label, not an audit: a bundle's orders show through their own listings only, and a
listing never pushed before counts every order of its SKU.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Table, distinct, func, or_, select
from sqlmodel import Session

from stocksync.domain.clock import utcnow
from stocksync.ledger.sql import conn
from stocksync.ledger.tables import ChannelRow, OrderLineRow, OrderRow
from stocksync.sync.leases import DIRTY, PUSHABLE_STATE, listings

__all__ = ["OrdersBehind", "orders_behind"]

orders: Table = OrderRow.__table__  # type: ignore[attr-defined]
lines: Table = OrderLineRow.__table__  # type: ignore[attr-defined]
channels: Table = ChannelRow.__table__  # type: ignore[attr-defined]
_NEVER = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class OrdersBehind:
    """The first ``ids`` (oldest first) of ``total`` orders behind the due dirty listings."""

    ids: tuple[str, ...]
    total: int

    def label(self) -> str:
        """``#1001 #2001 +3 more``, or an empty string when no order is behind."""
        shown = " ".join(f"#{i}" for i in self.ids)
        more = self.total - len(self.ids)
        return f"{shown} +{more} more" if more > 0 else shown


def orders_behind(
    session: Session, channel_names: Sequence[str], *, limit: int = 5, now: datetime | None = None
) -> OrdersBehind:
    """Orders changed since the last push of a due dirty listing (of ``channel_names``) of their SKU."""
    now = now or utcnow()
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
    return OrdersBehind(tuple(first), int(total))
