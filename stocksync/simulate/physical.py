"""The warehouse truth: what is on the shelf, whatever the channels show.

An order takes what is there when it is accepted, line by line, the way stocksync's ledger
commits a line: up to its units of what is available, the rest recorded short (a bundle line
takes the whole bundles its components allow, its components together). Short units stay short:
the seller has to cancel those orders, which is what the simulator counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from stocksync.domain.allocation import bundle_pool
from stocksync.simulate.records import Lines

__all__ = ["PhysicalStock"]


class PhysicalStock:
    """On hand per plain SKU, and what each filled order took of it."""

    def __init__(self, stock: Mapping[str, int], bundles: Mapping[str, Mapping[str, int]]) -> None:
        self._on_hand = dict(stock)
        self._bundles = {sku: dict(parts) for sku, parts in bundles.items()}
        self._taken: dict[str, list[tuple[str, int]]] = {}
        """Order ref → (SKU, units taken) per line."""

    def recipe(self, sku: str) -> Mapping[str, int]:
        """What one unit of ``sku`` takes off the shelf: its components, or itself."""
        return self._bundles.get(sku) or {sku: 1}

    def components(self, sku: str) -> tuple[str, ...]:
        return tuple(self.recipe(sku))

    def available(self, sku: str) -> int:
        """Units of a plain SKU on hand, or whole bundles its components make."""
        parts = self._bundles.get(sku)
        if parts is not None:
            return bundle_pool(self._on_hand, parts)
        return max(0, self._on_hand.get(sku, 0))

    def fill(self, ref: str, lines: Lines) -> list[int]:
        """Take ``lines`` for order ``ref`` in order; the units short per line."""
        if ref in self._taken:
            raise ValueError(f"order {ref!r} was filled already")
        taken: list[tuple[str, int]] = []
        short: list[int] = []
        for sku, units in lines:
            take = min(units, self.available(sku))
            self._move(sku, -take)
            taken.append((sku, take))
            short.append(units - take)
        self._taken[ref] = taken
        return short

    def cancel(self, ref: str) -> None:
        """Give back what order ``ref`` took (once; an order never filled changes nothing)."""
        for sku, units in self._taken.pop(ref, ()):
            self._move(sku, units)

    def returned(self, ref: str, lines: Lines) -> Lines:
        """The part of ``lines`` order ``ref`` really took (a short unit never left the shelf),
        no longer the order's: a later cancel does not give it back twice."""
        taken = self._taken.get(ref, [])
        back: list[tuple[str, int]] = []
        for sku, units in lines:
            if units <= 0:
                continue
            for i, (line_sku, held) in enumerate(taken):
                if line_sku == sku and held > 0:
                    units = min(units, held)
                    taken[i] = (line_sku, held - units)
                    back.append((sku, units))
                    break
        return tuple(back)

    def restock(self, lines: Iterable[tuple[str, int]]) -> None:
        """Put returned units back on hand (a bundle's units go back as its components)."""
        for sku, units in lines:
            self._move(sku, units)

    def can_fill(self, lines: Lines) -> bool:
        """Whether every unit of ``lines`` is on hand now, all lines together."""
        need: dict[str, int] = {}
        for sku, units in lines:
            for part, per_unit in self.recipe(sku).items():
                need[part] = need.get(part, 0) + units * per_unit
        return all(units <= self._on_hand.get(part, 0) for part, units in need.items())

    def _move(self, sku: str, units: int) -> None:
        for part, per_unit in self.recipe(sku).items():
            self._on_hand[part] = self._on_hand.get(part, 0) + units * per_unit
