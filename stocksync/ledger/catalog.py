"""Catalog files: SKUs, bundles, stock per location and channel listings in one CSV.

Columns: ``sku,location,on_hand`` (required), ``title``, ``reorder_point``, ``lead_time_days``,
``components`` (``SKU*QTY;SKU*QTY`` for a bundle) and ``listing:CHANNEL`` (that channel's id for
the SKU). One row per SKU x location; a bundle has one row with no location. The whole file is
checked before anything is written, and imported in one transaction.

Importing into a ledger that already holds the catalog adds what is new (SKUs, stock rows,
listings, bundle recipes) and changes no count the ledger holds unless told to (``set_stock``):
the rows whose counts differ are reported instead (:mod:`stocksync.domain.catalog_diff`). A
location the ledger does not know is an error unless the import may create it; a listing given
another id is checked on the channel again before its next push.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import delete, func, select
from sqlmodel import Session

from stocksync.domain.catalog_diff import (
    CountDifference,
    ListingIdChange,
    StockPlan,
    plan_listings,
    plan_stock,
)
from stocksync.domain.errors import CatalogError
from stocksync.domain.model import MAX_QUANTITY
from stocksync.ledger.config_cache import bump_epoch
from stocksync.ledger.listings import listing_scope, refresh_listings
from stocksync.ledger.mapping import change_listing_ids
from stocksync.ledger.sql import lock_stock
from stocksync.ledger.stock import set_stock as set_count
from stocksync.ledger.tables import (
    BundleComponentRow,
    ChannelRow,
    ListingRow,
    LocationRow,
    OrderLineRow,
    SkuRow,
    StockRow,
)

__all__ = ["CatalogSummary", "export_catalog", "import_catalog"]

REQUIRED = ("sku", "location", "on_hand")
OPTIONAL = ("title", "reorder_point", "lead_time_days", "components")
LISTING_PREFIX = "listing:"


@dataclass
class _Sku:
    sku: str
    row: int
    title: str | None = None
    reorder_point: int | None = None
    lead_time_days: int | None = None
    components: dict[str, int] | None = None
    stock: dict[str, int] = field(default_factory=dict)
    stock_rows: dict[str, int] = field(default_factory=dict)
    listings: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CatalogSummary:
    """What an import found in the file and what it changed in the ledger."""

    skus: int
    bundles: int
    locations_created: list[str]
    stock_rows: int
    listings: int
    skus_added: int = 0
    stock_rows_added: int = 0
    """Stock rows the ledger did not have, set to the file's counts."""
    listings_added: int = 0
    counts_kept: list[CountDifference] = field(default_factory=list)
    """Rows whose count differs from the ledger's, left as the ledger has them."""
    counts_set: list[CountDifference] = field(default_factory=list)
    """Rows whose count differed, set to the file's (``set_stock``)."""
    listing_ids_changed: list[ListingIdChange] = field(default_factory=list)
    """Listings given another id: each is checked on its channel before its next push."""


def import_catalog(
    session: Session, text: str, *, set_stock: bool = False, create_locations: bool = True
) -> CatalogSummary:
    """Check and import a catalog file (see the module docstring); raise CatalogError on a bad row.

    ``set_stock``: set the stock rows the ledger already has to the file's counts too (else
    their differences are only reported). ``create_locations``: create the locations the ledger
    does not know as warehouses (else each is an error naming its first row).
    """
    skus, channels = _parse(text)
    _check_references(session, skus, channels)
    _check_listing_ids(session, skus)
    created = _ensure_locations(session, skus, create=create_locations)
    ids, skus_added = _upsert_skus(session, skus)
    # every stock row this import reads or writes, locked up front in the one global order
    locked = lock_stock(session, sku_ids=listing_scope(session, set(ids.values()))[1])
    plan = _plan_stock(session, skus, ids, locked)
    counts, run = plan.to_set(set_stock=set_stock), uuid.uuid4().hex
    for item in skus.values():  # in file order
        for loc in item.stock:
            if (item.sku, loc) in counts:
                set_count(
                    session,
                    sku=item.sku,
                    qty=counts[(item.sku, loc)],
                    location=loc,
                    key=f"import:{run}:row{item.stock_rows[loc]}",
                    note="catalog import",
                )
    listing_count, listings_added, changed = _upsert_listings(session, skus, ids, channels)
    bump_epoch(session)
    refresh_listings(session, set(ids.values()))
    return CatalogSummary(
        skus=len(skus),
        bundles=sum(1 for s in skus.values() if s.components),
        locations_created=created,
        stock_rows=sum(len(s.stock) for s in skus.values()),
        listings=listing_count,
        skus_added=skus_added,
        stock_rows_added=len(plan.new),
        listings_added=listings_added,
        counts_kept=[] if set_stock else plan.differ,
        counts_set=plan.differ if set_stock else [],
        listing_ids_changed=changed,
    )


