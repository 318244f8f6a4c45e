"""Claiming the right to send an alert (``alerts_sent``), so cooldowns hold across processes and
retries.

A claim is taken before the message goes out and given back if Slack does not take it: two
workers looking at the same SKU send one alert, and an alert lost to an outage is sent next time.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from stocksync.domain.clock import utcnow
from stocksync.ledger.tables import AlertSentRow

__all__ = ["claim_alerts", "release_alerts"]

_table = AlertSentRow.__table__  # type: ignore[attr-defined]


def claim_alerts(
    session: Session,
    keys: Sequence[str],
    *,
    cooldown: timedelta | None,
    now: datetime | None = None,
) -> list[str]:
    """The keys whose last alert is older than ``cooldown`` (None: never re-sent), now claimed."""
    now = now or utcnow()
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    claimed = []
    for key in sorted(set(keys)):
        stmt = dialect.insert(_table).values(key=key, sent_at=now)
        if cooldown is None:
            stmt = stmt.on_conflict_do_nothing(index_elements=["key"])
        else:
            stmt = stmt.on_conflict_do_update(
                index_elements=["key"],
                set_={"sent_at": now},
                where=_table.c.sent_at <= now - cooldown,
            )
        if session.connection().execute(stmt.returning(_table.c.key)).scalar_one_or_none():
            claimed.append(key)
    return claimed


def release_alerts(session: Session, keys: Sequence[str]) -> None:
    """Give claims back after a failed delivery, so the next check sends them."""
    if keys:
        session.connection().execute(delete(_table).where(_table.c.key.in_(list(keys))))
