"""Locations and channels: the slow-changing set-up the operations read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from stocksync.domain.errors import InvalidRequestError
from stocksync.domain.model import ChannelKind, ChannelPolicy, LocationKind
from stocksync.ledger.config_cache import bump_epoch, channel_policy
from stocksync.ledger.listings import refresh_listings
from stocksync.ledger.lookups import location_id
from stocksync.ledger.tables import ChannelLocationRow, ChannelRow, ListingRow, LocationRow

__all__ = [
    "ChannelInfo",
    "LocationInfo",
    "add_channel",
    "add_location",
    "list_channels",
    "list_locations",
]


@dataclass(frozen=True, slots=True)
class LocationInfo:
    name: str
    kind: str
    country: str | None = None
    region: str | None = None
    latitude: float | None = None
    longitude: float | None = None


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    name: str
    kind: str
    priority: int = 0
    policy: ChannelPolicy = field(default_factory=ChannelPolicy)
    locations: tuple[str, ...] = ()
    """Names of the locations that feed the channel; empty means all of them."""

    def to_dict(self) -> dict[str, Any]:
        p = self.policy
        return {
            "name": self.name,
            "kind": self.kind,
            "priority": self.priority,
            "buffer": p.buffer,
            "max_listed": p.max_listed,
            "share_pct": p.share_pct,
            "zero_below": p.zero_below,
            "last_units": p.last_units,
            "last_seconds": p.last_seconds,
            "measured_guard": p.measured_guard,
            "guard_max": p.guard_max,
            "locations": list(self.locations) or "all",
        }


def add_location(session: Session, info: LocationInfo) -> int:
    """Create a location; its name must be new."""
    kind = _enum(LocationKind, info.kind, "location kind")
    if (info.latitude is None) != (info.longitude is None):
        raise InvalidRequestError("give both --lat and --lon, or neither")
    if info.country is not None and len(info.country) != 2:
        raise InvalidRequestError("country must be a two-letter ISO code")
    row = LocationRow(
        name=info.name,
        kind=kind,
        country=info.country.upper() if info.country else None,
        region=info.region,
        latitude=info.latitude,
        longitude=info.longitude,
    )
    return _insert(session, row, f"location {info.name!r} already exists")


def list_locations(session: Session) -> list[LocationInfo]:
    rows = session.execute(select(LocationRow).order_by(LocationRow.name)).scalars()
    return [
        LocationInfo(r.name, r.kind, r.country, r.region, r.latitude, r.longitude) for r in rows
    ]


def add_channel(session: Session, info: ChannelInfo) -> int:
    """Create a channel fed by ``info.locations`` (all locations when empty)."""
    kind = _enum(ChannelKind, info.kind, "channel kind")
    p = info.policy
    row = ChannelRow(
        name=info.name,
        kind=kind,
        priority=info.priority,
        buffer=p.buffer,
        max_listed=p.max_listed,
        share_pct=p.share_pct,
        zero_below=p.zero_below,
        last_units=p.last_units,
        last_seconds=p.last_seconds,
        measured_guard=p.measured_guard,
        guard_max=p.guard_max,
    )
    channel_id = _insert(session, row, f"channel {info.name!r} already exists")
    for name in dict.fromkeys(info.locations):
        session.add(
            ChannelLocationRow(channel_id=channel_id, location_id=location_id(session, name))
        )
    session.flush()
    bump_epoch(session)
    return channel_id


def list_channels(session: Session) -> list[ChannelInfo]:
    feeds: dict[int, list[str]] = {}
    for ch, name in session.execute(
        select(ChannelLocationRow.channel_id, LocationRow.name)
        .join(LocationRow, LocationRow.id == ChannelLocationRow.location_id)
        .order_by(LocationRow.name)
    ):
        feeds.setdefault(ch, []).append(name)
    rows = session.execute(select(ChannelRow).order_by(ChannelRow.priority.desc(), ChannelRow.name))
    return [
        ChannelInfo(
            r.name,
            r.kind,
            r.priority,
            channel_policy(r),
            tuple(feeds.get(r.id, ())),
        )
        for r in rows.scalars()
    ]


def refresh_channel(session: Session, channel_id: int) -> None:
    """Recompute every listing of the SKUs the channel lists (its rules affect the guard of others)."""
    skus = session.execute(
        select(ListingRow.sku_id).where(ListingRow.channel_id == channel_id)
    ).scalars()
    refresh_listings(session, set(skus))


def _enum(enum: Any, value: str, what: str) -> str:
    try:
        return str(enum(value).value)
    except ValueError:
        allowed = ", ".join(e.value for e in enum)
        raise InvalidRequestError(f"unknown {what} {value!r}; one of: {allowed}") from None


def _insert(session: Session, row: Any, duplicate_message: str) -> int:
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        raise InvalidRequestError(duplicate_message) from None
    return int(row.id)
