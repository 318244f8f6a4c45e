"""What the simulator passes around: the shopper stream's events and one mode's run.

Times are scenario seconds from the scenario's start. A mode run on a compressed real clock
(``stocksync``) converts its real seconds to scenario seconds (× ``compression``) before it
records them here; its sync gaps are kept in real seconds as well.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Answered", "Cancel", "Checkout", "ModeRun", "Return", "Shown", "StreamEvent"]

Lines = tuple[tuple[str, int], ...]
"""(SKU, units) per order line, SKUs as the catalog names them (a bundle is one line)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Checkout:
    """A shopper tries to buy ``lines`` on ``channel``: accepted only if the channel shows enough."""

    t: float
    ref: str
    """The stream's own id for the order, unique within the stream."""
    channel: str
    lines: Lines


@dataclass(frozen=True, slots=True, kw_only=True)
class Cancel:
    """The customer cancels order ``ref`` before it ships (nothing happens if it was refused)."""

    t: float
    ref: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Return:
    """The customer sends back ``lines`` of order ``ref``; the units are back on hand at ``t``."""

    t: float
    ref: str
    lines: Lines


StreamEvent = Checkout | Cancel | Return


@dataclass(frozen=True, slots=True, kw_only=True)
class Answered:
    """What a channel answered a checkout."""

    t: float
    ref: str
    channel: str
    lines: Lines
    accepted: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Shown:
    """From ``t`` on, ``channel`` shows shoppers ``qty`` of ``sku`` (a step function per pair)."""

    t: float
    channel: str
    sku: str
    qty: int


@dataclass(kw_only=True)
class ModeRun:
    """Everything one mode did with one stream, for the accounting and the report."""

    mode: str
    """``manual``, ``poll`` or ``stocksync``."""
    answered: list[Answered] = field(default_factory=list)
    cancelled: list[Cancel] = field(default_factory=list)
    """Customer cancellations that took effect (of accepted orders, before shipping)."""
    returned: list[Return] = field(default_factory=list)
    """Returns received (units back on hand)."""
    shown: list[Shown] = field(default_factory=list)
    """Every change of what a channel shows, or samples of it (at least at each change)."""
    gaps_s: list[float] = field(default_factory=list)
    """Per accepted order: scenario seconds until every other channel reflected it."""
    gaps_real_s: list[float] = field(default_factory=list)
    """The same in real seconds, for a mode run on a real clock (empty otherwise)."""
    api_calls: dict[str, int] = field(default_factory=dict)
    """Channel → calls made to its API (order reads, quantity writes, read-backs)."""
    compression: float = 1.0
    """Scenario seconds per real second (1 for a simulated clock: no real time passes)."""
    real_seconds: float = 0.0
    ledger_short_lines: int | None = None
    """Order lines the ledger itself recorded short (``stocksync`` mode), a cross-check."""
    notes: list[str] = field(default_factory=list)
