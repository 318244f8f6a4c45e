"""An order line's lifecycle as rules over plain values: commit, cancel, ship, restock.

A line's ``quantity`` is always ``committed + short + cancelled + shipped``: each unit is held in
stock (committed), owed without stock (short), dropped (cancelled) or gone to the customer
(shipped); ``returned`` counts the shipped units that came back. A transition gives the new line,
or raises an :class:`~stocksync.domain.errors.OrderUnitsError` carrying the numbers that refused
it.

An :class:`Allocation` says where a line's units of one stocked SKU came from: how many are
committed at one location now, how many shipped from it and how many of those came back. A
returned unit counts against the allocation it shipped from even when it is put on hand at
another location (the stock movement records where it went), so an allocation never has more
returned than shipped and a later return knows which shipped units are still out.

The order-level functions decide what an action takes (how many units of which lines, from which
allocations) and return a :class:`Change`; the ledger loads the order, asks, and writes the
change. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from stocksync.domain.errors import (
    LineUnitsError,
    MissingUnitsError,
    ShippedFromError,
    UnreturnedUnitsError,
)
from stocksync.domain.model import LineStatus, OrderStatus, check_quantity

__all__ = [
    "Allocation",
    "Change",
    "Line",
    "Order",
    "StockTake",
    "cancel",
    "cancel_lines",
    "commit",
    "fall_short",
    "line_status",
    "order_status",
    "placed",
    "put_back_units",
    "releasable",
    "release_shortfall",
    "restock",
    "restock_lines",
    "returnable_units",
    "returned_from",
    "ship",
    "ship_lines",
    "shippable",
    "short_lines",
    "units_by_sku",
    "units_of_lines",
    "unreturned",
]


@dataclass(frozen=True, slots=True)
class Line:
    """One order line and where its units stand. Build it by keyword (see :func:`placed`)."""

    order_id: int
    line_no: int
    sku_id: int
    sku: str
    quantity: int
    committed: int
    short: int
    cancelled: int
    shipped: int
    returned: int
    external_line_id: str | None
    recipe: Mapping[int, int]
    """Stocked SKU → units one unit of the line takes (``{sku_id: 1}`` unless a bundle)."""

    @property
    def status(self) -> LineStatus:
        return line_status(self)


def placed(
    *,
    line_no: int,
    sku_id: int,
    sku: str,
    quantity: int,
    recipe: Mapping[int, int],
    external_line_id: str | None = None,
    order_id: int = 0,
) -> Line:
    """A line as the channel placed it: every unit short until :func:`commit` finds it stock."""
    return Line(
        order_id=order_id,
        line_no=line_no,
        sku_id=sku_id,
        sku=sku,
        quantity=quantity,
        committed=0,
        short=quantity,
        cancelled=0,
        shipped=0,
        returned=0,
        external_line_id=external_line_id,
        recipe=recipe,
    )


def line_status(line: Line) -> LineStatus:
    # a line of no units (the ledger no longer records one) holds nothing: cancelled, like its order
    if line.cancelled == line.quantity:
        return LineStatus.CANCELLED
    if line.short:
        return LineStatus.OVERSOLD
    if line.shipped and line.committed == 0:
        return LineStatus.SHIPPED
    return LineStatus.COMMITTED


def order_status(lines: Iterable[Line]) -> OrderStatus:
    active = [ln for ln in lines if ln.quantity > ln.cancelled]
    if not active:
        return OrderStatus.CANCELLED
    if any(ln.short for ln in active):
        filled = sum(ln.committed + ln.shipped for ln in active)
        return OrderStatus.OVERSOLD if filled == 0 else OrderStatus.PARTIALLY_OVERSOLD
    if all(ln.committed == 0 for ln in active):
        return OrderStatus.SHIPPED
    return OrderStatus.COMMITTED


# --- one line's transitions ---------------------------------------------------------------------


def releasable(line: Line) -> int:
    """Units a cancel can take: the short ones and the committed ones."""
    return line.committed + line.short


def shippable(line: Line) -> int:
    return line.committed


def unreturned(line: Line) -> int:
    return line.shipped - line.returned


def commit(line: Line, units: int) -> Line:
    """``units`` of the short units found stock; the rest stay short."""
    _has(line, units, line.short)
    return replace(line, committed=line.committed + units, short=line.short - units)


def cancel(line: Line, units: int) -> Line:
    """``units`` dropped from the order: short units first, then committed ones."""
    _has(line, units, releasable(line))
    from_short = min(units, line.short)
    return replace(
        line,
        short=line.short - from_short,
        committed=line.committed - (units - from_short),
        cancelled=line.cancelled + units,
    )


def ship(line: Line, units: int) -> Line:
    """``units`` of the committed units left the warehouse."""
    _has(line, units, shippable(line))
    return replace(line, committed=line.committed - units, shipped=line.shipped + units)


def restock(line: Line, units: int) -> Line:
    """``units`` of the shipped units came back and went on hand again."""
    _has(line, units, unreturned(line))
    return replace(line, returned=line.returned + units)


def fall_short(line: Line, units: int) -> Line:
    """``units`` of the committed units lost their stock (a count found less): short again."""
    _has(line, units, line.committed)
    return replace(line, committed=line.committed - units, short=line.short + units)


def _has(line: Line, units: int, held: int) -> None:
    if not 0 <= units <= held:
        raise LineUnitsError(line.line_no, units, held)


# --- where a line's units are -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Allocation:
    """One line's units of one stocked SKU at one location."""

    line_no: int
    sku_id: int
    location_id: int
    committed: int = 0
    shipped: int = 0
    returned: int = 0
    """Units shipped from here that came back, wherever they were put on hand."""


