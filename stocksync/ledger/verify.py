"""Check the ledger against itself: counters against the journal, listings against the rules."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlmodel import Session

from stocksync.domain.clock import utcnow
from stocksync.domain.listing_state import needs_push
from stocksync.domain.model import MovementReason
from stocksync.domain.orders import returned_from
from stocksync.ledger.held_listings import held_listings
from stocksync.ledger.listings import ListingWithRules, compute_desired, load_listings
from stocksync.ledger.tables import (
    BundleComponentRow,
    ChannelRow,
    LineAllocationRow,
    LocationRow,
    MovementRow,
    OrderLineRow,
    OrderRow,
    SkuRow,
    StockRow,
)
from stocksync.ledger.velocity import GUARD_GRACE_S, last_sold

__all__ = ["Mismatch", "verify_ledger"]


@dataclass(frozen=True, slots=True)
class Mismatch:
    kind: str
    subject: str
    field: str
    expected: Any
    actual: Any

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def verify_ledger(session: Session) -> list[Mismatch]:
    """Every place where a stored value differs from what the journal and the rules give, and
    every listing the push pipeline holds back for a person (its channel shows what it shows
    until one acts)."""
    return (
        _stock(session)
        + _lines(session)
        + _allocations(session)
        + _listings(session)
        + _held(session)
    )


def _held(session: Session) -> list[Mismatch]:
    return [
        Mismatch("listing", f"{h.channel}/{h.sku}", "state", "active", h.describe())
        for h in held_listings(session)
    ]


def _stock(session: Session) -> list[Mismatch]:
    m = MovementRow
    sums = {
        (sku, loc): (int(on_hand), int(committed))
        for sku, loc, on_hand, committed in session.execute(
            select(
                m.sku_id, m.location_id, func.sum(m.delta_on_hand), func.sum(m.delta_committed)
            ).group_by(m.sku_id, m.location_id)
        )
    }
    names = _names(session)
    out = []
    rows = {(r.sku_id, r.location_id): r for r in session.execute(select(StockRow)).scalars()}
    for key in sorted(set(rows) | set(sums)):
        journal = sums.get(key, (0, 0))
        row = rows.get(key)
        stored = (row.on_hand, row.committed) if row else (0, 0)
        subject = f"{names['sku'][key[0]]}@{names['location'][key[1]]}"
        for i, fld in enumerate(("on_hand", "committed")):
            if journal[i] != stored[i]:
                out.append(Mismatch("stock", subject, fld, journal[i], stored[i]))
        if not 0 <= stored[1] <= stored[0]:
            out.append(Mismatch("stock", subject, "committed", f"0..{stored[0]}", stored[1]))
    return out


def _lines(session: Session) -> list[Mismatch]:
    m = MovementRow
    held: dict[tuple[int, int], dict[int, int]] = defaultdict(dict)
    for order, line, sku, total in session.execute(
        select(m.order_id, m.line_no, m.sku_id, func.sum(m.delta_committed))
        .where(m.order_id.is_not(None))
        .group_by(m.order_id, m.line_no, m.sku_id)
    ):
        held[(order, line)][sku] = int(total)
    recipes: dict[int, dict[int, int]] = defaultdict(dict)
    for b, c, q in session.execute(
        select(
            BundleComponentRow.bundle_id, BundleComponentRow.component_id, BundleComponentRow.qty
        )
    ):
        recipes[b][c] = q
    out = []
    rows = session.execute(
        select(OrderLineRow, ChannelRow.name, OrderRow.external_id)
        .join(OrderRow, OrderRow.id == OrderLineRow.order_id)
        .join(ChannelRow, ChannelRow.id == OrderRow.channel_id)
    )
    for line, channel, external_id in rows:
        recipe = recipes.get(line.sku_id) or {line.sku_id: 1}
        journal = held.get((line.order_id, line.line_no), {})
        subject = f"{channel}/{external_id}#{line.line_no}"
        for sku, per_unit in recipe.items():
            if journal.get(sku, 0) != line.committed * per_unit:
                out.append(
                    Mismatch(
                        "order_line",
                        subject,
                        f"committed[{sku}]",
                        journal.get(sku, 0),
                        line.committed * per_unit,
                    )
                )
        total = line.committed + line.short + line.cancelled + line.shipped
        if total != line.quantity:
            out.append(Mismatch("order_line", subject, "quantity", total, line.quantity))
    return out


def _allocations(session: Session) -> list[Mismatch]:
    """Each line allocation against the journal: one for every (order, line, SKU, location) an
    order commit took units from, committed and shipped as its entries sum, returned as the
    line's restocked units of that SKU count against where they shipped from (``returned_from``)."""
    m = MovementRow
    journal: dict[tuple[int, int, int, int], dict[str, int]] = {}
    shipped: dict[tuple[int, int, int], dict[int, int]] = defaultdict(dict)
    back: dict[tuple[int, int, int], int] = defaultdict(int)
    for order, line, sku, loc, committed, ship, restock, commits in session.execute(
        select(
            m.order_id, m.line_no, m.sku_id, m.location_id, func.sum(m.delta_committed),
            -func.sum(_of_reason(MovementReason.SHIPMENT, m.delta_on_hand)),
            func.sum(_of_reason(MovementReason.RETURN_RESTOCK, m.delta_on_hand)),
            func.sum(_of_reason(MovementReason.ORDER_COMMIT, 1)),
        )
        .where(m.order_id.is_not(None))
        .group_by(m.order_id, m.line_no, m.sku_id, m.location_id)
    ):  # fmt: skip
        back[(order, line, sku)] += int(restock)
        if commits:
            journal[(order, line, sku, loc)] = {"committed": int(committed), "shipped": int(ship)}
            shipped[(order, line, sku)][loc] = int(ship)
    for (order, line, sku), by_loc in shipped.items():
        for loc, units in returned_from(by_loc, back[(order, line, sku)]).items():
            journal[(order, line, sku, loc)]["returned"] = units
    a = LineAllocationRow
    stored = {
        (r.order_id, r.line_no, r.sku_id, r.location_id): {
            "committed": r.committed, "shipped": r.shipped, "returned": r.returned
        }
        for r in session.execute(select(a)).scalars()
    }  # fmt: skip
    if not journal and not stored:
        return []
    names = _names(session)
    orders = {
        order_id: f"{channel}/{external_id}"
        for order_id, channel, external_id in session.execute(
            select(OrderRow.id, ChannelRow.name, OrderRow.external_id).join(
                ChannelRow, ChannelRow.id == OrderRow.channel_id
            )
        )
    }
    out = []
    none = {"committed": 0, "shipped": 0, "returned": 0}
    for key in sorted(set(journal) | set(stored)):
        order, line, sku, loc = key
        subject = f"{orders[order]}#{line}/{names['sku'][sku]}@{names['location'][loc]}"
        expected, actual = journal.get(key, none), stored.get(key, none)
        for fld in ("committed", "shipped", "returned"):
            if expected[fld] != actual[fld]:
                out.append(Mismatch("allocation", subject, fld, expected[fld], actual[fld]))
    return out


