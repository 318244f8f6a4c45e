"""A mode's run replayed against the warehouse: what each order found on the shelf, and when.

The accounting and the report both need it: which accepted orders went short, which refused
ones could have been filled, and each listing's physical available over time. The replay takes
the run's own records (the checkouts it answered, the cancels and returns that took effect) in
time order, returns before cancels before checkouts at equal t, against a fresh
:class:`PhysicalStock`, so a mode cannot mark its own homework.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from stocksync.simulate.physical import PhysicalStock
from stocksync.simulate.records import Answered, Cancel, ModeRun, Return
from stocksync.simulate.stream import event_key

__all__ = ["Filled", "Replay", "replay"]


@dataclass(frozen=True, slots=True)
class Filled:
    """One answered checkout and what the shelf held for it at that moment."""

    answer: Answered
    short: tuple[int, ...]
    """Units short per line (accepted orders; all 0 for a refused one)."""
    could_fill: bool
    """Whether the shelf held every line's units (for a refused one: a sale lost in stock)."""


@dataclass
class Replay:
    checkouts: list[Filled] = field(default_factory=list)
    available: dict[str, list[tuple[float, int]]] = field(default_factory=dict)
    """Listing → (t, physical available from t on), starting at t = 0."""


def replay(
    run: ModeRun, *, stock: Mapping[str, int], bundles: Mapping[str, Mapping[str, int]]
) -> Replay:
    """Replay ``run`` against ``stock``; each listing's available is recorded at every change."""
    shelf = PhysicalStock(stock, bundles)
    listings = list(stock) + [b for b in bundles if b not in stock]
    out = Replay(available={sku: [(0.0, shelf.available(sku))] for sku in listings})
    holding = _holders(bundles)
    lines_of: dict[str, tuple[tuple[str, int], ...]] = {}
    events: list[Answered | Cancel | Return] = [*run.answered, *run.cancelled, *run.returned]
    for event in sorted(events, key=event_key):
        touched: tuple[tuple[str, int], ...] = ()
        if isinstance(event, Answered):
            could = shelf.can_fill(event.lines)
            short = (0,) * len(event.lines)
            if event.accepted:
                short = tuple(shelf.fill(event.ref, event.lines))
                touched = lines_of[event.ref] = event.lines
            out.checkouts.append(Filled(event, short, could))
        elif isinstance(event, Cancel):
            touched = lines_of.pop(event.ref, ())
            shelf.cancel(event.ref)
        else:
            touched = shelf.returned(event.ref, event.lines)
            shelf.restock(touched)
        _record(out, shelf, event.t, touched, holding)
    return out


def _holders(bundles: Mapping[str, Mapping[str, int]]) -> dict[str, tuple[str, ...]]:
    """Component → the bundles that hold it."""
    found: dict[str, list[str]] = {}
    for bundle, parts in bundles.items():
        for part in parts:
            found.setdefault(part, []).append(bundle)
    return {part: tuple(names) for part, names in found.items()}


def _record(
    out: Replay,
    shelf: PhysicalStock,
    t: float,
    lines: Iterable[tuple[str, int]],
    holding: Mapping[str, tuple[str, ...]],
) -> None:
    """Append the new available of every listing ``lines`` moved (bundles through components)."""
    moved: set[str] = set()
    for sku, _ in lines:
        for part in shelf.components(sku):
            moved.add(part)
            moved.update(holding.get(part, ()))
    for sku in moved:
        steps = out.available.setdefault(sku, [(0.0, 0)])
        qty = shelf.available(sku)
        if steps[-1][1] != qty:
            steps.append((t, qty))
