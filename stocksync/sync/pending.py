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
from datetime import datetime

from sqlmodel import Session

from stocksync.domain.clock import utcnow
from stocksync.ledger.pending_orders import orders_behind_dirty

__all__ = ["OrdersBehind", "orders_behind"]


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
    first, total = orders_behind_dirty(session, channel_names, limit=limit, now=now or utcnow())
    return OrdersBehind(tuple(first), total)
