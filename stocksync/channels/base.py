"""The one interface the rest of stocksync uses to talk to any sales channel.

A connector pushes quantities (with compare-and-set where the channel has it), reads them back,
lists orders changed since a cursor, verifies and parses inbound webhooks, and creates
fulfillments and refunds. Every value crossing this boundary is one of the frozen types below;
every failure is one of the errors in ``stocksync.channels.errors``. What channels tell
the ledger (orders, events, counts) is in ``stocksync.domain.messages``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable

from stocksync.domain.messages import ChannelOrder, ChannelQuantity, InboundEvent

__all__ = [
    "ChannelConnector",
    "Fulfillment",
    "ListingIdentity",
    "OrderPage",
    "PushResult",
    "PushStatus",
    "QuantityPush",
    "Refund",
]


class PushStatus(StrEnum):
    APPLIED = "applied"
    """The channel took the quantity (for Amazon: accepted; it goes live minutes later)."""
    CONFLICT = "conflict"
    """Compare-and-set: the channel's count was not what we expected; nothing was written."""
    REJECTED = "rejected"
    """The channel refused this item (unknown listing, invalid value); see ``message``."""
    RETRY_LATER = "retry_later"
    """Not done now (throttled, the channel is down); push it again after ``retry_after``."""


@dataclass(frozen=True, slots=True)
class QuantityPush:
    """Set one listing to ``quantity``; ``expected`` is what we believe the channel shows now."""

    listing_id: str
    quantity: int
    expected: int | None = None
    refs: Mapping[str, str] = field(default_factory=dict)
    """The channel's other ids for the listing (Shopify inventory item and location, …)."""
    sku: str | None = None
    rebase: bool = True
    """Whether a stale count may rebase the push (:meth:`rebased`), or the push go as a delta
    from ``expected`` (which rebases it on whatever count it meets); False for a quantity a person
    asked for, which a conflict leaves unwritten, and after a failed attempt whose outcome is
    unknown, when ``expected`` is in doubt."""

    def rebased(self, seen: int) -> QuantityPush | None:
        """This push against the channel's fresh count ``seen``, when a compare-and-set found it.

        Fewer units than ``expected`` are sales the ledger has not heard of yet: the channel
        sold them, so they come off the quantity too and the push goes again at once against
        ``seen`` (what the drain would push next round, a round trip sooner). None when that
        reading does not hold: more units than expected (someone else's change, which the drain
        decides on), or more sold than the push would list.
        """
        if not self.rebase or self.expected is None or seen >= self.expected:
            return None
        quantity = self.quantity - (self.expected - seen)
        if quantity < 0:
            return None
        return QuantityPush(self.listing_id, quantity, seen, self.refs, self.sku)


@dataclass(frozen=True, slots=True)
class PushResult:
    listing_id: str
    status: PushStatus
    quantity_seen: int | None = None
    """The channel's count when it reported one (always on a conflict)."""
    message: str = ""
    retry_after: float | None = None
    applied_quantity: int | None = None
    """APPLIED after the push was rebased (:meth:`QuantityPush.rebased`) on ``quantity_seen``:
    the quantity the channel now shows instead of the one asked for."""
    written: bool = False
    """A CONFLICT whose push changed the channel's count all the same (a delta that met more
    than expected): ``quantity_seen`` is the count it left, and what we expect is in doubt."""


@dataclass(frozen=True, slots=True)
class ListingIdentity:
    """What the channel holds under one listing id: checked before the first push to it, so a
    wrong id in a catalog never moves another product's stock."""

    listing_id: str
    found: bool
    """The channel has a listing under this id (for Shopify: the inventory item is stocked at
    the location the push would set)."""
    sku: str | None = None
    """The channel's own SKU for it, when the channel keeps one apart from the id; None when it
    shows none (Amazon: the listing id is the seller SKU itself, so there is nothing to compare)."""
    problem: str = ""
    """Why the id cannot take our pushes, in the channel's terms ("no product 101", "not stocked
    at gid://shopify/Location/2"); empty when found."""


@dataclass(frozen=True, slots=True)
class OrderPage:
    orders: tuple[ChannelOrder, ...]
    cursor: str | None
    """Where the next call should start (store it once these orders are in the ledger)."""
    more: bool = False


@dataclass(frozen=True, slots=True)
class Fulfillment:
    order_id: str
    lines: Mapping[str, int]
    """External line id → units shipped."""
    carrier: str
    tracking_number: str
    tracking_url: str | None = None


@dataclass(frozen=True, slots=True)
class Refund:
    order_id: str
    lines: Mapping[str, int]
    """External line id → units refunded."""
    restock: bool
    reason: str = ""
    key: str | None = None
    """Idempotency key (e.g. the RMA id): the same key twice refunds once, where the channel can."""


@runtime_checkable
class ChannelConnector(Protocol):
    """A sales channel, whatever its API. Implementations translate errors at the edge."""

    name: str
    compare_and_set: bool
    """Whether push_quantities honours ``expected`` (Shopify) or overwrites (last write wins)."""
    max_batch: int
    """The most quantities one call to the channel carries; push_quantities splits larger sets.
    A connector may also define ``batch_size(backlog: int) -> int``: how many of that many due
    pushes the drain should hand it at once (Amazon: the patches its bucket holds now, or a
    feed), and ``await_capacity(max_wait_s: float) -> None``: wait until a push could go out
    without pacing, called before the drain claims (so claims carry the newest quantities).
    A connector whose channel applies writes later than it answers (Amazon's listings) sets
    ``applies_late = True``: the drain then reads pushed quantities back to time when they show
    (``stocksync.sync.shown_probe``)."""

    def push_quantities(self, pushes: Sequence[QuantityPush]) -> list[PushResult]: ...

    def read_quantities(
        self, listing_ids: Sequence[str] | None = None
    ) -> list[ChannelQuantity]: ...

    def identify(self, listings: Sequence[tuple[str, Mapping[str, str]]]) -> list[ListingIdentity]:
        """What the channel holds under each (listing id, refs), one result per listing in the
        same order; a listing the channel does not have is ``found=False``, never an error."""
        ...

    def orders_since(self, cursor: str | None) -> OrderPage: ...

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[InboundEvent]:
        """Verify the signature on the raw body (SignatureError before any parsing), then parse."""
        ...

    def create_fulfillment(self, fulfillment: Fulfillment) -> str: ...

    def create_refund(self, refund: Refund) -> str: ...

    def close(self) -> None: ...