def _parse(text: str) -> tuple[dict[str, _Sku], dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in reader.fieldnames or []]
    reader.fieldnames = header
    for col in REQUIRED:
        if col not in header:
            raise CatalogError(1, col, "required column is missing")
    channels: dict[str, str] = {}
    for col in header:
        if col.startswith(LISTING_PREFIX):
            channels[col] = col[len(LISTING_PREFIX) :].strip()
            if not channels[col]:
                raise CatalogError(1, col, "a listing column must name a channel")
        elif col not in REQUIRED + OPTIONAL:
            raise CatalogError(1, col, "unknown column")
    skus: dict[str, _Sku] = {}
    for n, raw in enumerate(reader, start=2):
        row = {k: (v or "").strip() for k, v in raw.items() if k is not None}
        if None in raw:
            raise CatalogError(n, "", "more cells than columns")
        _parse_row(n, row, skus, channels)
    if not skus:
        raise CatalogError(2, "sku", "the file has no rows")
    for item in skus.values():
        if item.components and item.stock:
            row = min(item.stock_rows.values())
            raise CatalogError(row, "location", f"{item.sku!r} is a bundle; it holds no stock")
    return skus, channels


def _parse_row(
    n: int, row: dict[str, str], skus: dict[str, _Sku], channels: dict[str, str]
) -> None:
    sku = row["sku"]
    if not sku:
        raise CatalogError(n, "sku", "is empty")
    item = skus.setdefault(sku, _Sku(sku, n))
    _merge(n, item, "title", row.get("title") or None)
    _merge(n, item, "reorder_point", _int(n, "reorder_point", row.get("reorder_point", "")))
    _merge(n, item, "lead_time_days", _int(n, "lead_time_days", row.get("lead_time_days", "")))
    if row.get("components"):
        _merge(n, item, "components", _components(n, sku, row["components"]))
    location, on_hand = row["location"], row["on_hand"]
    if item.components and (location or on_hand not in ("", "0")):
        raise CatalogError(n, "location", f"{sku!r} is a bundle; it holds no stock of its own")
    if bool(location) != bool(on_hand):
        raise CatalogError(
            n, "on_hand" if location else "location", "give location and on_hand together"
        )
    if location:
        if location in item.stock:
            raise CatalogError(n, "location", f"{sku!r} at {location!r} appears twice")
        item.stock[location] = _int(n, "on_hand", on_hand, required=True) or 0
        item.stock_rows[location] = n
    for col, channel in channels.items():
        if row.get(col):
            if item.listings.setdefault(channel, row[col]) != row[col]:
                raise CatalogError(
                    n, col, f"{sku!r} already has listing {item.listings[channel]!r}"
                )


def _merge(n: int, item: _Sku, attr: str, value: object) -> None:
    if value is None:
        return
    current = getattr(item, attr)
    if current is not None and current != value:
        raise CatalogError(n, attr, f"{item.sku!r} has {current!r} on row {item.row}")
    setattr(item, attr, value)


def _int(n: int, column: str, text: str, *, required: bool = False) -> int | None:
    if text == "":
        if required:
            raise CatalogError(n, column, "is empty")
        return None
    try:
        value = int(text)
    except ValueError:
        raise CatalogError(n, column, f"{text!r} is not a whole number") from None
    if value < 0:
        raise CatalogError(n, column, f"{value} is negative")
    if value > MAX_QUANTITY:
        raise CatalogError(n, column, f"{value:,} is more than the ledger holds ({MAX_QUANTITY:,})")
    return value


