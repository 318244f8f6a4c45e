"""Whether a listing may be pushed: the channel holds the ledger's SKU under its id, and has not
refused its pushes for good.

A listing's ``state`` (``ListingRow.state``) moves ``unverified`` → ``active`` once the channel
is found to hold the ledger's SKU under its id, → ``mismatched`` when it holds another SKU or
nothing, and from either pushable state → ``refused`` after :data:`MAX_REFUSALS` pushes in a
row that the channel refused. Only the pushable states are ever pushed: a wrong id in a catalog
must not move another product's stock, and a push the channel will never take must not be sent
again without end. A person clears the other two (a new id, or a retry), which makes the
listing ``unverified`` again.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["MAX_REFUSALS", "PUSHABLE", "ListingState", "identity_problem", "refused_for_good"]

MAX_REFUSALS = 5
"""Pushes in a row a channel may refuse (unknown id, invalid value) before the listing is held
back for a person: with the rejected backoff (60 s doubling) that is about a quarter of an hour
of refusals."""


class ListingState(StrEnum):
    UNVERIFIED = "unverified"
    ACTIVE = "active"
    MISMATCHED = "mismatched"
    REFUSED = "refused"

    @property
    def pushable(self) -> bool:
        return self in (ListingState.UNVERIFIED, ListingState.ACTIVE)


PUSHABLE = tuple(s.value for s in ListingState if s.pushable)


def identity_problem(
    ledger_sku: str, *, found: bool, channel_sku: str | None, problem: str = ""
) -> str | None:
    """Why a listing must not be pushed, given what the channel holds under its id; None when
    it may. A channel that shows no SKU of its own for the id (Amazon, whose listing id is the
    seller SKU; a product without one) cannot contradict the ledger, so being found is enough;
    SKUs compare as the channels do, ignoring case and surrounding blanks."""
    if not found:
        return problem or "the channel has no listing under this id"
    if channel_sku is None or _norm(channel_sku) == _norm(ledger_sku):
        return None
    return f"the channel holds SKU {channel_sku!r} under this id, not {ledger_sku!r}"


def refused_for_good(refusals: int, limit: int = MAX_REFUSALS) -> bool:
    """Whether ``refusals`` pushes refused in a row mean the channel will not take this one."""
    return refusals >= limit


def _norm(sku: str) -> str:
    return sku.strip().casefold()
