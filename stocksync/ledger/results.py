"""What ledger operations return: plain, frozen values that the CLI prints and flows log."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from stocksync.domain.model import LineStatus, OrderStatus

__all__ = ["LineIn", "LineResult", "OrderResult", "StockResult"]


@dataclass(frozen=True, slots=True)
class LineIn:
    """One order line as a channel reports it.

    ``sku`` may be empty or unknown; the line then maps through ``listing_id``, the channel's own
    id for the listing (variant, ASIN/SKU, product id).
    """

    sku: str | None
    quantity: int
    external_line_id: str | None = None
    listing_id: str | None = None


@dataclass(frozen=True, slots=True)
class StockResult:
    """The outcome of a stock operation at one SKU x location."""

    key: str
    duplicate: bool
    sku: str
    location: str
    on_hand: int
    committed: int

    @property
    def available(self) -> int:
        return self.on_hand - self.committed

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "available": self.available}


@dataclass(frozen=True, slots=True)
class LineResult:
    line_no: int
    sku: str
    quantity: int
    committed: int
    short: int
    cancelled: int
    shipped: int
    returned: int
    status: LineStatus
    external_line_id: str | None = None


@dataclass(frozen=True, slots=True)
class OrderResult:
    """An order as the ledger holds it after an operation; ``duplicate`` if nothing was done."""

    channel: str
    external_id: str
    status: OrderStatus
    duplicate: bool = False
    lines: tuple[LineResult, ...] = field(default_factory=tuple)

    @property
    def reported_status(self) -> str:
        """What ``order record`` prints: ``duplicate`` for a replay, else the order's status."""
        return OrderStatus.DUPLICATE.value if self.duplicate else self.status.value

    def to_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "order_id": self.external_id,
            "status": self.reported_status,
            "order_status": self.status.value,
            "duplicate": self.duplicate,
            "lines": [{**asdict(line), "status": line.status.value} for line in self.lines],
        }