def _components(n: int, sku: str, text: str) -> dict[str, int]:
    parts: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        name, star, qty = part.rpartition("*")
        if not star or not name.strip():
            raise CatalogError(n, "components", f"{part!r} is not SKU*QTY")
        count = _int(n, "components", qty.strip(), required=True) or 0
        if count <= 0:
            raise CatalogError(n, "components", f"{part!r} needs a quantity above 0")
        name = name.strip()
        if name == sku:
            raise CatalogError(n, "components", "a bundle cannot contain itself")
        parts[name] = parts.get(name, 0) + count
    if not parts:
        raise CatalogError(n, "components", "lists no component")
    return parts


def _check_references(session: Session, skus: dict[str, _Sku], channels: dict[str, str]) -> None:
    """What the file refers to exists, and the file together with the ledger stays well formed."""
    known_channels = set(session.execute(select(ChannelRow.name)).scalars())
    for col, name in channels.items():
        if name not in known_channels:
            raise CatalogError(1, col, f"no channel named {name!r}; add it first")
    wanted = {c for s in skus.values() for c in s.components or {}} | set(skus)
    existing = {
        r.sku: r for r in session.execute(select(SkuRow).where(SkuRow.sku.in_(wanted))).scalars()
    }
    stocked = set(
        session.execute(
            select(SkuRow.sku)
            .join(StockRow, StockRow.sku_id == SkuRow.id)
            .where(SkuRow.sku.in_(set(skus)))
        ).scalars()
    )

    def is_bundle(sku: str) -> bool:  # after this import: a file recipe, or one already stored
        return bool(sku in skus and skus[sku].components) or (
            sku in existing and existing[sku].is_bundle
        )

    contained = _bundles_containing(session, {s.sku for s in skus.values() if s.components})
    for item in skus.values():
        if item.stock and is_bundle(item.sku):
            row = min(item.stock_rows.values())
            raise CatalogError(row, "location", f"{item.sku!r} is a bundle; it holds no stock")
        if not item.components:
            continue
        if item.sku in stocked:
            raise CatalogError(
                item.row, "components", f"{item.sku!r} has stock; it cannot become a bundle"
            )
        outer = contained.get(item.sku, set()) - {s for s in skus if skus[s].components}
        if outer:
            raise CatalogError(
                item.row,
                "components",
                f"{item.sku!r} is in bundle {min(outer)!r}; bundles cannot nest",
            )
        for comp in item.components:
            if comp not in skus and comp not in existing:
                raise CatalogError(item.row, "components", f"unknown component SKU {comp!r}")
            if is_bundle(comp):
                raise CatalogError(
                    item.row, "components", f"{comp!r} is a bundle; bundles cannot nest"
                )
    _check_recipe_changes(session, skus, existing)


def _bundles_containing(session: Session, names: set[str]) -> dict[str, set[str]]:
    """Component SKU name → names of the stored bundles that contain it."""
    if not names:
        return {}
    component = SkuRow.__table__.alias("component")  # type: ignore[attr-defined]
    rows = session.execute(
        select(component.c.sku, SkuRow.sku)
        .join(BundleComponentRow, BundleComponentRow.component_id == component.c.id)
        .join(SkuRow, SkuRow.id == BundleComponentRow.bundle_id)
        .where(component.c.sku.in_(names))
    )
    found: dict[str, set[str]] = defaultdict(set)
    for comp, bundle in rows:
        found[comp].add(bundle)
    return found


def _check_recipe_changes(
    session: Session, skus: dict[str, _Sku], existing: dict[str, SkuRow]
) -> None:
    """A bundle's recipe may not change while open orders hold units committed under it."""
    changing = [s for s in skus.values() if s.components and s.sku in existing]
    if not changing:
        return
    ids = {existing[s.sku].id: s for s in changing}
    stored: dict[int, dict[str, int]] = defaultdict(dict)
    for bundle, name, qty in session.execute(
        select(BundleComponentRow.bundle_id, SkuRow.sku, BundleComponentRow.qty)
        .join(SkuRow, SkuRow.id == BundleComponentRow.component_id)
        .where(BundleComponentRow.bundle_id.in_(ids))
    ):
        stored[bundle][name] = qty
    changed = [b for b, item in ids.items() if stored.get(b, {}) != item.components]
    if not changed:
        return
    held = session.execute(
        select(OrderLineRow.sku_id, func.sum(OrderLineRow.committed))
        .where(OrderLineRow.sku_id.in_(changed), OrderLineRow.committed > 0)
        .group_by(OrderLineRow.sku_id)
    ).first()
    if held is not None:
        item = ids[held[0]]
        raise CatalogError(
            item.row, "components",
            f"open orders hold {held[1]} of {item.sku!r} under its current recipe; change it "
            "after they ship or are cancelled",
        )  # fmt: skip


