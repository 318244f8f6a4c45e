"""Why each listing of a SKU shows what it shows, from the inputs the listing refresh reads.

The inputs come from :mod:`stocksync.ledger.listings` (the listings of the SKU on every channel,
for the last-units guard looks across them, and :func:`~stocksync.ledger.listings.allocation_inputs`);
the steps from :func:`stocksync.domain.explain.explain_sku`. Beside them: what the ledger holds
for each listing. Read only: nothing is locked or written.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select
from sqlmodel import Session

from stocksync.domain.clock import utcnow
from stocksync.domain.errors import InvalidRequestError, NotFoundError
from stocksync.domain.explain import Explanation, Listed, StockAt, explain_sku
from stocksync.domain.listing_state import settled_at_zero
from stocksync.domain.sync_lag import Gap
from stocksync.ledger.listings import ListingWithRules, allocation_inputs, load_listings
from stocksync.ledger.lookups import channel_ref, sku_refs
from stocksync.ledger.sql import conn
from stocksync.ledger.tables import ListingRow, LocationRow, SkuRow

__all__ = ["ListingExplanation", "explain_stock"]


@dataclass(frozen=True, slots=True)
class ListingExplanation:
    """One listing: the rules' steps and result, and what the ledger holds for it."""

    external_id: str
    explanation: Explanation
    desired_qty: int
    pushed_qty: int | None
    expected_qty: int | None
    unheard_qty: int
    state: str
    dirty: bool

    @property
    def sku(self) -> str:
        return self.explanation.sku

    @property
    def channel(self) -> str:
        return self.explanation.channel

    @property
    def qty(self) -> int:
        """What the rules give the listing now."""
        return self.explanation.qty

    @property
    def matches(self) -> bool:
        """Whether the ledger's desired quantity is what the rules give now. It may not be when a
        guard grown by the sales rate hid the listing and the rush is over: the listing is
        recomputed at the SKU's next stock change or ``poll-orders`` run."""
        return self.qty == self.desired_qty

    def to_dict(self) -> dict[str, Any]:
        steps = [
            {"rule": step.rule, **asdict(step), "text": step.describe()}
            for step in self.explanation.steps
        ]
        return {
            "sku": self.sku,
            "channel": self.channel,
            "external_id": self.external_id,
            "steps": steps,
            "qty": self.qty,
            "matches_ledger": self.matches,
            "ledger": {
                "desired_qty": self.desired_qty,
                "pushed_qty": self.pushed_qty,
                "expected_qty": self.expected_qty,
                "unheard_qty": self.unheard_qty,
                "state": self.state,
                "dirty": self.dirty,
            },
        }


def explain_stock(
    session: Session, sku: str, channel: str | None = None, *, now: datetime | None = None
) -> list[ListingExplanation]:
    """Each listing of ``sku`` (only ``channel``'s, if named), by channel name; the sales rates
    are those as of ``now`` (default: now)."""
    ref = sku_refs(session, [sku]).get(sku)
    if ref is None:
        raise NotFoundError("sku", sku)
    only = channel_ref(session, channel).id if channel is not None else None
    listings = load_listings(session, {ref.id}, lock=False)
    if only is not None and all(row.channel_id != only for row in listings):
        raise InvalidRequestError(f"{sku} has no listing on channel {channel!r}")
    explained = _explain(session, sku, ref.id, listings, now)
    held = _held(session, [row.id for row in listings])
    return sorted(
        (
            ListingExplanation(
                held[row.id].external_id,
                explained[row.channel],
                row.desired_qty,
                held[row.id].pushed_qty,
                row.expected_qty,
                row.unheard_qty,
                held[row.id].state,
                row.dirty,
            )
            for row in listings
            if only is None or row.channel_id == only
        ),
        key=lambda e: e.channel,
    )


def _explain(
    session: Session, sku: str, sku_id: int, listings: list[ListingWithRules], now: datetime | None
) -> dict[str, Explanation]:
    """Channel → the domain's explanation, from the inputs the listing refresh reads."""
    now = now or utcnow()
    inputs = allocation_inputs(session, listings, now=now, fresh_lags=True)
    recipe = inputs.recipes.get(sku_id)
    stocked = sorted(recipe or {sku_id: 1})
    db = conn(session)
    skus = dict(db.execute(select(SkuRow.id, SkuRow.sku).where(SkuRow.id.in_(stocked))).all())
    locations = dict(db.execute(select(LocationRow.id, LocationRow.name)).all())
    stock = [
        StockAt(skus[s], loc, locations[loc], on_hand, committed)
        for s in stocked
        for loc, (on_hand, committed) in sorted(inputs.stock.get(s, {}).items())
    ]
    listed = []
    for row in listings:
        gap = inputs.gaps.get(row.channel_id, Gap())
        feeds = inputs.feeds.get(row.channel_id, frozenset())
        settled = settled_at_zero(
            row.expected_qty, row.unheard_qty, row.pushed_at, gap.settle_s, now
        )
        listed.append(
            Listed(row.channel, row.priority, row.policy, feeds, gap.guard_s, gap.own_late_s,
                   settled)
        )  # fmt: skip
    components = {skus[c]: n for c, n in recipe.items()} if recipe else None
    rates = {skus[s]: r for s, r in inputs.rates.by_sku.items()}
    names = {row.channel_id: row.channel for row in listings}
    channel_rates = {
        (skus[s], names[ch]): r
        for (s, ch), r in inputs.rates.by_channel.items()
        if ch in names and s in skus
    }
    return explain_sku(sku, listed, stock, components, rates, channel_rates)


def _held(session: Session, listing_ids: list[int]) -> dict[int, Row[Any]]:
    """Listing id → its external id, pushed quantity and state: what ``load_listings`` leaves out."""
    rows = conn(session).execute(
        select(
            ListingRow.id, ListingRow.external_id, ListingRow.pushed_qty, ListingRow.state
        ).where(ListingRow.id.in_(listing_ids))
    )
    return {row.id: row for row in rows}
