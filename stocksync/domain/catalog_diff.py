"""What a catalog file changes in a ledger that already holds some of it.

A stock row (SKU x location) the ledger does not have yet is new and takes the file's count. One
whose count the file repeats is the same. One whose count differs is reported and keeps the
ledger's count unless the import is asked to set it: the file may be older than the receipts and
counts recorded since, and importing it again (to add a listing column, say) must not undo them.

A listing the ledger does not have yet is new; one the file gives another external id is changed,
and the channel's identity of the new id has to be checked again before anything is pushed to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

__all__ = [
    "CountDifference",
    "ListingIdChange",
    "ListingPlan",
    "StockPlan",
    "plan_listings",
    "plan_stock",
]

Pair = tuple[str, str]
_V = TypeVar("_V")
"""(SKU, location) for a stock row; (channel, SKU) for a listing."""


@dataclass(frozen=True, slots=True)
class CountDifference:
    """A stock row whose on hand the file and the ledger disagree on."""

    sku: str
    location: str
    ledger_on_hand: int
    file_on_hand: int


@dataclass(frozen=True, slots=True)
class StockPlan:
    new: dict[Pair, int]
    """(SKU, location) → the file's count, for the rows the ledger does not have yet."""
    differ: list[CountDifference]
    same: list[Pair]

    def to_set(self, *, set_stock: bool) -> dict[Pair, int]:
        """(SKU, location) → the count to set: every new row, and with ``set_stock`` every row
        whose count differs."""
        counts = dict(self.new)
        if set_stock:
            counts.update(((d.sku, d.location), d.file_on_hand) for d in self.differ)
        return counts


def plan_stock(file_counts: Mapping[Pair, int], ledger_counts: Mapping[Pair, int]) -> StockPlan:
    """Sort the file's stock rows into new, differing and same (each in SKU, location order);
    ledger rows the file does not name are no concern of the import."""
    new, differ, same = _compare(file_counts, ledger_counts)
    return StockPlan(
        new,
        [CountDifference(*pair, ledger_on_hand=held, file_on_hand=wanted)
         for pair, held, wanted in differ],
        same,
    )  # fmt: skip


def _compare(
    file: Mapping[Pair, _V], ledger: Mapping[Pair, _V]
) -> tuple[dict[Pair, _V], list[tuple[Pair, _V, _V]], list[Pair]]:
    """The file's keys in order: (new with the file's value, (key, ledger's, file's) where they
    differ, the same)."""
    new: dict[Pair, _V] = {}
    differ: list[tuple[Pair, _V, _V]] = []
    same: list[Pair] = []
    for pair in sorted(file):
        wanted, held = file[pair], ledger.get(pair)
        if held is None:
            new[pair] = wanted
        elif held != wanted:
            differ.append((pair, held, wanted))
        else:
            same.append(pair)
    return new, differ, same


@dataclass(frozen=True, slots=True)
class ListingIdChange:
    """A listing given another external id than the ledger holds for it."""

    channel: str
    sku: str
    old_id: str
    new_id: str


@dataclass(frozen=True, slots=True)
class ListingPlan:
    new: dict[Pair, str]
    """(channel, SKU) → external id, for the listings the ledger does not have yet."""
    changed: list[ListingIdChange]
    same: list[Pair]


def plan_listings(file_ids: Mapping[Pair, str], ledger_ids: Mapping[Pair, str]) -> ListingPlan:
    """Sort the file's listings into new, changed and same (each in channel, SKU order)."""
    new, differ, same = _compare(file_ids, ledger_ids)
    changed = [ListingIdChange(*pair, old_id=held, new_id=wanted) for pair, held, wanted in differ]
    return ListingPlan(new, changed, same)
