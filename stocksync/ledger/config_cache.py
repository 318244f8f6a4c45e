"""A per-process copy of the slow-changing configuration the order path reads on every call.

Channels (with their rules and locations), bundle recipes and SKU ids change rarely; reading them
on every order costs more round trips than the order itself. The copy is tagged with the
``ledger_state.config_epoch`` it was read at; every change to that configuration bumps the epoch
in the same transaction, and the order path checks the epoch inside its own first statement.
"""

from __future__ import annotations

import threading
import weakref
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, select, update
from sqlmodel import Session

from stocksync.domain.model import ChannelPolicy
from stocksync.ledger.sql import conn
from stocksync.ledger.tables import (
    BundleComponentRow,
    ChannelLocationRow,
    ChannelRow,
    LedgerStateRow,
    SkuRow,
)

__all__ = [
    "ChannelConf",
    "ConfigCache",
    "bump_epoch",
    "channel_policy",
    "config_cache",
    "read_epoch",
]


@dataclass(frozen=True, slots=True)
class ChannelConf:
    id: int
    name: str
    priority: int
    policy: ChannelPolicy
    locations: frozenset[int]
    """The locations that feed the channel; empty means every location."""
    last_write_wins: bool = True
    """Its quantity writes overwrite whatever it shows (see :func:`last_write_wins`)."""


def channel_policy(r: Any) -> ChannelPolicy:
    """The policy held in a channels row (a ChannelRow or a result row of its columns)."""
    return ChannelPolicy(
        r.buffer, r.max_listed, r.share_pct, r.zero_below, r.last_units, r.last_seconds,
        bool(r.measured_guard), r.guard_max,
    )  # fmt: skip


def last_write_wins(kind: str) -> bool:
    """Whether a channel of ``kind`` takes quantity writes as plain overwrites.

    Shopify compares and sets, so a push of ours can never overwrite a sale it did not know of.
    WooCommerce and Amazon overwrite; a custom channel may or may not compare, and is treated as
    overwriting (the safe side: one push more).
    """
    return kind != "shopify"


@dataclass
class ConfigCache:
    epoch: int
    channels: dict[str, ChannelConf]
    by_id: dict[int, ChannelConf]
    recipes: dict[int, dict[int, int]]
    """Bundle SKU id → component SKU id → units per bundle."""
    bundles_of: dict[int, set[int]]
    """Component SKU id → the bundles that contain it."""
    skus: dict[str, int] = field(default_factory=dict)
    """SKU name → id: preloaded up to PRELOAD_SKUS, then filled as names are first seen."""

    @property
    def paced(self) -> bool:
        """Whether any channel's last-units guard grows with the sales rate."""
        return any(c.policy.grows_with_rate for c in self.by_id.values())

    def feeds(self) -> dict[int, frozenset[int]]:
        return {c.id: c.locations for c in self.by_id.values() if c.locations}

    def recipe(self, sku_id: int) -> dict[int, int]:
        return self.recipes.get(sku_id) or {sku_id: 1}

    def resolve(self, session: Session, names: Iterable[str]) -> dict[str, int]:
        """Ids of the known SKUs among ``names`` (one query for names not seen before)."""
        wanted = {n for n in names if n}
        missing = wanted - self.skus.keys()
        if missing:
            rows = conn(session).execute(
                select(SkuRow.sku, SkuRow.id).where(SkuRow.sku.in_(missing))
            )
            self.skus.update({name: id_ for name, id_ in rows})  # noqa: C416
        return {n: self.skus[n] for n in wanted if n in self.skus}


def read_epoch(session: Session) -> int:
    return int(conn(session).execute(select(LedgerStateRow.config_epoch)).scalar_one())


def bump_epoch(session: Session) -> None:
    """Tell every process its cached configuration is stale (call in the changing transaction)."""
    conn(session).execute(
        update(LedgerStateRow).values(config_epoch=LedgerStateRow.config_epoch + 1)
    )


PRELOAD_SKUS = 200_000
"""Catalogs up to this size are read whole when the copy is loaded; larger ones fill in lazily."""

_caches: weakref.WeakKeyDictionary[Engine, ConfigCache] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def config_cache(session: Session, epoch: int | None = None) -> ConfigCache:
    """The cached configuration for the session's engine, reloaded if ``epoch`` is newer."""
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    cached = _caches.get(engine)
    if cached is not None and (epoch is None or cached.epoch == epoch):
        return cached
    fresh = _load(session)
    with _lock:
        _caches[engine] = fresh
    return fresh


def _load(session: Session) -> ConfigCache:
    c = conn(session)
    epoch = read_epoch(session)
    feeds: dict[int, set[int]] = defaultdict(set)
    for ch, loc in c.execute(select(ChannelLocationRow.channel_id, ChannelLocationRow.location_id)):
        feeds[ch].add(loc)
    channels = [
        ChannelConf(
            r.id, r.name, r.priority,
            channel_policy(r),
            frozenset(feeds.get(r.id, ())), last_write_wins(r.kind),
        )
        for r in c.execute(select(ChannelRow))
    ]  # fmt: skip
    recipes: dict[int, dict[int, int]] = defaultdict(dict)
    bundles_of: dict[int, set[int]] = defaultdict(set)
    for b, comp, qty in c.execute(
        select(
            BundleComponentRow.bundle_id, BundleComponentRow.component_id, BundleComponentRow.qty
        )
    ):
        recipes[b][comp] = qty
        bundles_of[comp].add(b)
    skus = {name: id_ for name, id_ in c.execute(select(SkuRow.sku, SkuRow.id).limit(PRELOAD_SKUS))}  # noqa: C416
    return ConfigCache(
        epoch, {ch.name: ch for ch in channels}, {ch.id: ch for ch in channels},
        dict(recipes), dict(bundles_of), skus,
    )  # fmt: skip
