"""Record a channel order: the ledger's hot path, run for every order webhook.

One plan, two ways to store it. Both lock the stock rows the order and the affected listings
read (every location of those SKUs, in (sku, location) order), then the listing rows (id order),
compute the commitments and the new listing quantities in Python from the locked rows, and write
everything before the transaction commits.

- Portable (SQLite): plain statements under ``BEGIN IMMEDIATE``.
- PostgreSQL: two statements per order (see ``pg_recording``), because on a small machine the
  client's per-statement cost, not the database, limits how many orders a second it takes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Table, insert
from sqlmodel import Session

from stocksync.domain.allocation import allocate
from stocksync.domain.clock import utcnow
from stocksync.domain.commit import Policy, Take, most_available
from stocksync.domain.errors import InvalidRequestError, NotFoundError, UnmappableLineError
from stocksync.domain.model import MovementReason, OrderStatus, check_quantity
from stocksync.domain.orders import Line, commit, order_status, placed
from stocksync.domain.sync_lag import Gap
from stocksync.ledger.config_cache import ChannelConf, ConfigCache, config_cache, read_epoch
from stocksync.ledger.db import is_postgres
from stocksync.ledger.journal import Move, apply_moves
from stocksync.ledger.lines import allocation_table
from stocksync.ledger.listings import (
    ListingChange,
    ListingWithRules,
    desired_quantities,
    listing_changes,
    load_listings,
    paced,
    write_listing_changes,
)
from stocksync.ledger.lookups import skus_by_listing
from stocksync.ledger.results import LineIn
from stocksync.ledger.sql import claim_operation, conn, lock_stock
from stocksync.ledger.sync_lag import cached_lags, channel_gaps
from stocksync.ledger.tables import OrderLineRow, OrderRow
from stocksync.ledger.velocity import SalesRates, Sums, rates_from_sums, sales_rates

__all__ = ["MappedLine", "OrderPlan", "order_key", "record_new_order"]

MAX_ID = 100
"""Longest order or line id a channel may send (orders.external_id, order_lines.external_line_id)."""

line_table: Table = OrderLineRow.__table__  # type: ignore[attr-defined]
order_table: Table = OrderRow.__table__  # type: ignore[attr-defined]


def order_key(channel_id: int, external_id: str) -> str:
    """The order's idempotency key; the channel's numeric id keeps it unambiguous."""
    return f"order:{channel_id}:{external_id}"


@dataclass(frozen=True, slots=True)
class MappedLine:
    line: LineIn
    sku_id: int
    sku: str
    recipe: dict[int, int]


@dataclass
class OrderPlan:
    """What recording an order will write, computed from the locked rows."""

    channel: ChannelConf
    lines: list[Line]
    takes: list[tuple[int, Take]]
    sold: dict[tuple[int, int], int]
    listing_changes: list[ListingChange] = field(default_factory=list)

    @property
    def status(self) -> OrderStatus:
        return order_status(self.lines)

    def moves(self, order_id: int) -> list[Move]:
        return [
            Move(suffix=f"L{line_no}/{t.sku_id}@{t.location_id}", sku_id=t.sku_id,
                 location_id=t.location_id, delta_on_hand=0, delta_committed=t.qty,
                 reason=MovementReason.ORDER_COMMIT, channel_id=self.channel.id,
                 order_id=order_id, line_no=line_no)
            for line_no, t in self.takes
        ]  # fmt: skip

    def stock_deltas(self) -> dict[tuple[int, int], int]:
        deltas: dict[tuple[int, int], int] = defaultdict(int)
        for _, t in self.takes:
            deltas[(t.sku_id, t.location_id)] += t.qty
        return dict(deltas)


def record_new_order(
    session: Session,
    *,
    channel: str,
    external_id: str,
    lines: Sequence[LineIn],
    placed_at: datetime | None = None,
) -> OrderPlan | None:
    """Record the order and return its plan; None if it was already recorded (a duplicate)."""
    _check_request(external_id, lines)
    if is_postgres(session):
        from stocksync.ledger.pg_recording import record_on_postgres

        return record_on_postgres(session, channel, external_id, lines, placed_at)
    cfg = config_cache(session, read_epoch(session))
    ch = channel_conf(cfg, channel)
    mapped = map_lines(session, cfg, ch, external_id, lines)
    key = order_key(ch.id, external_id)
    op = claim_operation(session, key, "order")
    if op is None:
        return None
    stock_skus, listing_skus = lock_sets(cfg, mapped)
    held = lock_stock(session, sku_ids=stock_skus)
    plan = plan_order(ch, mapped, held)
    listings = load_listings(session, listing_skus, lock=True)
    plan.listing_changes = plan_listings(session, cfg, plan, held, listings)
    order_id = _insert_order(session, ch, external_id, plan, placed_at)
    apply_moves(session, op, key, plan.moves(order_id))
    write_listing_changes(session, plan.listing_changes)
    return plan


def _check_request(external_id: str, lines: Sequence[LineIn]) -> None:
    """Refuse what the schema cannot hold with a clear error, the same on every database: a line
    is 1 to MAX_QUANTITY units (a line of none would be stored committed in a cancelled order)."""
    if not 0 < len(external_id) <= MAX_ID:
        raise InvalidRequestError(f"an order id must be 1 to {MAX_ID} characters: {external_id!r}")
    for n, line in enumerate(lines, start=1):
        name = line.sku or line.listing_id or "no SKU"
        check_quantity(f"order {external_id!r}, line {n} ({name}): the quantity", line.quantity)
        if line.external_line_id is not None and len(line.external_line_id) > MAX_ID:
            raise InvalidRequestError(
                f"order {external_id!r}: a line id is over {MAX_ID} characters"
            )


def channel_conf(cfg: ConfigCache, name: str) -> ChannelConf:
    ch = cfg.channels.get(name)
    if ch is None:
        raise NotFoundError("channel", name)
    return ch


def map_lines(
    session: Session, cfg: ConfigCache, ch: ChannelConf, external_id: str, lines: Sequence[LineIn]
) -> list[MappedLine]:
    """Each line's SKU: by name, else by the channel's listing id; unmappable lines refuse the order."""
    ids = cfg.resolve(session, (ln.sku for ln in lines if ln.sku))
    unknown = [ln.listing_id for ln in lines if ln.listing_id and ln.sku not in ids]
    by_listing = skus_by_listing(session, ch.id, unknown) if unknown else {}
    if by_listing:
        ids |= cfg.resolve(session, by_listing.values())
    mapped = []
    for n, line in enumerate(lines, start=1):
        name = line.sku if line.sku in ids else by_listing.get(line.listing_id or "")
        if name is None or name not in ids:
            raise UnmappableLineError(ch.name, external_id, line.external_line_id or str(n))
        mapped.append(MappedLine(line, ids[name], name, cfg.recipe(ids[name])))
    return mapped


def lock_sets(cfg: ConfigCache, mapped: Sequence[MappedLine]) -> tuple[set[int], set[int]]:
    """(SKUs whose stock rows to lock, SKUs whose listings to recompute) for these lines."""
    stocked = {sku for m in mapped for sku in m.recipe}
    listed = {m.sku_id for m in mapped} | stocked
    for sku in stocked:
        listed |= cfg.bundles_of.get(sku, set())
    stock = {sku for target in listed for sku in cfg.recipe(target)}
    return stock, listed


def plan_order(
    ch: ChannelConf,
    mapped: Sequence[MappedLine],
    held: Mapping[tuple[int, int], Sequence[int]],
    policy: Policy = most_available,
) -> OrderPlan:
    """Commit whole units line by line from the locations that feed the channel, as ``policy``
    chooses (:func:`stocksync.domain.allocation.allocate`): the one place both ways of recording
    decide where an order's units come from."""
    available: dict[int, dict[int, int]] = defaultdict(dict)
    for (sku, loc), (on_hand, committed) in held.items():
        if not ch.locations or loc in ch.locations:
            available[sku][loc] = on_hand - committed
    plan = OrderPlan(ch, [], [], defaultdict(int))
    for line_no, m in enumerate(mapped, start=1):
        units, takes = allocate(m.line.quantity, m.recipe, available, policy)
        plan.takes += [(line_no, t) for t in takes]
        line = placed(line_no=line_no, sku_id=m.sku_id, sku=m.sku, quantity=m.line.quantity,
                      recipe=m.recipe, external_line_id=m.line.external_line_id)  # fmt: skip
        plan.lines.append(commit(line, units))
        plan.sold[(ch.id, m.sku_id)] += m.line.quantity
    return plan


