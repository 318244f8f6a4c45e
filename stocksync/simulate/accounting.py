"""What one mode's way of keeping counts cost: oversells, refused sales, hidden stock, API calls.

The seller's question is how many orders they will have to cancel. An accepted order with any
line short is one the seller must cancel (a seller cancellation), and marketplaces hold sellers
to a cancel rate: Amazon below 2.5 %, Walmart below 2 %
(``../shared/reference/anchors.md`` §4). The cost of preventing oversells is measured beside
them: checkouts refused while the shelf could have filled them, and units the channels were not
shown (beyond their buffer) × the time they were hidden.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from stocksync.simulate.records import ModeRun, Shown
from stocksync.simulate.replay import Replay, replay

__all__ = [
    "AMAZON_CANCEL_LIMIT",
    "WALMART_CANCEL_LIMIT",
    "ChannelOutcome",
    "GapStats",
    "ModeOutcome",
    "account",
    "withheld_unit_hours",
]

AMAZON_CANCEL_LIMIT = 0.025
WALMART_CANCEL_LIMIT = 0.02


@dataclass(frozen=True, kw_only=True)
class GapStats:
    """Sync gaps in seconds: percentiles interpolated linearly between the nearest ranks."""

    count: int
    p50: float | None
    p90: float | None
    p99: float | None
    max: float | None

    @classmethod
    def of(cls, gaps: Sequence[float]) -> GapStats:
        xs = sorted(gaps)
        return cls(
            count=len(xs),
            p50=percentile(xs, 0.50),
            p90=percentile(xs, 0.90),
            p99=percentile(xs, 0.99),
            max=xs[-1] if xs else None,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            **{k: _r(getattr(self, k), 3) for k in ("p50", "p90", "p99", "max")},
        }


def percentile(xs: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile of sorted ``xs`` (linear between ranks, as numpy's default)."""
    if not xs:
        return None
    pos = q * (len(xs) - 1)
    low = int(pos)
    high = min(low + 1, len(xs) - 1)
    return xs[low] + (xs[high] - xs[low]) * (pos - low)


@dataclass(kw_only=True)
class ChannelOutcome:
    """What one channel's shoppers met (or, in :class:`ModeOutcome`, all channels together)."""

    orders_placed: int = 0
    orders_accepted: int = 0
    orders_refused: int = 0
    oversold_orders: int = 0
    """Accepted with at least one line short."""
    oversold_lines: int = 0
    oversold_units: int = 0
    refused_in_stock: int = 0
    """Refused checkouts the shelf could have filled at that moment: sales the lag or the
    guard lost."""
    refused_in_stock_units: int = 0
    customer_cancellations: int = 0
    returns: int = 0
    withheld_unit_hours: float = 0.0
    """∫ max(0, physical available − buffer − shown) dt over the listings, in unit·hours."""
    api_calls: int = 0

    @property
    def seller_cancellations(self) -> int:
        """Every oversold order is one the seller has to cancel."""
        return self.oversold_orders

    @property
    def cancel_rate(self) -> float:
        return self.seller_cancellations / self.orders_accepted if self.orders_accepted else 0.0

    @property
    def over_amazon_limit(self) -> bool:
        return self.cancel_rate > AMAZON_CANCEL_LIMIT

    @property
    def over_walmart_limit(self) -> bool:
        return self.cancel_rate > WALMART_CANCEL_LIMIT

    def to_dict(self) -> dict[str, Any]:
        counts = (
            "orders_placed orders_accepted orders_refused oversold_orders oversold_lines"
            " oversold_units seller_cancellations refused_in_stock refused_in_stock_units"
            " customer_cancellations returns api_calls"
        ).split()
        return {
            **{name: getattr(self, name) for name in counts},
            "cancel_rate": round(self.cancel_rate, 5),
            "over_amazon_limit": self.over_amazon_limit,
            "over_walmart_limit": self.over_walmart_limit,
            "withheld_unit_hours": round(self.withheld_unit_hours, 3),
        }


@dataclass(kw_only=True)
class ModeOutcome(ChannelOutcome):
    """One mode's totals over every channel, its sync gaps, and :attr:`channels` one by one."""

    mode: str
    compression: float = 1.0
    real_seconds: float = 0.0
    gaps: GapStats = field(default_factory=lambda: GapStats.of(()))
    """Per accepted order, scenario seconds until every other channel reflected it."""
    gaps_real: GapStats | None = None
    """The same in real seconds, for a mode run on a real clock."""
    ledger_short_lines: int | None = None
    notes: list[str] = field(default_factory=list)
    channels: dict[str, ChannelOutcome] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "compression": _r(self.compression, 3),
            "real_seconds": _r(self.real_seconds, 3),
            **super().to_dict(),
            "gaps_s": self.gaps.to_dict(),
            "gaps_real_s": None if self.gaps_real is None else self.gaps_real.to_dict(),
            "ledger_short_lines": self.ledger_short_lines,
            "notes": list(self.notes),
            "channels": {name: c.to_dict() for name, c in self.channels.items()},
        }


