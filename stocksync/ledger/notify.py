"""Telling the push pipeline that listings became dirty, in the transaction that made them so.

PostgreSQL delivers a NOTIFY only when its transaction commits, and folds identical ones of one
transaction into one, so a drainer listening on ``stocksync_dirty`` (``stocksync.sync.wakeup``)
wakes once per committed change and never before the rows are visible. We still send at most one
per transaction: each costs a statement. SQLite has no notifications; drainers poll there.
"""

from __future__ import annotations

from sqlmodel import Session

__all__ = ["DIRTY_CHANNEL", "NOTIFY_SQL", "notify_dirty"]

DIRTY_CHANNEL = "stocksync_dirty"
NOTIFY_SQL = f"pg_notify('{DIRTY_CHANNEL}', '')"
_NOTIFIED = "stocksync_dirty_notified"


def notify_dirty(session: Session) -> None:
    """Announce dirty listings to the drainers, once per transaction (PostgreSQL only)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    tx = session.get_transaction()
    if tx is not None and session.info.get(_NOTIFIED) is tx:
        return
    session.connection().exec_driver_sql(f"SELECT {NOTIFY_SQL}")
    session.info[_NOTIFIED] = tx
