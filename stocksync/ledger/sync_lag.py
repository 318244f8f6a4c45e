"""The samples behind the measured sync gap, and each process's recent reading of them.

Push timings are written by the push pipeline, one row per pushed batch (``record_push_timing``);
order lateness needs no row of its own: every order row holds the channel's order time
(``placed_at``) and the ledger's commit time (``created_at``). ``measure_lags`` reads the newest
of both and summarises them per channel with :mod:`stocksync.domain.sync_lag`; the order path
uses ``cached_lags``, read at most once a second per process, so the gap costs it one small
query a second rather than one per order.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, insert, select
from sqlmodel import Session

from stocksync.domain.clock import as_utc, utcnow
from stocksync.domain.sync_lag import (
    LAG_SAMPLES,
    LAG_WINDOW_S,
    Gap,
    Sample,
    SyncLag,
    channel_gap,
    summarise,
)
from stocksync.ledger.sql import conn
from stocksync.ledger.tables import OrderRow, PushTimingRow

__all__ = [
    "LAG_CACHE_S",
    "cached_lags",
    "channel_gaps",
    "forget_readings",
    "measure_lags",
    "record_push_timing",
]

LAG_CACHE_S = 1.0
"""How long one process reuses its reading of the lags."""
_ORDERS_READ = 3 * LAG_SAMPLES
"""The newest orders read for their lateness (all channels together)."""


def record_push_timing(
    session: Session, channel_id: int, seconds: float, *, read_back: bool, now: datetime
) -> None:
    """One pushed batch of ``channel_id`` showed ``seconds`` after it was claimed; samples of the
    channel older than twice the window go."""
    c = conn(session)
    c.execute(
        insert(PushTimingRow).values(
            channel_id=channel_id, seconds=max(0.0, seconds), read_back=read_back, at=now
        )
    )
    old = now - timedelta(seconds=2 * LAG_WINDOW_S)
    c.execute(
        delete(PushTimingRow).where(PushTimingRow.channel_id == channel_id, PushTimingRow.at < old)
    )


def measure_lags(session: Session, now: datetime | None = None) -> dict[int, SyncLag]:
    """Channel id → its recent lag, from the samples of the last ``LAG_WINDOW_S`` seconds."""
    now = now or utcnow()
    since = now - timedelta(seconds=LAG_WINDOW_S)
    c = conn(session)
    applied: dict[int, list[Sample]] = defaultdict(list)
    read_back: dict[int, list[Sample]] = defaultdict(list)
    t = PushTimingRow
    for channel_id, seconds, back, at in c.execute(
        select(t.channel_id, t.seconds, t.read_back, t.at)
        .where(t.at >= since)
        .order_by(t.id.desc())  # type: ignore[union-attr]
        .limit(3 * LAG_SAMPLES)
    ):
        age = (now - as_utc(at)).total_seconds()
        (read_back if back else applied)[channel_id].append((age, seconds))
    orders: dict[int, list[Sample]] = defaultdict(list)
    o = OrderRow
    for channel_id, placed, created in c.execute(
        select(o.channel_id, o.placed_at, o.created_at)
        .order_by(o.id.desc())  # type: ignore[union-attr]
        .limit(_ORDERS_READ)
    ):
        created = as_utc(created)
        if placed is None or created < since:
            continue
        age = (now - created).total_seconds()
        orders[channel_id].append((age, (created - as_utc(placed)).total_seconds()))
    channels = set(applied) | set(read_back) | set(orders)
    return {
        ch: summarise(
            applied[ch][:LAG_SAMPLES], read_back[ch][:LAG_SAMPLES], orders[ch][:LAG_SAMPLES]
        )
        for ch in channels
    }


def channel_gaps(lags: Mapping[int, SyncLag], channel_ids: Iterable[int]) -> dict[int, Gap]:
    """Channel id → what its rules take from the lags (:func:`~stocksync.domain.sync_lag.channel_gap`)."""
    return {ch: channel_gap(lags, ch) for ch in set(channel_ids)}


class _Reading:
    def __init__(self, lags: dict[int, SyncLag], at: float) -> None:
        self.lags, self.at = lags, at


_readings: weakref.WeakKeyDictionary[Engine, _Reading] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def cached_lags(session: Session, max_age_s: float = LAG_CACHE_S) -> dict[int, SyncLag]:
    """This process's reading of :func:`measure_lags` for the session's engine, at most
    ``max_age_s`` old."""
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    reading = _readings.get(engine)
    now = time.monotonic()
    if reading is not None and now - reading.at < max_age_s:
        return reading.lags
    lags = measure_lags(session)
    with _lock:
        _readings[engine] = _Reading(lags, now)
    return lags


def forget_readings() -> None:
    """Drop every process-wide reading, so the next ``cached_lags`` measures afresh."""
    with _lock:
        _readings.clear()