def account(
    run: ModeRun,
    *,
    stock: Mapping[str, int],
    bundles: Mapping[str, Mapping[str, int]],
    buffers: Mapping[str, int],
    end_t: float,
) -> ModeOutcome:
    """Replay ``run`` against a fresh warehouse and count what it cost, per channel and in all.

    ``buffers`` names the channels (in report order) and the units each holds back on purpose;
    ``end_t`` ends the time integrals (the scenario's length in scenario seconds).
    """
    replayed = replay(run, stock=stock, bundles=bundles)
    names = list(buffers) + sorted(_channels_of(run) - set(buffers))
    per = {name: ChannelOutcome(api_calls=run.api_calls.get(name, 0)) for name in names}
    _count_checkouts(replayed, per)
    channel_of = {f.answer.ref: f.answer.channel for f in replayed.checkouts}
    for cancel in run.cancelled:
        if cancel.ref in channel_of:
            per[channel_of[cancel.ref]].customer_cancellations += 1
    for back in run.returned:
        if back.ref in channel_of:
            per[channel_of[back.ref]].returns += 1
    shown = _shown_steps(run.shown)
    for (channel, sku), steps in shown.items():
        per[channel].withheld_unit_hours += withheld_unit_hours(
            replayed.available.get(sku, [(0.0, 0)]), steps, buffers.get(channel, 0), end_t
        )
    total = ModeOutcome(
        mode=run.mode,
        compression=run.compression,
        real_seconds=run.real_seconds,
        gaps=GapStats.of(run.gaps_s),
        gaps_real=GapStats.of(run.gaps_real_s) if run.gaps_real_s else None,
        ledger_short_lines=run.ledger_short_lines,
        notes=list(run.notes),
        channels=per,
    )
    for outcome in per.values():
        for name in _SUMMED:
            setattr(total, name, getattr(total, name) + getattr(outcome, name))
    return total


_SUMMED = (
    "orders_placed orders_accepted orders_refused oversold_orders oversold_lines oversold_units"
    " refused_in_stock refused_in_stock_units customer_cancellations returns"
    " withheld_unit_hours api_calls"
).split()


def _channels_of(run: ModeRun) -> set[str]:
    return {a.channel for a in run.answered} | {s.channel for s in run.shown} | set(run.api_calls)


def _count_checkouts(replayed: Replay, per: Mapping[str, ChannelOutcome]) -> None:
    for filled in replayed.checkouts:
        answer = filled.answer
        outcome = per[answer.channel]
        outcome.orders_placed += 1
        if answer.accepted:
            outcome.orders_accepted += 1
            short = [units for units in filled.short if units > 0]
            if short:
                outcome.oversold_orders += 1
                outcome.oversold_lines += len(short)
                outcome.oversold_units += sum(short)
        else:
            outcome.orders_refused += 1
            if filled.could_fill:
                outcome.refused_in_stock += 1
                outcome.refused_in_stock_units += sum(units for _, units in answer.lines)


def _shown_steps(shown: Iterable[Shown]) -> dict[tuple[str, str], list[tuple[float, int]]]:
    """(channel, SKU) → (t, qty) in time order (a stable sort keeps same-t records in order)."""
    steps: dict[tuple[str, str], list[tuple[float, int]]] = {}
    for record in sorted(shown, key=lambda s: s.t):
        steps.setdefault((record.channel, record.sku), []).append((record.t, record.qty))
    return steps


def withheld_unit_hours(
    available: Sequence[tuple[float, int]],
    shown: Sequence[tuple[float, int]],
    buffer: int,
    end_t: float,
) -> float:
    """∫₀^end max(0, available − buffer − shown) dt in unit·hours, both step functions given as
    (t, value from t on) in time order; the channel shows 0 before its first record."""
    changes = sorted(
        [(t, 0, v) for t, v in available] + [(t, 1, v) for t, v in shown], key=lambda c: c[0]
    )
    have = shows = 0
    last = total = 0.0
    for t, which, value in changes:
        t = min(max(t, 0.0), end_t)
        total += max(0, have - buffer - shows) * (t - last)
        last = t
        if which == 0:
            have = value
        else:
            shows = value
    total += max(0, have - buffer - shows) * (end_t - last)
    return total / 3600.0


def _r(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)
