"""Which listing id each ledger SKU should have on a channel, taken from the SKUs the channel shows.

For every ledger SKU the channel shows under exactly one listing id the proposal is ``new`` (the
ledger has no listing of it there), ``change`` (the ledger's listing has another id) or ``ok``.
A SKU shown under two or more ids is ``ambiguous``, and a ledger listing whose SKU the channel
does not show at all is ``not on channel``; neither is ever applied. SKUs compare as the identity
check compares them (``stocksync.domain.listing_identity``): ignoring case and surrounding blanks.

An id the ledger holds for another SKU's listing is a ``conflict``, unless that listing moves to
another id in the same mapping (ids swapped between two SKUs are both changed): two listings of a
channel never share an id, and a mapping never takes one from a listing that keeps it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum

__all__ = ["MapStatus", "Proposal", "propose_mapping"]


class MapStatus(StrEnum):
    OK = "ok"
    NEW = "new"
    CHANGE = "change"
    CONFLICT = "conflict"
    AMBIGUOUS = "ambiguous"
    NOT_ON_CHANNEL = "not on channel"


APPLIED = (MapStatus.NEW, MapStatus.CHANGE)


@dataclass(frozen=True, slots=True)
class Proposal:
    """What the mapping proposes for one ledger SKU on the channel."""

    sku: str
    status: MapStatus
    ledger_id: str | None
    """The id of the ledger's listing of the SKU on this channel; None when it has none."""
    channel_ids: tuple[str, ...] = ()
    """The ids the channel shows the SKU under (one, unless ambiguous; none when not on it)."""
    note: str = ""

    @property
    def applies(self) -> bool:
        """Whether applying the mapping writes this proposal."""
        return self.status in APPLIED

    @property
    def channel_id(self) -> str | None:
        return self.channel_ids[0] if len(self.channel_ids) == 1 else None


def propose_mapping(
    shown: Iterable[tuple[str, str | None]], skus: Iterable[str], listings: Mapping[str, str]
) -> list[Proposal]:
    """A proposal per ledger SKU that the channel shows or that has a listing there, by SKU.

    ``shown``: (listing id, the channel's SKU for it) for every listing the channel shows;
    ``skus``: every SKU of the ledger; ``listings``: ledger SKU → its listing's id on the channel.
    """
    channel_sku: dict[str, str | None] = {}
    for listing_id, sku in shown:
        channel_sku.setdefault(listing_id, sku)
    ledger = sorted(set(skus) | set(listings))
    by_key = _ids_by_sku(channel_sku, ledger)
    proposals = []
    for sku in ledger:
        ids, held = by_key.get(sku, ()), listings.get(sku)
        if not ids:
            if held is not None:
                proposals.append(_not_on_channel(sku, held, channel_sku))
        elif len(ids) > 1:
            note = f"the channel shows it under {len(ids)} ids"
            proposals.append(Proposal(sku, MapStatus.AMBIGUOUS, held, ids, note))
        elif held is None:
            proposals.append(Proposal(sku, MapStatus.NEW, None, ids))
        else:
            status = MapStatus.OK if held == ids[0] else MapStatus.CHANGE
            proposals.append(Proposal(sku, status, held, ids))
    return _with_conflicts(proposals, listings)


def same_sku(sku: str) -> str:
    """The form in which two SKUs compare equal."""
    return sku.strip().casefold()


def _ids_by_sku(
    channel_sku: Mapping[str, str | None], ledger: list[str]
) -> dict[str, tuple[str, ...]]:
    """Ledger SKU → the ids the channel shows it under. Where two ledger SKUs differ only in case
    or blanks, each takes only the ids shown under exactly its own spelling."""
    spellings: dict[str, list[str]] = defaultdict(list)
    for sku in ledger:
        spellings[same_sku(sku)].append(sku)
    found: dict[str, list[str]] = defaultdict(list)
    for listing_id, shown in channel_sku.items():
        if shown is None:
            continue
        candidates = spellings.get(same_sku(shown), [])
        if len(candidates) > 1:
            candidates = [s for s in candidates if s == shown]
        for sku in candidates:
            found[sku].append(listing_id)
    return {sku: tuple(sorted(ids)) for sku, ids in found.items()}


def _not_on_channel(sku: str, held: str, channel_sku: Mapping[str, str | None]) -> Proposal:
    if held not in channel_sku:
        note = f"the channel has no listing {held}"
    elif channel_sku[held] is None:
        note = f"the channel shows {held} with no SKU"
    else:
        note = f"the channel shows {channel_sku[held]!r} under {held}"
    return Proposal(sku, MapStatus.NOT_ON_CHANNEL, held, (), note)


def _with_conflicts(proposals: list[Proposal], listings: Mapping[str, str]) -> list[Proposal]:
    """Turn into conflicts the proposals whose id another SKU's listing keeps, until none is left:
    a conflict keeps its own listing's id, which may make another proposal a conflict."""
    holder = {listing_id: sku for sku, listing_id in listings.items()}
    result = {p.sku: p for p in proposals}
    changed = True
    while changed:
        changed = False
        moving = {p.sku for p in result.values() if p.applies}
        for p in list(result.values()):
            owner = holder.get(p.channel_id or "") if p.applies else None
            if owner is not None and owner != p.sku and owner not in moving:
                note = f"{p.channel_id} is {owner}'s listing in the ledger"
                result[p.sku] = replace(p, status=MapStatus.CONFLICT, note=note)
                changed = True
    return [result[p.sku] for p in proposals]
