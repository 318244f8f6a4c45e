"""Plain value types shared by the ledger, the allocation rules and the channels."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from stocksync.domain.errors import QuantityError

__all__ = [
    "MAX_QUANTITY",
    "ChannelKind",
    "ChannelPolicy",
    "LineStatus",
    "LocationKind",
    "MovementReason",
    "OnHandReason",
    "OrderStatus",
    "check_quantity",
]

MAX_QUANTITY = 2**31 - 1
"""The most units any ledger counter holds: its columns are 32-bit ``INTEGER``."""


class ChannelKind(StrEnum):
    SHOPIFY = "shopify"
    AMAZON = "amazon"
    WOOCOMMERCE = "woocommerce"
    CUSTOM = "custom"


class LocationKind(StrEnum):
    WAREHOUSE = "warehouse"
    THREE_PL = "3pl"
    STORE = "store"


class MovementReason(StrEnum):
    RECEIPT = "receipt"
    CYCLE_COUNT = "cycle_count"
    ADJUSTMENT = "adjustment"
    ORDER_COMMIT = "order_commit"
    CANCEL_RELEASE = "cancel_release"
    SHIPMENT = "shipment"
    RETURN_RESTOCK = "return_restock"
    RECONCILIATION = "reconciliation"


class OnHandReason(StrEnum):
    """The reasons a count or an adjustment of on hand may give: the ones of MovementReason that
    change on hand alone. The ledger accepts exactly these and the CLI offers exactly these."""

    CYCLE_COUNT = MovementReason.CYCLE_COUNT.value
    ADJUSTMENT = MovementReason.ADJUSTMENT.value
    RECONCILIATION = MovementReason.RECONCILIATION.value


class LineStatus(StrEnum):
    COMMITTED = "committed"
    OVERSOLD = "oversold"
    CANCELLED = "cancelled"
    SHIPPED = "shipped"


class OrderStatus(StrEnum):
    COMMITTED = "committed"
    PARTIALLY_OVERSOLD = "partially_oversold"
    OVERSOLD = "oversold"
    CANCELLED = "cancelled"
    SHIPPED = "shipped"
    DUPLICATE = "duplicate"


@dataclass(frozen=True, slots=True)
class ChannelPolicy:
    """How a channel turns the pool of available stock into the quantity it lists.

    Applied in this order: zero-out threshold, safety buffer, percentage share (rounded down),
    maximum listed, then the last-units guard (which needs the other channels, see allocation).
    """

    buffer: int = 0
    """Units held back from this channel."""
    max_listed: int | None = None
    """Never list more than this."""
    share_pct: int = 100
    """Percentage of the pool (after the buffer) this channel may list, rounded down."""
    zero_below: int = 0
    """List 0 when the pool is at or below this."""
    last_units: int = 0
    """When the pool is at or below this, list 0 unless this is the top-ranked channel showing stock."""
    last_seconds: float = 0.0
    """The last-units guard grows to what the SKU sells in at least this many seconds at its
    current rate: a rate-limited channel's sync gap is worth more units during a rush."""
    measured_guard: bool = True
    """A guarded channel's guard covers the sync gap the ledger measures (this channel's pushes
    taking effect, the other channels' orders arriving; ``stocksync.domain.sync_lag``) when that
    is longer than ``last_seconds``."""
    guard_max: int | None = None
    """The guard never grows past this many units (it stays at least ``last_units``)."""

    def __post_init__(self) -> None:
        for name in ("buffer", "zero_below", "last_units", "max_listed", "guard_max"):
            value = getattr(self, name)
            if value is not None:  # the ledger stores each in a 32-bit column
                check_quantity(name, value, low=0)
        if not (math.isfinite(self.last_seconds) and self.last_seconds >= 0):
            raise ValueError("last_seconds must be a finite number >= 0")
        if not 0 <= self.share_pct <= 100:
            raise ValueError("share_pct must be between 0 and 100")

    @property
    def guarded(self) -> bool:
        """Whether the channel has a last-units guard at all (fixed units or seconds of sales)."""
        return self.last_units > 0 or self.last_seconds > 0

    @property
    def grows_with_rate(self) -> bool:
        """Whether the guard grows with the SKU's sales rate: by ``last_seconds`` of sales, or by
        the measured sync gap."""
        return self.guarded and (self.last_seconds > 0 or self.measured_guard)


def check_quantity(what: str, quantity: int, *, low: int = 1, high: int = MAX_QUANTITY) -> int:
    """``quantity`` if it is ``low`` to ``high``; else a QuantityError naming ``what`` it is."""
    if not low <= quantity <= high:
        raise QuantityError(what, quantity, low, high)
    return quantity
