"""How an order line takes stock: whole units only, across the locations that feed the channel.

Pure: the caller passes the available counts it has locked and applies the takes it gets back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Take", "fill_line"]


@dataclass(frozen=True, slots=True)
class Take:
    sku_id: int
    location_id: int
    qty: int


def fill_line(
    quantity: int,
    recipe: Mapping[int, int],
    available: dict[int, dict[int, int]],
) -> tuple[int, list[Take]]:
    """Commit as many of ``quantity`` units as the stock allows; return (units filled, takes).

    ``recipe`` maps each stocked SKU to the units one sold unit consumes (``{sku: 1}`` for a plain
    SKU, the components for a bundle). ``available`` maps SKU → location → available units and is
    decremented in place, so consecutive lines of one order see what earlier lines took. Each
    component is taken from the locations with the most available first, to keep splits few.
    """
    if not recipe or any(per_unit <= 0 for per_unit in recipe.values()):
        raise ValueError("a recipe needs at least one SKU, each with a positive quantity")
    if quantity <= 0:
        return 0, []
    units = min(
        [quantity]
        + [sum(available.get(sku, {}).values()) // per_unit for sku, per_unit in recipe.items()]
    )
    takes: list[Take] = []
    if units <= 0:
        return 0, takes
    for sku, per_unit in sorted(recipe.items()):
        need = units * per_unit
        by_location = available[sku]
        for loc in sorted(by_location, key=lambda loc: (-by_location[loc], loc)):
            take = min(need, by_location[loc])
            if take <= 0:
                break
            by_location[loc] -= take
            takes.append(Take(sku, loc, take))
            need -= take
            if need == 0:
                break
    return units, takes
