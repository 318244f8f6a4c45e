"""The error tree. Expected outcomes (a line recorded short) are results, not errors.

StockSyncError
├── LedgerError                 a ledger operation was refused; nothing was written
│   ├── NotFoundError           an unknown SKU, location, channel or order
│   ├── InvalidRequestError     a quantity or argument that cannot be applied
│   └── UnmappableLineError     an order line names neither a known SKU nor a known listing
└── CatalogError                a catalog file row is wrong (names row and column)
"""

from __future__ import annotations

__all__ = [
    "CatalogError",
    "InvalidRequestError",
    "LedgerError",
    "NotFoundError",
    "StockSyncError",
    "UnmappableLineError",
]


class StockSyncError(Exception):
    """Root of every error stocksync raises on purpose."""


class LedgerError(StockSyncError):
    """A ledger operation was refused and rolled back."""


class NotFoundError(LedgerError, LookupError):
    """A SKU, location, channel or order that the ledger does not know."""

    def __init__(self, kind: str, name: str) -> None:
        super().__init__(f"unknown {kind}: {name!r}")
        self.kind = kind
        self.name = name


class InvalidRequestError(LedgerError, ValueError):
    """A request the ledger cannot apply as asked (negative quantity, stock on a bundle, …)."""


class UnmappableLineError(LedgerError):
    """An order line whose SKU and external listing id are both unknown or empty."""

    def __init__(self, channel: str, order_id: str, line: str) -> None:
        super().__init__(f"order {order_id!r} on {channel!r}: line {line} maps to no SKU")
        self.channel = channel
        self.order_id = order_id
        self.line = line


class CatalogError(StockSyncError, ValueError):
    """A catalog file that cannot be imported; names the row and column at fault."""

    def __init__(self, row: int, column: str, message: str) -> None:
        super().__init__(f"row {row}, column {column!r}: {message}")
        self.row = row
        self.column = column
