"""Tasks over the push pipeline, and the per-process registry they share.

A long-lived sync worker runs one flow after another in the same process. Building connectors
and engines per run would throw away what makes the next run cheap: open HTTP connections, each
connector's pacing state (Shopify's cost bucket, Amazon's token buckets) and the database pool.
So connectors are kept per channel name and ledgers per database URL, for the life of the
process, until :func:`close_all`. A channel whose configuration changed gets a new connector
(the old one is closed), so editing the channels file needs no restart.

Several sync workers may share one process (``stocksync bench sync`` runs one per channel group).
Each holds the registry with :func:`registry_held`; only the last one to stop closes it, so a
worker that stops first never disposes an engine or closes a connector another is still using.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from stocksync.channels.base import ChannelConnector
from stocksync.channels.registry import ChannelConfigError, build_connector
from stocksync.channels.settings import load_channel
from stocksync.ledger.config import list_channels
from stocksync.ledger.db import make_engine
from stocksync.ledger.service import Ledger
from stocksync.sync.backoff import RetryPolicy
from stocksync.sync.drain import drain
from stocksync.sync.pending import OrdersBehind, orders_behind
from stocksync.sync.poll import PollReport, catch_up_on_conflict, poll_channel
from stocksync.sync.report import DrainReport

__all__ = [
    "DEFAULT_LEASE_S",
    "DEFAULT_RETRY_BASE_S",
    "ChannelSource",
    "close_all",
    "configured_channels",
    "connector_for",
    "drain_task",
    "ledger_for",
    "ledger_kinds",
    "orders_behind_now",
    "poll_task",
    "refresh_rate_guards_task",
    "registry_held",
]

DEFAULT_LEASE_S = 300.0
"""How long a drain's claim on a listing lasts: it must outlast one call to the channel."""
DEFAULT_RETRY_BASE_S = RetryPolicy().base_s
"""The first backoff step after a transient failure (then doubling, with full jitter)."""

_lock = threading.Lock()
_ledgers: dict[str, Ledger] = {}
_connectors: dict[str, tuple[str, ChannelConnector]] = {}
_holders = 0


@dataclass(frozen=True, slots=True)
class ChannelSource:
    """How to build one channel's connector: its kind and fields; ``repr`` shows no field."""

    name: str
    kind: str
    fields: Mapping[str, Any]

    def __repr__(self) -> str:
        return f"ChannelSource(name={self.name!r}, kind={self.kind!r})"


def ledger_for(database_url: str) -> Ledger:
    """This process's ledger on ``database_url`` (one engine and pool per URL)."""
    with _lock:
        if database_url not in _ledgers:
            _ledgers[database_url] = Ledger(make_engine(database_url))
        return _ledgers[database_url]


def connector_for(source: ChannelSource) -> ChannelConnector:
    """This process's connector for the channel, rebuilt only when its configuration changed."""
    fingerprint = _fingerprint(source)
    with _lock:
        held = _connectors.get(source.name)
        if held is not None and held[0] == fingerprint:
            return held[1]
        connector = build_connector(source.kind, source.name, source.fields)
        _connectors[source.name] = (fingerprint, connector)
    if held is not None:
        held[1].close()
    return connector


