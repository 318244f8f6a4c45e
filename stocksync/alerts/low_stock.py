"""Which SKUs are at or below their reorder point, with the numbers a buyer needs to act.

Demand counts what customers asked for, not only what we could ship: units committed to orders,
minus units released by cancellations, plus units recorded short (a sale we could not fill is still
demand). Bundles are expanded to their components, since only components hold stock.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlmodel import Session

from stocksync.alerts.reorder import ReorderAdvice, advise
from stocksync.domain.clock import utcnow
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

__all__ = ["DEMAND_WINDOW_DAYS", "LowStock", "low_stock", "stock_position"]

DEMAND_WINDOW_DAYS = 28


@dataclass(frozen=True, slots=True)
class LowStock:
    sku: str
    title: str
    reorder_point: int
    lead_time_days: int
    available: int
    by_location: dict[str, int]
    """Units free to sell per location (on hand minus committed)."""
    demand: int
    """Units demanded in the window (committed - released + short)."""
    advice: ReorderAdvice

    @property
    def low(self) -> bool:
        return self.available <= self.reorder_point


def stock_position(
    session: Session,
    skus: Sequence[str] | None = None,
    *,
    window_days: int = DEMAND_WINDOW_DAYS,
    now: datetime | None = None,
) -> list[LowStock]:
    """Every stock-holding SKU (or those named), with availability, demand and reorder advice."""
    stmt = select(SkuRow).where(SkuRow.is_bundle.is_(False)).order_by(SkuRow.sku)
    if skus is not None:
        stmt = stmt.where(SkuRow.sku.in_(set(skus)))
    rows = list(session.execute(stmt).scalars())
    ids = [r.id for r in rows if r.id is not None]
    if not ids:
        return []
    since = (now or utcnow()) - timedelta(days=window_days)
    by_location = _available_by_location(session, ids)
    demand = _demand(session, ids, since)
    positions = []
    for r in rows:
        assert r.id is not None
        places = by_location.get(r.id, {})
        available = sum(places.values())
        positions.append(
            LowStock(
                r.sku,
                r.title,
                r.reorder_point,
                r.lead_time_days,
                available,
                places,
                demand.get(r.id, 0),
                advise(
                    available=available,
                    demand=demand.get(r.id, 0),
                    window_days=window_days,
                    lead_time_days=r.lead_time_days,
                    reorder_point=r.reorder_point,
                ),
            )
        )
    return positions


def low_stock(
    session: Session,
    skus: Sequence[str] | None = None,
    *,
    window_days: int = DEMAND_WINDOW_DAYS,
    now: datetime | None = None,
) -> list[LowStock]:
    """The SKUs among ``skus`` (all when None) whose available units are at or below reorder point."""
    return [p for p in stock_position(session, skus, window_days=window_days, now=now) if p.low]


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
