"""How fast each SKU is selling right now, for the last-units guard that scales with it.

A guarded channel's policy hides a SKU from it (unless it is the top-ranked channel listing the
stock) once the pool is down to what the SKU sells in the guard's seconds (``last_seconds``, or
the measured sync gap, ``stocksync.domain.sync_lag``): during a rush the sync gap of a slow,
rate-limited channel is worth more units than a fixed guard covers.
The rate is read from the journal (order commitments, by the ``(sku_id, created_at)`` index), the
highest over a short and a longer window so a burst counts at once and a steady sale is smooth.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, bindparam, case, func, or_, select
from sqlmodel import Session

from stocksync.domain.clock import as_utc, utcnow
from stocksync.domain.model import MovementReason
from stocksync.ledger.sql import conn
from stocksync.ledger.tables import (
    BundleComponentRow,
    ChannelRow,
    ListingRow,
    MovementRow,
    StockRow,
)

__all__ = [
    "GUARD_GRACE_S",
    "RATES_SQL",
    "RATE_WINDOWS_S",
    "SalesRates",
    "Sums",
    "hidden_by_rate",
    "last_sold",
    "rates_from_sums",
    "sales_rates",
    "stock_remains",
]

GUARD_GRACE_S = 180.0
"""How long after a SKU's last sale a listing its rate guard hid may stay hidden: the longest
window, two ``poll-orders`` intervals (which list it again) and some slack. ``verify`` reports
one hidden longer."""

RATE_WINDOWS_S = (3.0, 10.0)
"""Windows the sales rate is measured over, shortest first; the highest of their rates counts.
Two of them: ``RATES_SQL`` names both."""


def _sums_statement() -> Select[Any]:
    """Units committed per SKU and selling channel in each window, summed in the database (a hot
    SKU has hundreds of journal entries in them); built once, so SQLAlchemy compiles it once."""
    m = MovementRow
    since = [bindparam(f"since_{n}") for n in range(len(RATE_WINDOWS_S))]
    return (
        select(
            m.sku_id,
            m.channel_id,
            *(func.sum(case((m.created_at >= s, m.delta_committed), else_=0)) for s in since),
        )
        .where(
            m.sku_id.in_(bindparam("skus", expanding=True)),  # type: ignore[attr-defined]
            m.created_at >= since[-1],
            m.reason == MovementReason.ORDER_COMMIT.value,
        )
        .group_by(m.sku_id, m.channel_id)
    )


_SUMS = _sums_statement()

RATES_SQL = """
SELECT coalesce(json_agg(json_build_array(sku_id, channel_id, u0, u1)), '[]') FROM (
    SELECT sku_id, channel_id,
           sum(delta_committed) FILTER (WHERE created_at >= now() - make_interval(secs => %(w0)s)) AS u0,
           sum(delta_committed) AS u1
    FROM movements
    WHERE sku_id = ANY(%(stock_skus)s::int[]) AND reason = 'order_commit'
      AND created_at >= now() - make_interval(secs => %(w1)s)
    GROUP BY sku_id, channel_id
) r"""
"""The same sums in PostgreSQL's own SQL, for the order path's raw statements (params ``w0``,
``w1``: the windows; ``stock_skus``); rows of [sku, channel, units in w0, units in w1]."""

Sums = Mapping[tuple[int, int | None], Sequence[int | None]]
"""(stocked SKU id, selling channel id) → units committed in each of ``RATE_WINDOWS_S``."""


@dataclass(frozen=True, slots=True)
class SalesRates:
    """Units committed to orders per second lately, the highest over the windows."""

    by_sku: dict[int, float] = field(default_factory=dict)
    """Stocked SKU id → all channels together (absent: none sold)."""
    by_channel: dict[tuple[int, int], float] = field(default_factory=dict)
    """(stocked SKU id, channel id) → that channel's own sales."""


def sales_rates(
    session: Session,
    sku_ids: Iterable[int],
    *,
    extra: Mapping[tuple[int, int], int] | None = None,
    now: datetime | None = None,
) -> SalesRates:
    """The sales rates of the stocked ``sku_ids``; ``extra`` adds units committed in this
    transaction and not yet in the journal ((SKU id, channel id) → units)."""
    skus = sorted(set(sku_ids))
    if not skus:
        return SalesRates()
    now = now or utcnow()
    windows = {f"since_{n}": now - timedelta(seconds=w) for n, w in enumerate(RATE_WINDOWS_S)}
    rows = conn(session).execute(_SUMS, {"skus": skus, **windows})
    return rates_from_sums({(sku, ch): per_window for sku, ch, *per_window in rows}, extra)


def rates_from_sums(sums: Sums, extra: Mapping[tuple[int, int], int] | None = None) -> SalesRates:
    """The rates, from the units each SKU and channel committed in each window (in
    ``RATE_WINDOWS_S`` order) plus ``extra`` units in all of them."""
    zero = [0] * len(RATE_WINDOWS_S)
    units = {key: [int(u or 0) for u in per_window] for key, per_window in sums.items()}
    for key, qty in (extra or {}).items():
        units[key] = [u + qty for u in units.get(key, zero)]
    per_sku: dict[int, list[int]] = {}
    for (sku, _), per_window in units.items():
        per_sku[sku] = [a + b for a, b in zip(per_sku.get(sku, zero), per_window, strict=True)]
    return SalesRates(
        {sku: _rate(per_window) for sku, per_window in per_sku.items() if any(per_window)},
        {
            (sku, ch): _rate(per_window)
            for (sku, ch), per_window in units.items()
            if ch is not None and any(per_window)
        },
    )


def _rate(per_window: Sequence[int]) -> float:
    return max(u / w for u, w in zip(per_window, RATE_WINDOWS_S, strict=True))


def stock_remains() -> Any:
    """Where a listing's SKU still has stock available somewhere, or is a bundle (its
    components hold the stock)."""
    in_stock = select(StockRow.sku_id).where(StockRow.on_hand > StockRow.committed)
    bundles = select(BundleComponentRow.bundle_id)
    return or_(
        ListingRow.sku_id.in_(in_stock),  # type: ignore[attr-defined]
        ListingRow.sku_id.in_(bundles),  # type: ignore[attr-defined]
    )


def hidden_by_rate(session: Session) -> set[int]:
    """SKU ids listed at 0 on a channel whose guard grows with the rate, though stock remains.

    A guard grown by a rush is only recomputed when the SKU's stock next changes; recomputing
    these once the rush is over lists them again. Bundles hold no stock of their own: every
    bundle listed at 0 there is taken (recomputing one whose components are out changes nothing).
    """
    return set(
        conn(session)
        .execute(
            select(ListingRow.sku_id)
            .join(ChannelRow, ChannelRow.id == ListingRow.channel_id)
            .where(
                or_(
                    ChannelRow.last_seconds > 0,
                    and_(ChannelRow.measured_guard, ChannelRow.last_units > 0),  # type: ignore[arg-type]
                ),
                ListingRow.desired_qty == 0,
                stock_remains(),
            )
        )
        .scalars()
    )


def last_sold(session: Session, sku_ids: Iterable[int]) -> dict[int, datetime]:
    """Stocked SKU id → when an order last took units of it (absent: never)."""
    skus = set(sku_ids)
    if not skus:
        return {}
    m = MovementRow
    rows = conn(session).execute(
        select(m.sku_id, func.max(m.created_at))
        .where(
            m.sku_id.in_(skus),  # type: ignore[attr-defined]
            m.reason == MovementReason.ORDER_COMMIT.value,
        )
        .group_by(m.sku_id)
    )
    return {sku: as_utc(at) for sku, at in rows}
