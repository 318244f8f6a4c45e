"""SQLModel tables of the ledger. Counters in ``stock`` are a cache of the ``movements`` journal."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel

from stocksync.domain.clock import utcnow

__all__ = [
    "AlertSentRow",
    "BundleComponentRow",
    "ChannelCursorRow",
    "ChannelLocationRow",
    "ChannelRow",
    "InboxEventRow",
    "LedgerStateRow",
    "LineAllocationRow",
    "ListingRow",
    "LocationRow",
    "MovementRow",
    "OperationRow",
    "OrderLineRow",
    "OrderRow",
    "SkuRow",
    "StockRow",
    "metadata",
]

metadata = SQLModel.metadata


def _ts(**kw: Any) -> Any:
    return Field(default_factory=utcnow, sa_type=DateTime(timezone=True), **kw)  # type: ignore[call-overload]


# A sellable item. A bundle lists components and holds no stock of its own.
class SkuRow(SQLModel, table=True):
    __tablename__ = "skus"

    id: int | None = Field(default=None, primary_key=True)
    sku: str = Field(max_length=255, unique=True)
    title: str = Field(default="", max_length=500)
    reorder_point: int = 0
    lead_time_days: int = 0
    is_bundle: bool = False
    created_at: datetime = _ts()


# A bundle's recipe: qty units of component per bundle.
class BundleComponentRow(SQLModel, table=True):
    __tablename__ = "bundle_components"
    __table_args__ = (
        CheckConstraint("qty > 0", name="ck_bundle_components_qty_positive"),
        CheckConstraint("bundle_id <> component_id", name="ck_bundle_components_not_self"),
        Index("ix_bundle_components_component_id", "component_id"),
    )

    bundle_id: int = Field(foreign_key="skus.id", primary_key=True)
    component_id: int = Field(foreign_key="skus.id", primary_key=True)
    qty: int


# A warehouse, 3PL or store that holds stock.
class LocationRow(SQLModel, table=True):
    __tablename__ = "locations"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    kind: str = Field(default="warehouse", max_length=20)
    country: str | None = Field(default=None, max_length=2)
    region: str | None = Field(default=None, max_length=100)
    latitude: float | None = None
    longitude: float | None = None
    created_at: datetime = _ts()


# Counters per SKU x location; the database refuses a state that commits more than is on hand.
class StockRow(SQLModel, table=True):
    __tablename__ = "stock"
    __table_args__ = (
        CheckConstraint("on_hand >= 0", name="ck_stock_on_hand_nonnegative"),
        CheckConstraint("committed >= 0", name="ck_stock_committed_nonnegative"),
        CheckConstraint("committed <= on_hand", name="ck_stock_committed_within_on_hand"),
    )

    sku_id: int = Field(foreign_key="skus.id", primary_key=True)
    location_id: int = Field(foreign_key="locations.id", primary_key=True)
    on_hand: int = 0
    committed: int = 0
    updated_at: datetime = _ts()


# The idempotency registry: one row per ledger operation; a second call with the key is a duplicate.
class OperationRow(SQLModel, table=True):
    __tablename__ = "operations"

    id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    )
    key: str = Field(max_length=300, unique=True)
    kind: str = Field(max_length=30)
    created_at: datetime = _ts()


# The append-only journal; stock counters are the sums of these deltas.
class MovementRow(SQLModel, table=True):
    __tablename__ = "movements"
    __table_args__ = (
        Index("ix_movements_order_line", "order_id", "line_no"),
        Index("ix_movements_sku_location", "sku_id", "location_id"),
        Index("ix_movements_sku_created_at", "sku_id", "created_at"),
    )

    id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    )
    key: str = Field(max_length=320, unique=True)
    operation_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("operations.id"), nullable=False)
    )
    sku_id: int = Field(foreign_key="skus.id")
    location_id: int = Field(foreign_key="locations.id")
    delta_on_hand: int = 0
    delta_committed: int = 0
    reason: str = Field(max_length=30)
    channel_id: int | None = Field(default=None, foreign_key="channels.id")
    order_id: int | None = Field(default=None, foreign_key="orders.id")
    line_no: int | None = None
    note: str = Field(default="", max_length=500)
    created_at: datetime = _ts()


# A sales channel and the policy that shapes what it lists.
class ChannelRow(SQLModel, table=True):
    __tablename__ = "channels"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    kind: str = Field(max_length=20)
    priority: int = 0
    buffer: int = 0
    max_listed: int | None = None
    share_pct: int = 100
    zero_below: int = 0
    last_units: int = 0
    last_seconds: float = 0.0
    measured_guard: bool = Field(
        default=True, sa_column=Column(Boolean, nullable=False, server_default="1")
    )
    guard_max: int | None = None
    created_at: datetime = _ts()


# The locations that feed a channel; a channel with none is fed by every location.
class ChannelLocationRow(SQLModel, table=True):
    __tablename__ = "channel_locations"

    channel_id: int = Field(foreign_key="channels.id", primary_key=True)
    location_id: int = Field(foreign_key="locations.id", primary_key=True)


# A SKU as listed on one channel, and where the push pipeline stands with it.
class ListingRow(SQLModel, table=True):
    __tablename__ = "listings"
    __table_args__ = (
        UniqueConstraint("channel_id", "sku_id", name="uq_listings_channel_sku"),
        UniqueConstraint("channel_id", "external_id", name="uq_listings_channel_external_id"),
        Index("ix_listings_sku_id", "sku_id"),
        Index(
            "ix_listings_dirty",
            "channel_id",
            "id",
            postgresql_where=text("dirty"),
            sqlite_where=text("dirty"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    channel_id: int = Field(foreign_key="channels.id")
    sku_id: int = Field(foreign_key="skus.id")
    external_id: str = Field(max_length=255)
    external_refs: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    desired_qty: int = 0
    """What the rules say this channel should list now."""
    pushed_qty: int | None = None
    """The last quantity the channel accepted from us."""
    expected_qty: int | None = None
    """What the channel will show once the ledger has heard of every sale the channel made: last
    pushed minus its own orders ingested since. The channel itself shows ``expected_qty -
    unheard_qty``; that is the count a compare-and-set compares with."""
    unheard_qty: int = Field(
        default=0, sa_column=Column(Integer, nullable=False, server_default="0")
    )
    """Units a compare-and-set conflict showed the channel had sold beyond ``expected_qty`` and
    whose orders the ledger has not recorded yet (their webhook is in flight). Hearing of the
    channel's own orders uses them up; until then pushes hold them back, so the units are not
    sold twice."""
    unheard_since: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    """When ``unheard_qty`` last grew; polled orders that never bring them age them out."""
    version: int = 0
    """Bumped whenever desired_qty changes; a push records the version it carried."""
    pushed_version: int = 0
    dirty: bool = True
    """The channel needs a push: it shows (or may show) something other than desired_qty."""
    pushed_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    lease_owner: str | None = Field(default=None, max_length=100)
    """The drainer pushing this listing now; only it may record the outcome."""
    lease_until: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    """After this the lease is void and another drainer may claim the listing."""
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    """Failed pushes in a row; zero again once the channel applies one."""
    next_attempt_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    """A listing backing off after a failure is not claimed before this."""
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    state: str = Field(
        default="unverified",
        sa_column=Column(String(20), nullable=False, server_default="unverified"),
    )
    """``unverified``: what the channel holds under ``external_id`` has not been checked yet (it
    is, before the first push); ``active``: the channel holds this SKU there; ``mismatched``: it
    holds another SKU, or nothing; ``refused``: the channel refused its pushes for good. Only
    unverified and active listings are pushed; a person clears the other two (a new external
    id, ``stocksync channel map --apply`` or ``stocksync listing retry``)."""
    channel_sku: str | None = Field(default=None, max_length=255)
    """The SKU the channel holds under ``external_id``, as the last identity check found it."""
    refusals: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    """Pushes in a row the channel refused (rejected, not failed): at
    ``stocksync.domain.listing_identity.MAX_REFUSALS`` the listing is ``refused``."""
    updated_at: datetime = _ts()


# A channel's order, keyed by the channel's own id.
class OrderRow(SQLModel, table=True):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("channel_id", "external_id", name="uq_orders_channel_external_id"),
    )

    id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    )
    channel_id: int = Field(foreign_key="channels.id")
    external_id: str = Field(max_length=100)
    status: str = Field(max_length=30)
    placed_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


# One line of an order: quantity = committed + short + cancelled + shipped, always.
class OrderLineRow(SQLModel, table=True):
    __tablename__ = "order_lines"
    __table_args__ = (
        CheckConstraint(
            "quantity = committed + short + cancelled + shipped",
            name="ck_order_lines_quantities_add_up",
        ),
    )

    order_id: int = Field(sa_column=Column(BigInteger, ForeignKey("orders.id"), primary_key=True))
    line_no: int = Field(primary_key=True)
    sku_id: int = Field(foreign_key="skus.id")
    external_line_id: str | None = Field(default=None, max_length=100)
    quantity: int
    committed: int = 0
    short: int = 0
    cancelled: int = 0
    shipped: int = 0
    returned: int = 0
    status: str = Field(max_length=30)


# Where one order line's units of one stocked SKU are: committed at a location now, shipped from
# it, and of those, returned (wherever they went back on hand). Written with the journal entries
# that move them; shipments, returns and routing point at these rows.
class LineAllocationRow(SQLModel, table=True):
    __tablename__ = "line_allocations"
    __table_args__ = (
        ForeignKeyConstraint(
            ["order_id", "line_no"], ["order_lines.order_id", "order_lines.line_no"]
        ),
        CheckConstraint("committed >= 0", name="ck_line_allocations_committed_nonnegative"),
        CheckConstraint(
            "returned >= 0 AND returned <= shipped", name="ck_line_allocations_returned_shipped"
        ),
    )

    order_id: int = Field(sa_column=Column(BigInteger, primary_key=True))
    line_no: int = Field(primary_key=True)
    sku_id: int = Field(foreign_key="skus.id", primary_key=True)
    location_id: int = Field(foreign_key="locations.id", primary_key=True)
    committed: int = 0
    shipped: int = 0
    returned: int = 0


# Raw channel events as received, unique on the channel's event id; kept for audit and replay.
class InboxEventRow(SQLModel, table=True):
    __tablename__ = "inbox_events"
    __table_args__ = (
        UniqueConstraint("channel_id", "event_id", name="uq_inbox_events_channel_event"),
    )

    id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    )
    channel_id: int = Field(foreign_key="channels.id")
    event_id: str = Field(max_length=200)
    topic: str = Field(default="", max_length=100)
    headers: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    status: str = Field(default="received", max_length=20)
    error: str | None = Field(default=None, sa_column=Column(Text))
    received_at: datetime = _ts()
    processed_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))  # type: ignore[call-overload]


# One row: a counter bumped by every change to channels, SKUs or bundles, so that long-lived
# processes know when their cached copy of that configuration is stale.
class LedgerStateRow(SQLModel, table=True):
    __tablename__ = "ledger_state"

    id: int = Field(default=1, primary_key=True)
    config_epoch: int = Field(
        default=0, sa_column=Column(BigInteger, nullable=False, server_default="0")
    )


# The last time each alert went out (``low:<sku>``, ``oversold:<order id>:<line>``), for cooldowns
# and so that one oversold line is reported once however many processes look at it.
class AlertSentRow(SQLModel, table=True):
    __tablename__ = "alerts_sent"

    key: str = Field(max_length=300, primary_key=True)
    sent_at: datetime = _ts()


# Where order polling stands with each channel: the channel's own cursor (a time or a token),
# stored only after every order it covers is in the ledger.
class ChannelCursorRow(SQLModel, table=True):
    __tablename__ = "channel_cursors"

    channel_id: int = Field(foreign_key="channels.id", primary_key=True)
    cursor: str | None = Field(default=None, sa_column=Column(Text))
    polled_at: datetime = _ts()


# How long one push batch took to show on its channel: claim to applied, or to a read-back that
# saw the quantity (read_back) on a channel that applies writes late. stocksync.ledger.sync_lag
# reads the newest, and prunes old ones.
class PushTimingRow(SQLModel, table=True):
    __tablename__ = "push_timings"
    __table_args__ = (Index("ix_push_timings_channel_at", "channel_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    channel_id: int = Field(foreign_key="channels.id")
    seconds: float
    read_back: bool = False
    at: datetime = _ts()