@dataclass(frozen=True, slots=True)
class Order:
    """An order as the rules need it: its lines and where their units are."""

    external_id: str
    lines: tuple[Line, ...]
    allocations: tuple[Allocation, ...] = ()


@dataclass(frozen=True, slots=True)
class StockTake:
    """Units of one SKU at one location that an action moves for one line; the action says how
    (a cancel releases committed units, a shipment takes them off hand, a restock puts units on)."""

    line_no: int
    sku_id: int
    location_id: int
    qty: int


@dataclass(frozen=True, slots=True)
class Change:
    """What an action does to an order: the lines and allocations it changes (as they are after
    it), the stock it moves, and every line after it (for the order's status)."""

    lines: tuple[Line, ...]
    allocations: tuple[Allocation, ...]
    takes: tuple[StockTake, ...]
    after: tuple[Line, ...]

    @property
    def status(self) -> OrderStatus:
        return order_status(self.after)


def put_back_units(before: Sequence[Line], change: Change) -> dict[int, int]:
    """Listed SKU id → units ``change`` cancelled or returned, over the order's lines.

    When the change is the selling channel's own report (its customer cancelled, it restocked a
    refund), the channel has put these units back on its own count already, as the ledger took
    its sale off that count when the order arrived.
    """
    was = {ln.line_no: ln for ln in before}
    units: dict[int, int] = {}
    for ln in change.lines:
        old = was[ln.line_no]
        back = (ln.cancelled - old.cancelled) + (ln.returned - old.returned)
        if back:
            units[ln.sku_id] = units.get(ln.sku_id, 0) + back
    return units


# --- choosing what an action takes ---------------------------------------------------------------


def units_by_sku(
    lines: Sequence[Line], quantities: Mapping[str, int] | None, room: Callable[[Line], int]
) -> dict[int, int]:
    """line_no → units to act on: everything there is ``room`` for, or ``quantities`` by SKU,
    taken from the SKU's lines in line order."""
    if quantities is None:
        return {ln.line_no: room(ln) for ln in lines if room(ln) > 0}
    todo: dict[int, int] = {}
    for sku, qty in quantities.items():
        check_quantity(f"the units of {sku!r}", qty)
        for line in (ln for ln in lines if ln.sku == sku):
            units = min(qty, room(line))
            if units:
                todo[line.line_no] = units
                qty -= units
        if qty:
            raise MissingUnitsError(sku, qty)
    return todo


