"""The error tree. Expected outcomes (a line recorded short) are results, not errors.

StockSyncError
├── LedgerError                 a ledger operation was refused; nothing was written
│   ├── NotFoundError           an unknown SKU, location, channel or order
│   ├── InvalidRequestError     a quantity or argument that cannot be applied
│   │   └── QuantityError       a quantity outside what the operation takes or the ledger holds
│   └── UnmappableLineError     an order line names neither a known SKU nor a known listing
├── CatalogError                a catalog file row is wrong (names row and column)
└── NotUtf8Error                a file the CLI reads is not UTF-8 (names the byte and where)
"""

from __future__ import annotations

__all__ = [
    "CatalogError",
    "InvalidRequestError",
    "LedgerError",
    "NotFoundError",
    "NotUtf8Error",
    "QuantityError",
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


class QuantityError(InvalidRequestError):
    """A quantity outside ``low`` to ``high``: fewer units than the operation takes, or more than
    the ledger's 32-bit counters hold (``stocksync.domain.model.MAX_QUANTITY``)."""

    def __init__(self, what: str, quantity: int, low: int, high: int) -> None:
        super().__init__(f"{what} must be {low:,} to {high:,}, not {quantity:,}")
        self.what = what
        self.quantity = quantity
        self.low = low
        self.high = high


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


class NotUtf8Error(StockSyncError, ValueError):
    """A file that is not UTF-8; names its first bad byte, the byte's offset and its line."""

    def __init__(self, name: str, data: bytes, offset: int) -> None:
        line = data.count(b"\n", 0, offset) + 1
        super().__init__(
            f"{name} is not UTF-8: byte 0x{data[offset]:02x} at offset {offset} (line {line}); "
            "save it as UTF-8"
        )
        self.name = name
        self.offset = offset
        self.line = line

    @classmethod
    def decode(cls, data: bytes, name: str) -> str:
        """``data`` as text; this error, naming the file ``name``, if it is not UTF-8."""
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise cls(name, data, exc.start) from None
