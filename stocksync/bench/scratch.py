"""A scratch ledger beside the configured one, so a demo or benchmark never touches real data.

SQLite: a fresh file in ``workdir``. PostgreSQL: a new database on the same server, named after
the configured one and this process, dropped afterwards (``keep`` leaves it for exploring).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

__all__ = ["scratch_ledger_url"]


@contextmanager
def scratch_ledger_url(
    database_url: str | None, workdir: Path, *, label: str, keep: bool = False
) -> Iterator[str]:
    """The URL of an empty database for one run (SQLite in ``workdir`` when no URL is given)."""
    if database_url is None or database_url.startswith("sqlite"):
        yield f"sqlite:///{workdir / f'{label}.db'}"
        return
    server = make_url(database_url)
    name = f"{server.database or 'stocksync'}_{label}_{os.getpid()}"
    admin = create_engine(
        server.set(database="postgres"), poolclass=NullPool, isolation_level="AUTOCOMMIT"
    )
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            yield server.set(database=name).render_as_string(hide_password=False)
        finally:
            if not keep:
                with admin.connect() as conn:
                    conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()
