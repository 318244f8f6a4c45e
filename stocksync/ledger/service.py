"""The ledger's front door: one transaction per call, retried when the database asks for it.

Stock and order operations have a method each. Any other ledger function (``f(session, ...)``
in a ``stocksync.ledger`` module, named for what it does) runs through :meth:`Ledger.call`, so
callers outside the ledger name an operation instead of building a transaction around the
schema.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Concatenate, ParamSpec, TypeVar

import psycopg
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from stocksync.domain.model import MovementReason
from stocksync.ledger import orders, returns, stock
from stocksync.ledger.db import make_engine, transaction
from stocksync.ledger.listings import refresh_listings
from stocksync.ledger.reserve_release import release_settled
from stocksync.ledger.results import LineIn, OrderResult, StockResult
from stocksync.ledger.velocity import hidden_by_rate
from stocksync.ledger.verify import Mismatch, verify_ledger
from stocksync.settings import Settings, get_settings

__all__ = ["Ledger", "new_key"]

T = TypeVar("T")
P = ParamSpec("P")

# PostgreSQL asks a transaction to run again on a deadlock or a serialization failure; a unique
# violation means a concurrent transaction created the same row first (a SKU, a location), and a
# rerun sees it. Operations claim their keys with ON CONFLICT, so a rerun never doubles anything.
_RETRY_SQLSTATES = {"40P01", "40001", "23505"}
_jitter = random.Random()
"""Its own generator: reruns never touch the process-wide one (nor its seeding by tests)."""


def new_key(prefix: str) -> str:
    """A fresh idempotency key for an operation that has no natural one."""
    return f"{prefix}:{uuid.uuid4().hex}"


class Ledger:
    """Stock operations on one database, each atomic and idempotent on its key."""

    def __init__(self, engine: Engine, *, attempts: int = 8) -> None:
        self.engine = engine
        self.attempts = attempts

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Ledger:
        s = settings or get_settings()
        return cls(
            make_engine(
                s.database_url, pool_size=s.db_pool_size, busy_timeout_ms=s.sqlite_busy_timeout_ms
            )
        )

    def run(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in one transaction; again from the start after a deadlock or a lost connection."""
        for attempt in range(1, self.attempts + 1):
            try:
                with transaction(self.engine) as session:
                    return work(session)
            except (DBAPIError, psycopg.Error) as exc:
                if not _retryable(exc) or attempt == self.attempts:
                    raise
                time.sleep(_jitter.uniform(0, 0.01 * 2**attempt))  # jitter: the rivals part ways
        raise AssertionError("unreachable")

    def call(
        self, operation: Callable[Concatenate[Session, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """``operation(session, *args, **kwargs)`` in one transaction, rerun as :meth:`run` does."""
        return self.run(lambda session: operation(session, *args, **kwargs))

    def ping(self) -> None:
        """One round trip to the database; raises when it does not answer."""
        self.run(lambda session: session.execute(text("SELECT 1")))

    def has_schema(self) -> bool:
        """Whether the migrations have run on this database (``stocksync db upgrade``)."""
        return inspect(self.engine).has_table("alembic_version")

    def receive(
        self, sku: str, qty: int, location: str, *, key: str | None = None, note: str = ""
    ) -> StockResult:
        key = key or new_key("receive")
        return self.run(
            lambda s: stock.receive_stock(
                s, sku=sku, qty=qty, location=location, key=key, note=note
            )
        )

    def set_stock(
        self,
        sku: str,
        qty: int,
        location: str,
        *,
        reason: MovementReason = MovementReason.CYCLE_COUNT,
        key: str | None = None,
        note: str = "",
    ) -> StockResult:
        key = key or new_key("set")
        return self.run(
            lambda s: stock.set_stock(
                s, sku=sku, qty=qty, location=location, key=key, reason=reason, note=note
            )
        )

    def adjust(
        self,
        sku: str,
        delta: int,
        location: str,
        *,
        reason: MovementReason = MovementReason.ADJUSTMENT,
        key: str | None = None,
        note: str = "",
    ) -> StockResult:
        key = key or new_key("adjust")
        return self.run(
            lambda s: stock.adjust_stock(
                s, sku=sku, delta=delta, location=location, key=key, reason=reason, note=note
            )
        )

    def record_order(
        self,
        channel: str,
        external_id: str,
        lines: Sequence[LineIn],
        *,
        placed_at: datetime | None = None,
    ) -> OrderResult:
        return self.run(
            lambda s: orders.record_order(
                s, channel=channel, external_id=external_id, lines=lines, placed_at=placed_at
            )
        )

    def cancel_order(
        self,
        channel: str,
        external_id: str,
        *,
        quantities: Mapping[str, int] | None = None,
        key: str | None = None,
    ) -> OrderResult:
        return self.run(
            lambda s: orders.cancel_order(
                s, channel=channel, external_id=external_id, key=key, quantities=quantities
            )
        )

    def ship_order(
        self,
        channel: str,
        external_id: str,
        *,
        quantities: Mapping[str, int] | None = None,
        key: str | None = None,
    ) -> OrderResult:
        return self.run(
            lambda s: orders.ship_order(
                s, channel=channel, external_id=external_id, key=key, quantities=quantities
            )
        )

    def restock_return(
        self,
        channel: str,
        external_id: str,
        sku: str,
        qty: int,
        *,
        key: str,
        location: str | None = None,
    ) -> OrderResult:
        return self.run(
            lambda s: returns.restock_return(
                s,
                channel=channel,
                external_id=external_id,
                sku=sku,
                qty=qty,
                key=key,
                location=location,
            )
        )

    def order(self, channel: str, external_id: str) -> OrderResult:
        return self.run(lambda s: orders.order_result(s, channel=channel, external_id=external_id))

    def verify(self) -> list[Mismatch]:
        return self.run(verify_ledger)

    def refresh_rate_guards(self) -> int:
        """Recompute listings a guard grown by a rush hid while stock remains (see ``velocity``);
        returns how many listings changed."""
        return self.run(lambda s: len(refresh_listings(s, hidden_by_rate(s))))

    def release_settled_reserves(self) -> int:
        """List a keeper's reserve again where the channels it held back for have settled at 0
        (see ``reserve_release``); returns how many listings changed."""
        return self.run(release_settled)


def _retryable(exc: DBAPIError | psycopg.Error) -> bool:
    """A deadlock, a serialization failure or a lost connection: the whole transaction may rerun.

    The PostgreSQL order path talks to the driver directly, so its errors arrive unwrapped.
    """
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        exc = exc.orig  # type: ignore[assignment]
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(exc, psycopg.OperationalError) and sqlstate is None:
        return True  # the connection itself failed; keys make a rerun safe even after a commit
    return sqlstate in _RETRY_SQLSTATES
