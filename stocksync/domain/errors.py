"""The error tree. Expected outcomes (a line recorded short) are results, not errors.

StockSyncError
├── LedgerError                 a ledger operation was refused; nothing was written
│   ├── NotFoundError           an unknown SKU, location, channel or order
│   ├── InvalidRequestError     a quantity or argument that cannot be applied
│   │   ├── QuantityError       a quantity outside what the operation takes or the ledger holds
│   │   └── OrderUnitsError     an order action asks for units its lines do not hold (names them)
│   │       ├── MissingUnitsError     too few units of a SKU across the order
│   │       ├── LineUnitsError        too few units on one line
│   │       ├── UnreturnedUnitsError  too few shipped, unreturned units of a SKU to restock
│   │       └── ShippedFromError      a component shipped too few units to say where a return goes
│   └── UnmappableLineError     an order line names neither a known SKU nor a known listing
├── CatalogError                a catalog file row is wrong (names row and column)
└── NotUtf8Error                a file the CLI reads is not UTF-8 (names the byte and where)
"""

from __future__ import annotations

__all__ = [
    "CatalogError",
    "InvalidRequestError",
    "LedgerError",
    "LineUnitsError",
    "MissingUnitsError",
    "NotFoundError",
    "NotUtf8Error",
    "OrderUnitsError",
    "QuantityError",
    "ShippedFromError",
    "StockSyncError",
    "UnmappableLineError",
    "UnreturnedUnitsError",
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


class OrderUnitsError(InvalidRequestError):
    """An action on an order (cancel, ship, restock) asks for more units than its lines hold in
    the state it takes them from; the subclass names the lines or SKU and the numbers."""


class MissingUnitsError(OrderUnitsError):
    """The order's lines of ``sku`` lack ``missing`` of the units asked for."""

    def __init__(self, sku: str, missing: int) -> None:
        super().__init__(f"the order has {missing} fewer units of {sku!r} to act on")
        self.sku = sku
        self.missing = missing


class LineUnitsError(OrderUnitsError):
    """Line ``line_no`` was asked for ``units`` and holds ``held`` in the state they come from
    (releasable for a cancel, committed for a shipment, shipped and unreturned for a restock)."""

    def __init__(self, line_no: int, units: int, held: int) -> None:
        super().__init__(f"line {line_no} of the order has fewer than {units} units")
        self.line_no = line_no
        self.units = units
        self.held = held


class UnreturnedUnitsError(OrderUnitsError):
    """Order ``order`` has fewer than ``units`` shipped, unreturned units of ``sku``."""

    def __init__(self, order: str, sku: str, units: int) -> None:
        super().__init__(
            f"order {order!r} has fewer than {units} shipped, unreturned units of {sku!r}"
        )
        self.order = order
        self.sku = sku
        self.units = units


class ShippedFromError(OrderUnitsError):
    """Returning ``units`` of line ``line_no`` needs more of component ``sku_id`` than the line
    shipped (its bundle's recipe changed since), so nothing says where they go back on hand."""

    def __init__(self, line_no: int, units: int, sku_id: int) -> None:
        super().__init__(f"line {line_no} shipped too few units to return {units}")
        self.line_no = line_no
        self.units = units
        self.sku_id = sku_id


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
