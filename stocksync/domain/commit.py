"""How an order line takes stock: whole units only, across the locations that feed the channel.

Pure: a policy reads the available counts the caller has locked and says which units to take;
:func:`stocksync.domain.allocation.allocate` checks its answer and applies it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

__all__ = ["Policy", "Take", "most_available"]


@dataclass(frozen=True, slots=True)
class Take:
    sku_id: int
    location_id: int
    qty: int


Policy = Callable[[int, Mapping[int, int], Mapping[int, Mapping[int, int]]], Sequence[Take]]
"""Which units a line of ``quantity`` units takes: ``policy(quantity, recipe, available)`` gives
the takes, from ``available`` (SKU → location → available units, only the locations that feed
the channel), whole units of ``recipe`` (stocked SKU → units per sold unit), as many as it
chooses up to ``quantity``. It must not change ``available``. A routing policy (nearest
location, cheapest to ship) replaces :func:`most_available` here."""


def most_available(
    quantity: int, recipe: Mapping[int, int], available: Mapping[int, Mapping[int, int]]
) -> list[Take]:
    """The default policy: as many units as the stock allows, each component taken from the
    locations with the most available first (ties by location id), to keep splits few.

    A location short of its commitments (negative available) counts against the line."""
    units = min(
        [quantity]
        + [sum(available.get(sku, {}).values()) // per_unit for sku, per_unit in recipe.items()]
    )
    takes: list[Take] = []
    if units <= 0:
        return takes
    for sku, per_unit in sorted(recipe.items()):
        need = units * per_unit
        by_location = available[sku]
        for loc in sorted(by_location, key=lambda loc: (-by_location[loc], loc)):
            take = min(need, by_location[loc])
            if take <= 0:
                break
            takes.append(Take(sku, loc, take))
            need -= take
            if need == 0:
                break
    return takes