def _of_reason(reason: MovementReason, value: Any) -> Any:
    return case((MovementRow.reason == reason.value, value), else_=0)


def _listings(session: Session) -> list[Mismatch]:
    listings = load_listings(session, None, lock=False)
    if not listings:
        return []
    desired = compute_desired(session, listings)
    skus = _names(session)["sku"]
    recent = _sold_lately(session, listings)
    out = []
    for row in listings:
        subject = f"{row.channel}/{skus[row.sku_id]}"
        # A guard that grew with the sales rate hid the listing and the rate has fallen since:
        # fine while poll-orders has not had the time to list it again (velocity.GUARD_GRACE_S).
        rate_guarded = row.policy.grows_with_rate and row.desired_qty == 0 and row.sku_id in recent
        if desired[row.id] != row.desired_qty and not rate_guarded:
            out.append(
                Mismatch("listing", subject, "desired_qty", desired[row.id], row.desired_qty)
            )
        if needs_push(row.expected_qty, row.desired_qty, row.unheard_qty) and not row.dirty:
            out.append(Mismatch("listing", subject, "dirty", True, row.dirty))
    return out


def _sold_lately(session: Session, listings: list[ListingWithRules]) -> set[int]:
    """Listed SKU ids (bundles by any component) that an order took units of within the grace."""
    paced = {row.sku_id for row in listings if row.policy.grows_with_rate and row.desired_qty == 0}
    if not paced:
        return set()
    components: dict[int, set[int]] = {sku: {sku} for sku in paced}
    for bundle, component in session.execute(
        select(BundleComponentRow.bundle_id, BundleComponentRow.component_id).where(
            BundleComponentRow.bundle_id.in_(paced)  # type: ignore[attr-defined]
        )
    ):
        components[bundle].add(component)
    since = utcnow() - timedelta(seconds=GUARD_GRACE_S)
    sold = last_sold(session, {c for cs in components.values() for c in cs})
    return {sku for sku, cs in components.items() if any(sold.get(c, since) > since for c in cs)}


def _names(session: Session) -> dict[str, dict[int, str]]:
    return {
        "sku": dict(session.execute(select(SkuRow.id, SkuRow.sku)).all()),
        "location": dict(session.execute(select(LocationRow.id, LocationRow.name)).all()),
    }