def plan_listings(
    session: Session,
    cfg: ConfigCache,
    plan: OrderPlan,
    held: Mapping[tuple[int, int], Sequence[int]],
    listings: Sequence[ListingWithRules],
    rate_sums: Sums | None = None,
) -> list[ListingChange]:
    """The listing changes once the plan's commitments are applied to the locked stock.

    The sales rates are needed only where a guard grows with them (``paced``); the caller may
    have read their sums already (``rate_sums``, see ``velocity``). They count this order too."""
    available: dict[int, dict[int, int]] = defaultdict(dict)
    for (sku, loc), (on_hand, committed) in held.items():
        available[sku][loc] = on_hand - committed
    committing: dict[tuple[int, int], int] = defaultdict(int)
    for _, t in plan.takes:
        available[t.sku_id][t.location_id] -= t.qty
        committing[t.sku_id, plan.channel.id] += t.qty
    rates = SalesRates()
    gaps: dict[int, Gap] = {}
    if paced(listings):
        if rate_sums is None:
            rates = sales_rates(session, available, extra=committing)
        else:
            rates = rates_from_sums(rate_sums, committing)
        gaps = channel_gaps(cached_lags(session), cfg.by_id)
    desired = desired_quantities(
        listings, available, cfg.feeds(), cfg.recipes, rates.by_sku, gaps,
        channel_rates=rates.by_channel,
    )  # fmt: skip
    return listing_changes(listings, desired, plan.sold)


def _insert_order(
    session: Session, ch: ChannelConf, external_id: str, plan: OrderPlan, placed_at: datetime | None
) -> int:
    now = utcnow()
    c = conn(session)
    order_id = int(
        c.execute(
            insert(order_table)
            .values(channel_id=ch.id, external_id=external_id, status=plan.status.value,
                    placed_at=placed_at, created_at=now, updated_at=now)
            .returning(order_table.c.id)
        ).scalar_one()
    )  # fmt: skip
    if plan.lines:
        c.execute(insert(line_table), [line_row(order_id, ln) for ln in plan.lines])
    if plan.takes:
        c.execute(
            insert(allocation_table),
            [
                {"order_id": order_id, "line_no": line_no, "sku_id": t.sku_id,
                 "location_id": t.location_id, "committed": t.qty, "shipped": 0, "returned": 0}
                for line_no, t in plan.takes
            ],
        )  # fmt: skip
    return order_id


def line_row(order_id: int, ln: Line) -> dict[str, object]:
    return {
        "order_id": order_id, "line_no": ln.line_no, "sku_id": ln.sku_id,
        "external_line_id": ln.external_line_id, "quantity": ln.quantity,
        "committed": ln.committed, "short": ln.short, "cancelled": 0, "shipped": 0,
        "returned": 0, "status": ln.status.value,
    }  # fmt: skip
