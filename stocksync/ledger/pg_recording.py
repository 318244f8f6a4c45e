"""Recording an order on PostgreSQL in three statements.

1. Check the configuration epoch, claim the order's idempotency key, lock the stock rows and then
   the listing rows, in the same fixed order as every other operation.
2. Read the epoch and the stock again. A statement sees the database as it was when the statement
   began, before it waited for any lock; only a new statement sees what the transactions it waited
   for committed (a stock row at a new location, a bundle added by a catalog import). If the
   configuration changed or new stock rows appeared, lock what is now needed and read again.
3. Python plans the commitments and listing quantities (the same plan as on SQLite), and one
   statement writes the order, its lines, their allocations, the journal entries, the stock
   counters and the listings.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session

from stocksync.domain.clock import as_utc
from stocksync.ledger.config_cache import ConfigCache, config_cache, read_epoch
from stocksync.ledger.listings import ListingWithRules
from stocksync.ledger.notify import NOTIFY_SQL
from stocksync.ledger.recording import (
    OrderPlan,
    channel_conf,
    lock_sets,
    map_lines,
    order_key,
    plan_listings,
    plan_order,
)
from stocksync.ledger.results import LineIn
from stocksync.ledger.sql import conn
from stocksync.ledger.velocity import RATE_WINDOWS_S, RATES_SQL

__all__ = ["record_on_postgres"]

_ATTEMPTS = 5

_LOCKS = """
st AS (
    SELECT s.sku_id, s.location_id FROM stock s
    WHERE s.sku_id = ANY(%(stock_skus)s::int[]) {only_if_claimed}
    ORDER BY s.sku_id, s.location_id
    FOR UPDATE
),
li AS (
    SELECT l.id, l.channel_id, l.sku_id, l.desired_qty, l.expected_qty, l.version, l.dirty,
           l.unheard_qty, l.pushed_at
    FROM listings l
    WHERE l.sku_id = ANY(%(listing_skus)s::int[]) {only_if_claimed}
      AND (SELECT count(*) FROM st) >= 0  -- stock rows are locked before listing rows
    ORDER BY l.id
    FOR UPDATE
)"""

_LOCKED = """
       (SELECT coalesce(json_agg(json_build_array(sku_id, location_id)), '[]') FROM st),
       (SELECT coalesce(json_agg(json_build_array(id, channel_id, sku_id, desired_qty,
                                                  expected_qty, version, dirty, unheard_qty,
                                                  pushed_at)),
                         '[]') FROM li)"""

_CLAIM_AND_LOCK = (
    """
WITH ep AS (SELECT config_epoch FROM ledger_state WHERE id = 1),
op AS (
    INSERT INTO operations (key, kind, created_at)
    SELECT %(key)s, 'order', now() FROM ep WHERE ep.config_epoch = %(epoch)s
    ON CONFLICT (key) DO NOTHING
    RETURNING id
),"""
    + _LOCKS.format(only_if_claimed="AND EXISTS (SELECT 1 FROM op)")
    + "\nSELECT (SELECT config_epoch FROM ep), (SELECT id FROM op),"
    + _LOCKED
)

_LOCK_MORE = "WITH" + _LOCKS.format(only_if_claimed="") + "\nSELECT" + _LOCKED

_READ = f"""
SELECT (SELECT config_epoch FROM ledger_state WHERE id = 1),
       (SELECT coalesce(json_agg(json_build_array(sku_id, location_id, on_hand, committed)), '[]')
          FROM stock WHERE sku_id = ANY(%(stock_skus)s::int[])),
       CASE WHEN %(paced)s THEN ({RATES_SQL}) END
"""

_WRITE = (
    """