def _check_listing_ids(session: Session, skus: dict[str, _Sku]) -> None:
    """A channel's listing id names one SKU: within the file and against the ledger."""
    seen: dict[tuple[str, str], str] = {}
    for item in skus.values():
        for channel, ext in item.listings.items():
            other = seen.setdefault((channel, ext), item.sku)
            if other != item.sku:
                raise CatalogError(
                    item.row, LISTING_PREFIX + channel, f"{ext!r} is also {other!r}'s listing"
                )
    if not seen:
        return
    taken = session.execute(
        select(ChannelRow.name, ListingRow.external_id, SkuRow.sku)
        .join(ChannelRow, ChannelRow.id == ListingRow.channel_id)
        .join(SkuRow, SkuRow.id == ListingRow.sku_id)
        .where(ListingRow.external_id.in_({ext for _, ext in seen}))
    )
    for channel, ext, owner in taken:
        sku = seen.get((channel, ext))
        # the file gives the owner another id there: the two swap ids
        moves_away = owner in skus and channel in skus[owner].listings
        if sku is not None and sku != owner and not moves_away:
            row = skus[sku].row
            raise CatalogError(
                row, LISTING_PREFIX + channel, f"{ext!r} is already {owner!r}'s listing"
            )


def _ensure_locations(session: Session, skus: dict[str, _Sku], *, create: bool) -> list[str]:
    """Create the locations the file names and the ledger lacks, or refuse the first of them."""
    first_row: dict[str, int] = {}
    for item in skus.values():
        for loc, row in item.stock_rows.items():
            first_row[loc] = min(row, first_row.get(loc, row))
    known = set(session.execute(select(LocationRow.name)).scalars())
    unknown = sorted(first_row.keys() - known)
    if unknown and not create:
        name = min(unknown, key=first_row.__getitem__)
        raise CatalogError(
            first_row[name], "location",
            f"no location named {name!r}; add it first (stocksync location add), or let the "
            "import create it (--create-locations)",
        )  # fmt: skip
    for name in unknown:
        session.add(LocationRow(name=name, kind="warehouse"))
    session.flush()
    return unknown


def _upsert_skus(session: Session, skus: dict[str, _Sku]) -> tuple[dict[str, int], int]:
    """SKU name → id for every SKU of the file, created where new; and how many were."""
    rows = {
        r.sku: r for r in session.execute(select(SkuRow).where(SkuRow.sku.in_(set(skus)))).scalars()
    }
    added = len(skus) - len(rows)
    for item in skus.values():
        row = rows.get(item.sku) or SkuRow(sku=item.sku)
        row.title = item.title if item.title is not None else row.title
        row.reorder_point = (
            item.reorder_point if item.reorder_point is not None else row.reorder_point
        )
        row.lead_time_days = (
            item.lead_time_days if item.lead_time_days is not None else row.lead_time_days
        )
        row.is_bundle = bool(item.components) or row.is_bundle
        session.add(row)
        rows[item.sku] = row
    session.flush()
    ids = {name: int(row.id) for name, row in rows.items() if row.id is not None}
    comp_ids = dict(
        session.execute(
            select(SkuRow.sku, SkuRow.id).where(
                SkuRow.sku.in_({c for s in skus.values() for c in s.components or {}})
            )
        ).all()
    )
    for item in skus.values():
        if item.components:
            session.execute(
                delete(BundleComponentRow).where(BundleComponentRow.bundle_id == ids[item.sku])
            )
            for comp, qty in item.components.items():
                session.add(
                    BundleComponentRow(
                        bundle_id=ids[item.sku], component_id=comp_ids[comp], qty=qty
                    )
                )
    session.flush()
    return ids, added


