"""Oversold lines: an order line recorded short, the orders that took the units, and which to cancel.

When two channels sell the last unit, the ledger commits it to the order it recorded first and records
the other line short (:mod:`stocksync.ledger.oversold_orders`). The seller must cancel one of them.
By default the policy cancels the order placed later on its channel (customers placed first keep
their order), which is not always the one recorded short: webhooks can arrive out of order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from stocksync.ledger.oversold_orders import OrderRef, ShortLine

__all__ = ["CancelPolicy", "OversoldLine", "oversold_lines"]


class CancelPolicy(StrEnum):
    LATER = "later"
    """Cancel the order placed later on its channel (the default)."""
    SHORT = "short"
    """Cancel the order the ledger recorded short."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OversoldLine:
    sku: str
    short: int
    order: OrderRef
    """The order whose line was recorded short."""
    competitors: tuple[OrderRef, ...]
    """Orders holding commitments of the same stock, newest first."""
    cancel: OrderRef
    """The order the policy says to cancel."""


def oversold_lines(
    lines: Sequence[ShortLine], *, policy: CancelPolicy = CancelPolicy.LATER
) -> list[OversoldLine]:
    """Each of the ledger's short ``lines`` with the order ``policy`` says to cancel."""
    return [
        OversoldLine(
            sku=line.sku,
            short=line.short,
            order=line.order,
            competitors=line.competitors,
            cancel=_to_cancel(line.order, line.competitors, policy),
        )
        for line in lines
    ]


def _to_cancel(short: OrderRef, rivals: tuple[OrderRef, ...], policy: CancelPolicy) -> OrderRef:
    if policy is CancelPolicy.SHORT or not rivals:
        return short
    latest = max(rivals, key=lambda r: _naive(r.placed_at))
    return latest if _naive(latest.placed_at) > _naive(short.placed_at) else short


def _naive(moment: datetime) -> datetime:
    """UTC without a zone, so times read from SQLite (which drops it) compare with the rest."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