def units_of_lines(
    lines: Sequence[Line], line_units: Mapping[int, int], room: Callable[[Line], int]
) -> dict[int, int]:
    """``line_units`` checked against the order: each named line exists and has that many units."""
    by_no = {ln.line_no: ln for ln in lines}
    for line_no, units in line_units.items():
        check_quantity(f"the units of line {line_no}", units)
        held = room(by_no[line_no]) if line_no in by_no else 0
        if held < units:
            raise LineUnitsError(line_no, units, held)
    return dict(line_units)


def returnable_units(
    order: Order, *, sku: str, qty: int, line_no: int | None = None
) -> dict[int, int]:
    """line_no → units of ``qty`` returned units of ``sku``: from its shipped, unreturned units in
    line order (only line ``line_no``'s when given)."""
    candidates = [
        ln
        for ln in order.lines
        if ln.sku == sku and unreturned(ln) > 0 and line_no in (None, ln.line_no)
    ]
    if sum(unreturned(ln) for ln in candidates) < qty:
        raise UnreturnedUnitsError(order.external_id, sku, qty)
    todo: dict[int, int] = {}
    for line in candidates:
        units = min(qty, unreturned(line))
        todo[line.line_no] = units
        qty -= units
        if qty == 0:
            break
    return todo


# --- the actions ----------------------------------------------------------------------------------


def cancel_lines(order: Order, units: Mapping[int, int]) -> Change:
    """Cancel ``units`` (line_no → units) of the order. Short units go first and hold no stock;
    the committed ones are released from their allocations in location order."""
    return _take_committed(order, units, cancel, lambda ln, u: u - min(u, ln.short))


def ship_lines(order: Order, units: Mapping[int, int]) -> Change:
    """Ship ``units`` (line_no → units) of the order's committed units, in location order."""
    return _take_committed(order, units, ship, lambda _, u: u, shipping=True)


def short_lines(order: Order, units: Mapping[int, int], *, location: int) -> Change:
    """Record ``units`` (line_no → units) of committed units short again, released from
    ``location`` first (the location a count found short of its commitments)."""
    return _take_committed(order, units, fall_short, lambda _, u: u, prefer=location)