WITH ord AS (
    INSERT INTO orders (channel_id, external_id, status, placed_at, created_at, updated_at)
    VALUES (%(channel_id)s, %(external_id)s, %(status)s, %(placed_at)s, now(), now())
    RETURNING id
),
ln AS (
    INSERT INTO order_lines (order_id, line_no, sku_id, external_line_id, quantity, committed,
                             short, cancelled, shipped, returned, status)
    SELECT ord.id, l.line_no, l.sku_id, l.ext, l.quantity, l.committed, l.short, 0, 0, 0, l.status
    FROM ord, json_to_recordset(%(lines)s::json)
         AS l(line_no int, sku_id int, ext text, quantity int, committed int, short int, status text)
),
mv AS (
    INSERT INTO movements (key, operation_id, sku_id, location_id, delta_on_hand, delta_committed,
                           reason, channel_id, order_id, line_no, note, created_at)
    SELECT %(key)s || '#' || m.suffix, %(op_id)s, m.sku_id, m.location_id, 0, m.qty,
           'order_commit', %(channel_id)s, ord.id, m.line_no, '', now()
    FROM ord, json_to_recordset(%(moves)s::json)
         AS m(suffix text, sku_id int, location_id int, qty int, line_no int)
),
al AS (
    INSERT INTO line_allocations (order_id, line_no, sku_id, location_id, committed, shipped,
                                  returned)
    SELECT ord.id, a.line_no, a.sku_id, a.location_id, a.qty, 0, 0
    FROM ord, json_to_recordset(%(moves)s::json)
         AS a(line_no int, sku_id int, location_id int, qty int)
),
-- arrays, not json: unnest's small row estimate keeps these two on their primary-key indexes
st AS (
    UPDATE stock s SET committed = s.committed + d.qty, updated_at = now()
    FROM unnest(%(st_sku)s::int[], %(st_loc)s::int[], %(st_qty)s::int[]) AS d(sku_id, location_id, qty)
    WHERE s.sku_id = d.sku_id AND s.location_id = d.location_id
),
li AS (
    UPDATE listings x
    SET desired_qty = d.desired, expected_qty = d.expected, dirty = d.dirty,
        version = d.version, unheard_qty = d.unheard, updated_at = now()
    FROM unnest(%(li_id)s::int[], %(li_desired)s::int[], %(li_expected)s::int[],
                %(li_dirty)s::bool[], %(li_version)s::int[], %(li_unheard)s::int[])
         AS d(id, desired, expected, dirty, version, unheard)
    WHERE x.id = d.id
)
-- once per transaction, delivered at commit: wakes the drainers (stocksync.sync.wakeup)
SELECT id, CASE WHEN %(notify)s THEN """
    + NOTIFY_SQL
    + """ END FROM ord