def _fingerprint(source: ChannelSource) -> str:
    text = json.dumps([source.kind, dict(source.fields)], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def close_all() -> None:
    """Close every connector and dispose every engine this process holds (at shutdown)."""
    with _lock:
        taken = _take_all()
    _close(*taken)


@contextmanager
def registry_held() -> Iterator[None]:
    """Keep this process's connectors and ledgers open while the block runs; the last holder to
    leave closes them all (as :func:`close_all`), however many workers share the process."""
    global _holders
    with _lock:
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            taken = _take_all() if _holders == 0 else ([], [])
        _close(*taken)


def _take_all() -> tuple[list[ChannelConnector], list[Ledger]]:
    """Empty the registry (the caller holds ``_lock``); what it held, to be closed."""
    connectors = [c for _, c in _connectors.values()]
    ledgers = list(_ledgers.values())
    _connectors.clear()
    _ledgers.clear()
    return connectors, ledgers


def _close(connectors: list[ChannelConnector], ledgers: list[Ledger]) -> None:
    for connector in connectors:
        connector.close()
    for ledger in ledgers:
        ledger.engine.dispose()


def ledger_kinds(database_url: str) -> dict[str, str]:
    """Channel name → kind, as the ledger records them."""
    return {c.name: c.kind for c in ledger_for(database_url).run(list_channels)}


def configured_channels(
    database_url: str, names: Sequence[str] | None, channels_file: str | None
) -> tuple[dict[str, ChannelSource], dict[str, str]]:
    """The ledger's channels (all, or ``names``) that the channels file or environment configures.

    Returns the sources and, per channel left out, why. A channel asked for by name that is not
    configured is left out with its reason; one not asked for is left out quietly.
    """
    kinds = ledger_kinds(database_url)
    wanted = list(names) if names is not None else sorted(kinds)
    sources: dict[str, ChannelSource] = {}
    skipped: dict[str, str] = {}
    for name in wanted:
        if name not in kinds:
            skipped[name] = "the ledger has no channel of this name"
            continue
        try:
            settings = load_channel(name, path=channels_file, ledger_kind=kinds[name])
        except ChannelConfigError as exc:
            skipped[name] = str(exc)
            continue
        if not settings.sources:
            if names is not None:
                skipped[name] = "no configuration in the channels file or the environment"
            continue
        sources[name] = ChannelSource(name, settings.kind, settings.fields)
    return sources, skipped


def orders_behind_now(database_url: str, channels: list[str]) -> OrdersBehind:
    """The orders whose changes a drain is about to carry, to name the run.

    A plain call, not a task: one read for a label is not worth a task run (~0.1 s each when
    measured, see docs/architecture.md).
    """
    return ledger_for(database_url).call(orders_behind, channels)


@task(name="drain", task_run_name="drain-{worker_id}", cache_policy=NO_CACHE)
def drain_task(
    database_url: str,
    sources: dict[str, ChannelSource],
    worker_id: str,
    lease_s: float = DEFAULT_LEASE_S,
    retry_base_s: float = DEFAULT_RETRY_BASE_S,
) -> DrainReport:
    """Push every due dirty listing of the given channels; failures back off in the ledger.

    No Prefect retries: a listing that did not land is already scheduled for a later drain.
    A channel whose configuration does not build a connector is logged and left out of the
    report, so the sync worker stops watching it.
    ``lease_s`` is how long a claimed listing stays ours if this process dies mid-call;
    ``retry_base_s`` is the first backoff step after a transient failure.
    """
    connectors: dict[str, ChannelConnector] = {}
    for name, src in sources.items():
        try:
            connectors[name] = connector_for(src)
        except ChannelConfigError as exc:  # one misconfigured channel never stops the others
            get_run_logger().warning("channel %s not drained: %s", name, exc)
    ledger = ledger_for(database_url)
    hook = catch_up_on_conflict(ledger, connectors)
    return drain(
        ledger, connectors, worker_id=worker_id, on_conflict=hook, lease_s=lease_s,
        retry=RetryPolicy(base_s=retry_base_s),
    )  # fmt: skip


@task(name="refresh-rate-guards", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[5, 30])
def refresh_rate_guards_task(database_url: str) -> int:
    """List again what a last-units guard grown by a rush hid, once the rush is over; returns the
    number of listings changed (the sync worker pushes them)."""
    return ledger_for(database_url).refresh_rate_guards()


@task(name="poll-orders", task_run_name="poll-{source.name}", cache_policy=NO_CACHE,
      retries=2, retry_delay_seconds=[5, 30], retry_jitter_factor=0.5)  # fmt: skip
def poll_task(database_url: str, source: ChannelSource) -> PollReport:
    """Orders the channel changed since its cursor, through the inbox into the ledger.

    A channel error fails the attempt after the pages read so far are stored (their cursor too),
    so Prefect's retry resumes where it stopped.
    """
    return poll_channel(ledger_for(database_url), source.name, connector_for(source))
