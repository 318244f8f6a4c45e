"""How far behind each channel runs: the measured sync gap that sizes the last-units guard.

Two channels can sell the same last unit only in the gap between a sale and every other channel
showing its effect. For a channel C that gap has two parts the ledger can measure:

* **push to shown**: from the moment a push of C's listings is claimed until C shows the pushed
  quantity: the API call, its pacing and retries, and for a channel that applies writes late
  (Amazon's listings) until a read-back sees the quantity;
* **order lateness** of the channels: from a channel's own order time until the order is
  committed in the ledger (webhook delivery, the receiver, the ledger write). Units another
  channel sold and the ledger has not heard of yet are units C still shows. C's own late orders
  count too: C takes its own sales off its own count, but until the ledger hears of them the
  pool looks larger than it is, C is hidden later, and the top channel (never hidden) shows
  those units as well.

Each part is the high percentile of the last five minutes' samples, or the longest sample of the
last ``RECENT_S`` seconds if that is longer: a lag that grows (a burst saturating the receiver, a
host getting loaded) counts as soon as its first samples arrive, not once it is 1% of the window.

The guard of C covers the SKU's sales rate × (C's push to shown + the longest order lateness
among the channels): the units sold on any channel that the ledger has not yet taken into the
pool are at most the SKU's rate × the longest lateness. The channel that keeps the last units
(never hidden) holds back, for each other channel, that channel's own sales rate × its own order
lateness instead: what it may have sold that the pool still counts (``allocation.reserve``),
until it has shown 0 for longer than its push to shown plus that lateness (``settle_seconds``).

Pure functions, no I/O; ``stocksync.ledger.sync_lag`` keeps the samples and reads them.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

__all__ = [
    "LAG_PERCENTILE",
    "LAG_SAMPLES",
    "LAG_SAMPLE_MAX_S",
    "LAG_WINDOW_S",
    "RECENT_S",
    "Gap",
    "Sample",
    "SyncLag",
    "channel_gap",
    "gap_seconds",
    "high_percentile",
    "settle_seconds",
    "summarise",
]

LAG_PERCENTILE = 99.0
"""The high percentile of recent samples the guard covers."""
LAG_WINDOW_S = 300.0
"""Samples older than this no longer count: the guard follows the host and channels as they are."""
LAG_SAMPLES = 1000
"""At most this many of the newest samples per channel and kind are read."""
RECENT_S = 30.0
"""The longest sample this recent counts in full, whatever the percentile says."""
LAG_SAMPLE_MAX_S = 600.0
"""A sample longer than this is a catch-up (an order read back hours later by the poller, an
order placed before the shop was connected), not a sync gap: it is not counted."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncLag:
    """One channel's recent lag, in seconds (0 where nothing was measured)."""

    push_s: float = 0.0
    """High percentile of push to shown (read-backs where the channel has them)."""
    order_s: float = 0.0
    """High percentile of the channel's order time to the order's commit in the ledger."""
    push_samples: int = 0
    order_samples: int = 0
    read_back: bool = False
    """``push_s`` comes from read-backs (the channel applies writes late)."""


Sample = tuple[float, float]
"""(age: seconds since it was taken, the lag it measured in seconds)."""


def high_percentile(samples: Sequence[float], pct: float = LAG_PERCENTILE) -> float:
    """Nearest-rank percentile of the samples that count (0.0 for none)."""
    counted = sorted(s for s in samples if 0 <= s <= LAG_SAMPLE_MAX_S)
    if not counted:
        return 0.0
    return counted[max(0, math.ceil(pct / 100 * len(counted)) - 1)]


def lag_of(samples: Sequence[Sample]) -> float:
    """The high percentile of the samples, or the longest recent one if that is longer."""
    recent = [lag for age, lag in samples if age <= RECENT_S and 0 <= lag <= LAG_SAMPLE_MAX_S]
    return max(high_percentile([lag for _, lag in samples]), max(recent, default=0.0))


def summarise(
    applied: Sequence[Sample], read_back: Sequence[Sample], orders: Sequence[Sample]
) -> SyncLag:
    """A channel's lag from its samples: claim → applied and claim → read back shown, and its
    orders' lateness. Read-backs, where there are any, say when the quantity showed."""
    pushes = read_back if read_back else applied
    return SyncLag(
        push_s=lag_of(pushes),
        order_s=lag_of([(age, max(0.0, lag)) for age, lag in orders]),
        push_samples=len(pushes),
        order_samples=len(orders),
        read_back=bool(read_back),
    )


_K = TypeVar("_K", bound=Hashable)


@dataclass(frozen=True, slots=True)
class Gap:
    """What one channel's rules take from the measured lags."""

    guard_s: float = 0.0
    """The seconds its last-units guard covers (:func:`gap_seconds`)."""
    own_late_s: float = 0.0
    """How late the channel's own orders reach the ledger: with its sales rate, the units it may
    have sold that the channel keeping the last units holds back (``allocation.reserve``)."""
    settle_s: float = 0.0
    """How long after its last push the channel's orders taken before it are all in the ledger
    (:func:`settle_seconds`)."""


def channel_gap(lags: Mapping[_K, SyncLag], channel: _K) -> Gap:
    """:class:`Gap` of ``channel``."""
    own = lags.get(channel)
    late = own.order_s if own else 0.0
    return Gap(gap_seconds(lags, channel), late, settle_seconds(lags, channel))


def settle_seconds(lags: Mapping[_K, SyncLag], channel: _K) -> float:
    """How long after a push is recorded the channel may still be selling the count it replaced
    and those orders still be on their way: its push to shown plus its own order lateness."""
    own = lags.get(channel)
    return own.push_s + own.order_s if own else 0.0


def gap_seconds(lags: Mapping[_K, SyncLag], channel: _K) -> float:
    """The sync gap ``channel``'s guard covers: its own push to shown plus the latest of the
    channels' orders (the units sold that the ledger has not heard of yet)."""
    own = lags.get(channel)
    late = max((lag.order_s for lag in lags.values()), default=0.0)
    return (own.push_s if own else 0.0) + late