def _plan_stock(
    session: Session,
    skus: dict[str, _Sku],
    ids: dict[str, int],
    locked: dict[tuple[int, int], list[int]],
) -> StockPlan:
    """The file's stock rows against the ledger's counts, read under the import's locks."""
    location_ids = dict(session.execute(select(LocationRow.name, LocationRow.id)).all())
    file_counts = {(s.sku, loc): qty for s in skus.values() for loc, qty in s.stock.items()}
    ledger_counts = {
        (sku, loc): locked[key][0]
        for sku, loc in file_counts
        if (key := (ids[sku], location_ids[loc])) in locked
    }
    return plan_stock(file_counts, ledger_counts)


def _upsert_listings(
    session: Session, skus: dict[str, _Sku], ids: dict[str, int], channels: dict[str, str]
) -> tuple[int, int, list[ListingIdChange]]:
    """Add the file's new listings and give the changed ones their new ids; return the number
    of listings in the file, of those added, and the changes."""
    channel_ids = dict(session.execute(select(ChannelRow.name, ChannelRow.id)).all())
    held = {
        (channel, sku): (int(listing_id), ext)
        for listing_id, channel, sku, ext in session.execute(
            select(ListingRow.id, ChannelRow.name, SkuRow.sku, ListingRow.external_id)
            .join(ChannelRow, ChannelRow.id == ListingRow.channel_id)
            .join(SkuRow, SkuRow.id == ListingRow.sku_id)
            .where(ListingRow.sku_id.in_(set(ids.values())))
        )
    }
    wanted = {(ch, s.sku): ext for s in skus.values() for ch, ext in s.listings.items()}
    plan = plan_listings(wanted, {pair: ext for pair, (_, ext) in held.items()})
    change_listing_ids(session, {held[(c.channel, c.sku)][0]: c.new_id for c in plan.changed})
    for pair, external_id in wanted.items():  # in file order, as the rows' ids always were
        if pair in plan.new:
            channel, sku = pair
            session.add(
                ListingRow(
                    channel_id=channel_ids[channel], sku_id=ids[sku], external_id=external_id
                )
            )
    session.flush()
    return len(wanted), len(plan.new), plan.changed


def export_catalog(session: Session) -> str:
    """The ledger's catalog in the import format; importing it back changes nothing."""
    channels = list(
        session.execute(select(ChannelRow.id, ChannelRow.name).order_by(ChannelRow.name)).all()
    )
    header = [*REQUIRED, *OPTIONAL, *(LISTING_PREFIX + name for _, name in channels)]
    listings: dict[int, dict[int, str]] = defaultdict(dict)
    for ch, sku, ext in session.execute(
        select(ListingRow.channel_id, ListingRow.sku_id, ListingRow.external_id)
    ):
        listings[sku][ch] = ext
    comps: dict[int, list[str]] = defaultdict(list)
    for b, name, qty in session.execute(
        select(BundleComponentRow.bundle_id, SkuRow.sku, BundleComponentRow.qty)
        .join(SkuRow, SkuRow.id == BundleComponentRow.component_id)
        .order_by(SkuRow.sku)
    ):
        comps[b].append(f"{name}*{qty}")
    stock: dict[int, list[tuple[str, int]]] = defaultdict(list)
    for sku, loc, on_hand in session.execute(
        select(StockRow.sku_id, LocationRow.name, StockRow.on_hand)
        .join(LocationRow, LocationRow.id == StockRow.location_id)
        .order_by(LocationRow.name)
    ):
        stock[sku].append((loc, on_hand))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for sku in session.execute(select(SkuRow).order_by(SkuRow.sku)).scalars():
        assert sku.id is not None
        base = [sku.title, sku.reorder_point, sku.lead_time_days, ";".join(comps.get(sku.id, []))]
        ext = [listings[sku.id].get(ch, "") for ch, _ in channels]
        for loc, on_hand in stock.get(sku.id) or [("", "")]:  # type: ignore[list-item]
            writer.writerow([sku.sku, loc, on_hand, *base, *ext])
    return out.getvalue()
