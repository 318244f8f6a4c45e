"""Engines and transactions.

SQLite: WAL journal and ``BEGIN IMMEDIATE`` for every transaction, so writers queue on the
database lock instead of failing half-way with "database is locked".
PostgreSQL: READ COMMITTED; operations take row locks in a fixed order (see ``locks``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlmodel import Session

__all__ = ["is_postgres", "make_engine", "transaction"]


def make_engine(url: str, *, pool_size: int = 10, busy_timeout_ms: int = 30_000) -> Engine:
    """An engine for ``url`` set up for the ledger's concurrency rules."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000}
        )
        _configure_sqlite(engine, busy_timeout_ms)
        return engine
    # No pre-ping: it costs a round trip per transaction. A connection the server dropped fails
    # its first statement instead, and Ledger.run retries the transaction on a fresh one.
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_recycle=3600)


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself instead of pysqlite's deferred BEGIN.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        if engine.url.database not in (None, "", ":memory:"):
            cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def is_postgres(engine_or_session: Engine | Session) -> bool:
    bind = (
        engine_or_session.get_bind()
        if isinstance(engine_or_session, Session)
        else engine_or_session
    )
    return bind.dialect.name == "postgresql"


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One unit of work: commits once at the end, rolls back on any error."""
    with Session(engine, expire_on_commit=False) as session:
        with session.begin():
            yield session