def release_shortfall(
    order: Order, line_nos: Sequence[int], *, sku_id: int, location: int, deficit: int
) -> tuple[Change, int]:
    """Record short again enough committed units of ``line_nos`` (taken in that order) to free
    ``deficit`` units of ``sku_id`` at ``location``, where a count found less stock than is
    committed; return the change and the deficit still left for other orders.

    Each line gives whole units, rounded up, released from ``location`` first; only what comes
    off ``location`` counts against the deficit (a split line gives some back elsewhere too)."""
    by_no = {ln.line_no: ln for ln in order.lines}
    at = {a.line_no: a.committed for a in order.allocations
          if (a.sku_id, a.location_id) == (sku_id, location)}  # fmt: skip
    units: dict[int, int] = {}
    for line_no in line_nos:
        if deficit <= 0:
            break
        line, held = by_no[line_no], at.get(line_no, 0)
        per_unit = line.recipe[sku_id]
        units[line_no] = min(line.committed, -(-min(deficit, held) // per_unit))
        deficit -= min(units[line_no] * per_unit, held)
    return short_lines(order, units, location=location), deficit


def restock_lines(order: Order, units: Mapping[int, int], *, location: int | None = None) -> Change:
    """Put ``units`` (line_no → units) of shipped units back on hand: at ``location``, or by
    default where each unit shipped from.

    Each component's units count against the allocations they shipped from, in location order,
    after those returned earlier. Without ``location`` a component that shipped too few units
    (its bundle's recipe changed since) is refused: nothing says where to put it. With one, what
    no allocation shipped still goes on hand there, and no allocation counts it."""
    allocations = _by_key(order)
    lines, takes = [], []
    changed: dict[tuple[int, int, int], Allocation] = {}
    by_no = {ln.line_no: ln for ln in order.lines}
    for line_no, count in units.items():
        line = by_no[line_no]
        lines.append(restock(line, count))
        for sku, per_unit in sorted(line.recipe.items()):
            need = count * per_unit
            for alloc in _of(allocations, line_no, sku, key=lambda a: a.location_id):
                qty = min(need, alloc.shipped - alloc.returned)
                if qty <= 0:
                    continue
                need -= qty
                allocations[_key(alloc)] = changed[_key(alloc)] = replace(
                    alloc, returned=alloc.returned + qty
                )
                if location is None:
                    takes.append(StockTake(line_no, sku, alloc.location_id, qty))
                if need == 0:
                    break
            if location is not None:
                takes.append(StockTake(line_no, sku, location, count * per_unit))
            elif need:
                raise ShippedFromError(line_no, count, sku)
    return _change(order, lines, changed, takes)


def returned_from(shipped: Mapping[int, int], returned: int) -> dict[int, int]:
    """location → returned units, when ``returned`` units of a line's SKU came back of those that
    shipped from each location (``shipped``): the count :func:`restock_lines` keeps, location by
    location in id order, no location more than it shipped."""
    out = {}
    for location in sorted(shipped):
        out[location] = max(0, min(shipped[location], returned))
        returned -= out[location]
    return out


def _take_committed(
    order: Order,
    units: Mapping[int, int],
    transition: Callable[[Line, int], Line],
    committed_units: Callable[[Line, int], int],
    *,
    shipping: bool = False,
    prefer: int | None = None,
) -> Change:
    """Apply ``transition`` to each line, taking ``committed_units(line, units)`` committed units
    from its allocations: the ``prefer`` location first, then by location id."""
    allocations = _by_key(order)
    lines, takes = [], []
    changed: dict[tuple[int, int, int], Allocation] = {}
    for line in order.lines:
        count = units.get(line.line_no, 0)
        if not count:
            continue
        lines.append(transition(line, count))
        from_committed = committed_units(line, count)
        for sku, per_unit in sorted(line.recipe.items()):
            need = from_committed * per_unit
            places = _of(
                allocations,
                line.line_no,
                sku,
                key=lambda a: (a.location_id != prefer, a.location_id),
            )
            for alloc in places:
                qty = min(need, alloc.committed)
                if qty <= 0:
                    continue
                need -= qty
                allocations[_key(alloc)] = changed[_key(alloc)] = replace(
                    alloc,
                    committed=alloc.committed - qty,
                    shipped=alloc.shipped + qty if shipping else alloc.shipped,
                )
                takes.append(StockTake(line.line_no, sku, alloc.location_id, qty))
                if need == 0:
                    break
            if need:
                raise AssertionError(
                    f"the allocations hold too little for line {line.line_no} of order "
                    f"{order.external_id!r}"
                )
    return _change(order, lines, changed, takes)


def _change(
    order: Order,
    lines: list[Line],
    allocations: Mapping[tuple[int, int, int], Allocation],
    takes: list[StockTake],
) -> Change:
    by_no = {ln.line_no: ln for ln in lines}
    return Change(
        lines=tuple(lines),
        allocations=tuple(allocations.values()),
        takes=tuple(takes),
        after=tuple(by_no.get(ln.line_no, ln) for ln in order.lines),
    )


def _key(alloc: Allocation) -> tuple[int, int, int]:
    return (alloc.line_no, alloc.sku_id, alloc.location_id)


def _by_key(order: Order) -> dict[tuple[int, int, int], Allocation]:
    return {_key(a): a for a in order.allocations}


def _of(
    allocations: Mapping[tuple[int, int, int], Allocation],
    line_no: int,
    sku_id: int,
    *,
    key: Callable[[Allocation], Any],
) -> list[Allocation]:
    found = [a for (n, s, _), a in allocations.items() if (n, s) == (line_no, sku_id)]
    return sorted(found, key=key)
