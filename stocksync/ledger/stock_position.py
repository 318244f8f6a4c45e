"""Each stock-holding SKU's free units per location and its demand since a given time.

Demand counts what customers asked for, not only what we could ship: units committed to orders,
minus units released by cancellations, plus units recorded short (a sale we could not fill is still
demand). Bundles are expanded to their components, since only components hold stock. What the
numbers mean for a buyer (low or not, what to reorder) is worked out in ``stocksync.alerts``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlmodel import Session

from stocksync.domain.model import MovementReason
from stocksync.ledger.tables import (
    BundleComponentRow,
    LocationRow,
    MovementRow,
    OrderLineRow,
    OrderRow,
    SkuRow,
    StockRow,
)

__all__ = ["SkuPosition", "stock_positions"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SkuPosition:
    sku: str
    title: str
    reorder_point: int
    lead_time_days: int
    by_location: dict[str, int]
    """Units free to sell per location (on hand minus committed), by location name."""
    demand: int
    """Units demanded since the time asked for (committed - released + short), never below 0."""


def stock_positions(
    session: Session, skus: Sequence[str] | None = None, *, since: datetime
) -> list[SkuPosition]:
    """Every stock-holding SKU (or those named) by SKU, with its demand since ``since``."""
    stmt = select(SkuRow).where(SkuRow.is_bundle.is_(False)).order_by(SkuRow.sku)
    if skus is not None:
        stmt = stmt.where(SkuRow.sku.in_(set(skus)))
    rows = list(session.execute(stmt).scalars())
    ids = [r.id for r in rows if r.id is not None]
    if not ids:
        return []
    by_location = _available_by_location(session, ids)
    demand = _demand(session, ids, since)
    positions = []
    for r in rows:
        assert r.id is not None
        positions.append(
            SkuPosition(
                sku=r.sku,
                title=r.title,
                reorder_point=r.reorder_point,
                lead_time_days=r.lead_time_days,
                by_location=by_location.get(r.id, {}),
                demand=demand.get(r.id, 0),
            )
        )
    return positions


def _available_by_location(session: Session, ids: list[int]) -> dict[int, dict[str, int]]:
    places: dict[int, dict[str, int]] = defaultdict(dict)
    for sku_id, name, on_hand, committed in session.execute(
        select(StockRow.sku_id, LocationRow.name, StockRow.on_hand, StockRow.committed)
        .join(LocationRow, LocationRow.id == StockRow.location_id)
        .where(StockRow.sku_id.in_(ids))
        .order_by(LocationRow.name)
    ):
        places[sku_id][name] = on_hand - committed
    return places


def _demand(session: Session, ids: list[int], since: datetime) -> dict[int, int]:
    demand: dict[int, int] = defaultdict(int)
    for sku_id, committed in session.execute(
        select(MovementRow.sku_id, func.sum(MovementRow.delta_committed))
        .where(
            MovementRow.sku_id.in_(ids),
            MovementRow.created_at >= since,
            MovementRow.reason.in_([MovementReason.ORDER_COMMIT, MovementReason.CANCEL_RELEASE]),
        )
        .group_by(MovementRow.sku_id)
    ):
        demand[sku_id] += int(committed or 0)
    wanted = set(ids)
    for sku_id, short in _short_units(session, since):
        if sku_id in wanted:
            demand[sku_id] += short
    return {k: max(v, 0) for k, v in demand.items()}


def _short_units(session: Session, since: datetime) -> list[tuple[int, int]]:
    """Units recorded short on orders placed since ``since``, bundles expanded to components."""
    lines = session.execute(
        select(OrderLineRow.sku_id, func.sum(OrderLineRow.short))
        .join(OrderRow, OrderRow.id == OrderLineRow.order_id)
        .where(OrderLineRow.short > 0, OrderRow.created_at >= since)
        .group_by(OrderLineRow.sku_id)
    ).all()
    if not lines:
        return []
    recipes: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for bundle_id, component_id, qty in session.execute(
        select(
            BundleComponentRow.bundle_id, BundleComponentRow.component_id, BundleComponentRow.qty
        ).where(BundleComponentRow.bundle_id.in_([s for s, _ in lines]))
    ):
        recipes[bundle_id].append((component_id, qty))
    out: list[tuple[int, int]] = []
    for sku_id, short in lines:
        parts = recipes.get(sku_id) or [(sku_id, 1)]
        out.extend((component, int(short) * qty) for component, qty in parts)
    return out
