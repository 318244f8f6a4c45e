"""How fast each SKU is selling right now, for the last-units guard that scales with it.

A channel's ``last_seconds`` policy hides a SKU from it (unless it is the top-ranked channel
listing the stock) once the pool is down to what the SKU sells in that many seconds: during a
rush the sync gap of a slow, rate-limited channel is worth more units than a fixed guard covers.
The rate is read from the journal (order commitments, by the ``(sku_id, created_at)`` index), the
highest over a short and a longer window so a burst counts at once and a steady sale is smooth.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlmodel import Session

from stocksync.domain.model import MovementReason
from stocksync.ledger.sql import conn
from stocksync.ledger.tables import ChannelRow, ListingRow, MovementRow, StockRow, utcnow

__all__ = ["RATE_WINDOWS_S", "hidden_by_rate", "sales_rates"]

RATE_WINDOWS_S = (3.0, 15.0)
"""Windows the sales rate is measured over; the highest of their rates counts."""


def sales_rates(
    session: Session,
    sku_ids: Iterable[int],
    *,
    extra: Mapping[int, int] | None = None,
    now: datetime | None = None,
) -> dict[int, float]:
    """Stocked SKU id → units committed to orders per second lately (absent: none sold).

    ``extra`` adds units committed in this transaction and not yet in the journal.
    """
    skus = set(sku_ids)
    if not skus:
        return {}
    now = now or utcnow()
    since = now - timedelta(seconds=max(RATE_WINDOWS_S))
    units: dict[float, dict[int, int]] = {w: defaultdict(int) for w in RATE_WINDOWS_S}
    rows = conn(session).execute(
        select(MovementRow.sku_id, MovementRow.created_at, MovementRow.delta_committed).where(
            MovementRow.sku_id.in_(skus),  # type: ignore[attr-defined]
            MovementRow.created_at >= since,
            MovementRow.reason == MovementReason.ORDER_COMMIT.value,
        )
    )
    for sku, at, qty in rows:
        age = (now - _aware(at)).total_seconds()
        for window, per_sku in units.items():
            if age <= window:
                per_sku[sku] += qty
    for sku, qty in (extra or {}).items():
        for per_sku in units.values():
            per_sku[sku] += qty
    sold = {sku for per_sku in units.values() for sku, qty in per_sku.items() if qty > 0}
    return {sku: max(units[w][sku] / w for w in RATE_WINDOWS_S) for sku in sold}


def hidden_by_rate(session: Session) -> set[int]:
    """SKU ids listed at 0 on a channel whose guard grows with the rate, though stock remains.

    A guard grown by a rush is only recomputed when the SKU's stock next changes; recomputing
    these once the rush is over lists them again. (Bundles follow their components' changes.)
    """
    in_stock = select(StockRow.sku_id).where(StockRow.on_hand > StockRow.committed)
    return set(
        conn(session)
        .execute(
            select(ListingRow.sku_id)
            .join(ChannelRow, ChannelRow.id == ListingRow.channel_id)
            .where(
                ChannelRow.last_seconds > 0,
                ListingRow.desired_qty == 0,
                ListingRow.sku_id.in_(in_stock),  # type: ignore[attr-defined]
            )
        )
        .scalars()
    )


def _aware(at: datetime) -> datetime:
    """SQLite hands timestamps back without their zone; the ledger writes them in UTC."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
