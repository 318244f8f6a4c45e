"""Waking the drainer when listings become dirty, instead of polling on a timer.

PostgreSQL: the ledger sends ``NOTIFY stocksync_dirty`` in the transaction that marks listings
dirty (once per transaction; the server delivers it only when that transaction commits), and
:func:`wait_for_dirty` LISTENs on its own connection. The channel is checked after LISTEN, so a
change committed just before it is not missed. SQLite has no notifications: a short poll of the
partial index on dirty listings does the same job.

Listings backing off after a failure become due without any notification, so the wait is also
cut short at the earliest ``next_attempt_at``.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from datetime import datetime

import psycopg
from sqlalchemy import Connection, Engine

from stocksync.domain.clock import utcnow
from stocksync.ledger.db import is_postgres
from stocksync.ledger.notify import DIRTY_CHANNEL
from stocksync.ledger.push_leases import earliest_due

__all__ = ["seconds_until_due", "wait_for_dirty"]


def seconds_until_due(
    conn: Connection, now: datetime | None = None, channels: Collection[str] | None = None
) -> float | None:
    """0 when a dirty listing may be claimed now, the wait until the next one, None if none.

    ``channels`` limits the look to the channels a drainer pushes to (a channel nobody drains
    would otherwise keep it awake).
    """
    now = now or utcnow()
    earliest = earliest_due(conn, now, channels)
    return None if earliest is None else max((earliest - now).total_seconds(), 0.0)


def wait_for_dirty(
    engine: Engine,
    timeout_s: float,
    *,
    channels: Collection[str] | None = None,
    poll_s: float = 0.2,
) -> bool:
    """Return True as soon as a dirty listing (of ``channels``, if given) is due for a push,
    False after ``timeout_s``."""
    if is_postgres(engine):
        return _listen(engine, timeout_s, channels)
    deadline = time.monotonic() + timeout_s
    while True:
        with engine.connect() as conn:
            due = seconds_until_due(conn, channels=channels)
        if due == 0:
            return True
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(poll_s, left, due if due is not None else left))


def _listen(engine: Engine, timeout_s: float, channels: Collection[str] | None) -> bool:
    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    deadline = time.monotonic() + timeout_s
    with psycopg.connect(url, autocommit=True) as pg:
        pg.execute(f"LISTEN {DIRTY_CHANNEL}")
        while True:
            with engine.connect() as conn:
                due = seconds_until_due(conn, channels=channels)
            if due == 0:
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            wait = min(left, due) if due is not None else left
            for _ in pg.notifies(timeout=wait, stop_after=1):
                pass  # woken: look again (the notification may be for rows now being pushed)
