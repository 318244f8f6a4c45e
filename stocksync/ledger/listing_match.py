"""Which SKU a channel's order line or count refers to.

A channel names an item by SKU (often), by its own listing id (always, but each channel its own
kind: Shopify a variant, Amazon the seller SKU, WooCommerce ``product/variation``), or by an id we
keep beside the listing's main one (Shopify's listing is the InventoryItem gid; its variant gid
sits in ``external_refs``). The order is fixed: the SKU first, then the listing's
``external_id``, then any value of its ``external_refs``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select, text
from sqlmodel import Session

from stocksync.domain.listing_state import shown_quantity
from stocksync.domain.messages import ChannelOrderLine
from stocksync.ledger.config_cache import config_cache
from stocksync.ledger.lookups import skus_by_listing
from stocksync.ledger.sql import conn
from stocksync.ledger.tables import ListingRow, SkuRow

__all__ = ["ListedItem", "find_listing", "skus_by_ref", "skus_for_lines"]

# JSON columns hold the refs; each dialect has its own way to look inside one.
_BY_REF = {
    "sqlite": """
        SELECT CAST(r.value AS TEXT), l.id, s.sku FROM listings l
        JOIN skus s ON s.id = l.sku_id, json_each(l.external_refs) r
        WHERE l.channel_id = :channel_id AND CAST(r.value AS TEXT) IN :values
        ORDER BY l.id""",
    "postgresql": """
        SELECT r.value, l.id, s.sku FROM listings l
        JOIN skus s ON s.id = l.sku_id, json_each_text(l.external_refs) r
        WHERE l.channel_id = :channel_id AND r.value IN :values
        ORDER BY l.id""",
}


@dataclass(frozen=True, slots=True)
class ListedItem:
    """A listing found for a channel's id, with the fields an inventory event compares."""

    id: int
    sku: str
    desired_qty: int
    expected_qty: int | None
    pushed_qty: int | None
    dirty: bool
    refs: dict[str, Any]
    unheard_qty: int = 0

    @property
    def shown_qty(self) -> int | None:
        """What the channel should show now (``expected_qty`` less its unheard sales)."""
        return shown_quantity(self.expected_qty, self.unheard_qty)


def skus_for_lines(
    session: Session, channel_id: int, lines: Sequence[ChannelOrderLine]
) -> list[str | None]:
    """Each line's SKU in the ledger, or None where neither its SKU nor its listing id is known."""
    known = config_cache(session).resolve(session, (ln.sku for ln in lines if ln.sku))
    found: list[str | None] = [ln.sku if ln.sku in known else None for ln in lines]
    pending = {
        ln.listing_id for ln, sku in zip(lines, found, strict=True) if sku is None and ln.listing_id
    }
    if pending:
        by_id = skus_by_listing(session, channel_id, pending)
        by_ref = skus_by_ref(session, channel_id, pending - by_id.keys())
        found = [
            sku or by_id.get(ln.listing_id or "") or by_ref.get(ln.listing_id or "")
            for ln, sku in zip(lines, found, strict=True)
        ]
    return found


def skus_by_ref(session: Session, channel_id: int, values: Iterable[str]) -> dict[str, str]:
    """Value of some listing's ``external_refs`` on the channel → that listing's SKU."""
    wanted = sorted(set(values))
    if not wanted:
        return {}
    found: dict[str, str] = {}
    for value, _, sku in _ref_rows(session, channel_id, wanted):
        found.setdefault(value, sku)
    return found


def find_listing(
    session: Session, channel_id: int, listing_id: str, sku: str | None, *, lock: bool = False
) -> ListedItem | None:
    """The channel's listing named by ``listing_id`` (its external id or one of its refs) or by
    ``sku``; with ``lock`` the row is locked for the rest of the transaction."""
    listing_pk = _listing_pk(session, channel_id, listing_id, sku)
    if listing_pk is None:
        return None
    stmt = (
        select(
            ListingRow.id,
            SkuRow.sku,
            ListingRow.desired_qty,
            ListingRow.expected_qty,
            ListingRow.pushed_qty,
            ListingRow.dirty,
            ListingRow.external_refs,
            ListingRow.unheard_qty,
        )
        .join(SkuRow, SkuRow.id == ListingRow.sku_id)
        .where(ListingRow.id == listing_pk)
    )
    if lock:
        stmt = stmt.with_for_update(of=ListingRow)
    row = conn(session).execute(stmt).one()
    return ListedItem(
        row[0], row[1], row[2], row[3], row[4], bool(row[5]), dict(row[6] or {}), row[7]
    )


def _listing_pk(session: Session, channel_id: int, listing_id: str, sku: str | None) -> int | None:
    c = conn(session)
    by_external = c.execute(
        select(ListingRow.id).where(
            ListingRow.channel_id == channel_id, ListingRow.external_id == listing_id
        )
    ).scalar()
    if by_external is not None:
        return int(by_external)
    if sku:
        by_sku = c.execute(
            select(ListingRow.id)
            .join(SkuRow, SkuRow.id == ListingRow.sku_id)
            .where(ListingRow.channel_id == channel_id, SkuRow.sku == sku)
        ).scalar()
        if by_sku is not None:
            return int(by_sku)
    rows = _ref_rows(session, channel_id, [listing_id])
    return int(rows[0][1]) if rows else None


def _ref_rows(session: Session, channel_id: int, values: list[str]) -> list[tuple[str, int, str]]:
    dialect = session.get_bind().dialect.name
    stmt = text(_BY_REF[dialect]).bindparams(bindparam("values", expanding=True))
    rows = conn(session).execute(stmt, {"channel_id": channel_id, "values": values})
    return [(str(v), int(pk), str(sku)) for v, pk, sku in rows]