"""
)


def record_on_postgres(
    session: Session,
    channel: str,
    external_id: str,
    lines: Sequence[LineIn],
    placed_at: datetime | None,
) -> OrderPlan | None:
    cfg = config_cache(session)
    if channel not in cfg.channels:  # a channel added since this process last looked?
        cfg = config_cache(session, read_epoch(session))
    # The driver's own cursor: these statements run on every order, and SQLAlchemy's
    # per-statement bookkeeping would cost more client CPU than the statements themselves.
    c = conn(session).connection.driver_connection
    assert c is not None
    for _ in range(_ATTEMPTS):
        ch = channel_conf(cfg, channel)
        key = order_key(ch.id, external_id)
        mapped = map_lines(session, cfg, ch, external_id, lines)
        stock_skus, listing_skus = lock_sets(cfg, mapped)
        params = {"key": key, "epoch": cfg.epoch, "stock_skus": sorted(stock_skus),
                  "listing_skus": sorted(listing_skus), "paced": cfg.paced,
                  "w0": RATE_WINDOWS_S[0], "w1": RATE_WINDOWS_S[1]}  # fmt: skip
        # One round trip for BEGIN, the claim-and-lock and the read after it: in a pipeline the
        # server still runs them one after the other, so the read's snapshot follows the locks.
        with c.pipeline():
            claimed = c.execute(_CLAIM_AND_LOCK, params)
            fresh = c.execute(_READ, params)
        epoch, op_id, locked, listing_rows = claimed.fetchone()
        if epoch == cfg.epoch:
            break
        cfg = config_cache(session, epoch)  # changed before we claimed anything: map again
    else:
        raise RuntimeError("the ledger configuration kept changing; try again")
    if op_id is None:
        return None
    epoch, stock_rows, rate_rows = fresh.fetchone()
    for _ in range(_ATTEMPTS):
        unlocked = {(s, loc) for s, loc, *_ in stock_rows} - {(s, loc) for s, loc in locked}
        if epoch == cfg.epoch and not unlocked:
            break
        if epoch != cfg.epoch:  # changed while we waited for a lock: lock what it now takes
            cfg = config_cache(session, epoch)
            ch = channel_conf(cfg, channel)
            mapped = map_lines(session, cfg, ch, external_id, lines)
            stock_skus, listing_skus = lock_sets(cfg, mapped)
            params |= {"stock_skus": sorted(stock_skus), "listing_skus": sorted(listing_skus),
                       "paced": cfg.paced}  # fmt: skip
        locked, listing_rows = c.execute(_LOCK_MORE, params).fetchone()
        epoch, stock_rows, rate_rows = c.execute(_READ, params).fetchone()
    else:
        raise RuntimeError("the stock kept changing under the order; try again")
    held = {(s, loc): (on_hand, committed) for s, loc, on_hand, committed in stock_rows}
    plan = plan_order(ch, mapped, held)
    listings = [_listing_state(cfg, row) for row in listing_rows]
    sums = {(sku, ch): units for sku, ch, *units in rate_rows or ()}
    plan.listing_changes = plan_listings(session, cfg, plan, held, listings, sums)
    c.execute(_WRITE, _write_params(plan, key, op_id, external_id, placed_at)).fetchone()
    return plan


def _listing_state(cfg: ConfigCache, row: Sequence[Any]) -> ListingWithRules:
    id_, channel_id, sku_id, desired, expected, version, dirty, unheard, pushed_at = row
    ch = cfg.by_id[channel_id]
    return ListingWithRules(
        id_,
        channel_id,
        sku_id,
        desired,
        expected,
        version,
        dirty,
        ch.name,
        ch.priority,
        ch.policy,
        unheard,
        ch.last_write_wins,
        None if pushed_at is None else as_utc(datetime.fromisoformat(pushed_at)),
    )


def _write_params(
    plan: OrderPlan, key: str, op_id: int, external_id: str, placed_at: datetime | None
) -> dict[str, Any]:
    lines = [
        {"line_no": ln.line_no, "sku_id": ln.sku_id, "ext": ln.external_line_id,
         "quantity": ln.quantity, "committed": ln.committed, "short": ln.short,
         "status": ln.status.value}
        for ln in plan.lines
    ]  # fmt: skip
    moves = [
        {"suffix": m.suffix, "sku_id": m.sku_id, "location_id": m.location_id,
         "qty": m.delta_committed, "line_no": m.line_no}
        for m in plan.moves(0)
    ]  # fmt: skip
    deltas = plan.stock_deltas()
    changes = plan.listing_changes
    return {
        "key": key, "op_id": op_id, "channel_id": plan.channel.id, "external_id": external_id,
        "status": plan.status.value, "placed_at": placed_at, "lines": json.dumps(lines),
        "moves": json.dumps(moves),
        "st_sku": [k[0] for k in deltas], "st_loc": [k[1] for k in deltas],
        "st_qty": list(deltas.values()),
        "li_id": [c.listing_id for c in changes], "li_desired": [c.desired_qty for c in changes],
        "li_expected": [c.expected_qty for c in changes], "li_dirty": [c.dirty for c in changes],
        "li_version": [c.version for c in changes], "li_unheard": [c.unheard_qty for c in changes],
        "notify": any(c.dirty for c in changes),
    }  # fmt: skip
