"""Small dialect-aware SQL helpers shared by the ledger operations."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Table, or_, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from stocksync.domain.clock import utcnow
from stocksync.ledger.tables import OperationRow, StockRow

__all__ = ["claim_operation", "conn", "insert_ignore", "lock_stock", "stock_table"]

stock_table: Table = StockRow.__table__  # type: ignore[attr-defined]
operation_table: Table = OperationRow.__table__  # type: ignore[attr-defined]


def conn(session: Session) -> Connection:
    """The session's connection: Core statements skip the ORM's per-statement work this way."""
    return session.connection()


def insert_ignore(
    session: Session, table: Table, values: dict[str, Any], conflict: Sequence[str]
) -> Any | None:
    """INSERT … ON CONFLICT DO NOTHING RETURNING the primary key; None when the row existed.

    On PostgreSQL a concurrent insert of the same key waits for the other transaction and then
    returns None if it committed, which is what makes every operation idempotent under races.
    """
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    pk = list(table.primary_key.columns)[0]
    stmt = (
        dialect.insert(table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=list(conflict))
        .returning(pk)
    )
    return conn(session).execute(stmt).scalar_one_or_none()


def claim_operation(session: Session, key: str, kind: str) -> int | None:
    """Register an operation's idempotency key; None if an operation with it already ran."""
    if not key or len(key) > 300:
        raise ValueError("an idempotency key must be 1 to 300 characters")
    return insert_ignore(
        session, operation_table, {"key": key, "kind": kind, "created_at": utcnow()}, ["key"]
    )


def lock_stock(
    session: Session, pairs: Iterable[tuple[int, int]] = (), *, sku_ids: Iterable[int] = ()
) -> dict[tuple[int, int], list[int]]:
    """Lock stock rows in (sku, location) order; return {(sku, loc): [on_hand, committed]}.

    Every operation locks stock before listings and in this one order, so two operations can
    wait on each other but never deadlock. ``pairs`` names rows exactly, ``sku_ids`` takes every
    location of those SKUs. Missing rows are not created here.
    """
    pairs = sorted(set(pairs))
    skus = sorted(set(sku_ids))
    conditions = []
    if pairs:
        conditions.append(tuple_(stock_table.c.sku_id, stock_table.c.location_id).in_(pairs))
    if skus:
        conditions.append(stock_table.c.sku_id.in_(skus))
    if not conditions:
        return {}

    stmt = (
        select(
            stock_table.c.sku_id,
            stock_table.c.location_id,
            stock_table.c.on_hand,
            stock_table.c.committed,
        )
        .where(or_(*conditions))
        .order_by(stock_table.c.sku_id, stock_table.c.location_id)
        .with_for_update()
    )
    return {(r[0], r[1]): [r[2], r[3]] for r in conn(session).execute(stmt)}
