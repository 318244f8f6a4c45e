"""What one drain did, per channel, in plain data a flow can turn into a table artifact."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = ["HELD", "ChannelReport", "DrainReport", "Outcome", "PushRecord"]


class Outcome(StrEnum):
    PUSHED = "pushed"
    CONFLICT = "conflict"
    RETRY = "retry"
    REJECTED = "rejected"
    LOST_LEASE = "lost_lease"
    """The lease ran out and another drainer took the listing; nothing was recorded."""
    MISMATCHED = "mismatched"
    """The channel holds another SKU (or nothing) under the listing's id: nothing was pushed,
    and nothing will be until a person gives the listing a right id."""
    REFUSED = "refused"
    """The channel refused the listing's pushes once too often: held back until a person acts."""


HELD = (Outcome.MISMATCHED, Outcome.REFUSED)


@dataclass(frozen=True, slots=True)
class PushRecord:
    channel: str
    listing_id: int
    external_id: str
    sku: str
    version: int
    quantity: int
    outcome: Outcome
    message: str = ""
    retry_in_s: float | None = None


@dataclass
class ChannelReport:
    channel: str
    records: list[PushRecord] = field(default_factory=list)
    error: str | None = None
    """Why the channel stopped early (down, credentials refused, a bug), if it did."""

    def of(self, outcome: Outcome) -> list[PushRecord]:
        return [r for r in self.records if r.outcome is outcome]

    @property
    def pushed(self) -> list[PushRecord]:
        return self.of(Outcome.PUSHED)

    @property
    def conflicts(self) -> list[PushRecord]:
        return self.of(Outcome.CONFLICT)

    @property
    def retries(self) -> list[PushRecord]:
        return self.of(Outcome.RETRY)

    @property
    def rejected(self) -> list[PushRecord]:
        return self.of(Outcome.REJECTED)

    @property
    def held(self) -> list[PushRecord]:
        """Listings this drain held back for a person (mismatched, refused for good)."""
        return [r for r in self.records if r.outcome in HELD]


@dataclass
class DrainReport:
    worker_id: str
    channels: dict[str, ChannelReport] = field(default_factory=dict)

    def channel(self, name: str) -> ChannelReport:
        return self.channels.setdefault(name, ChannelReport(name))

    def counts(self) -> dict[str, dict[str, int]]:
        """Channel → outcome → how many, every outcome listed."""
        return {
            name: {o.value: len(rep.of(o)) for o in Outcome} for name, rep in self.channels.items()
        }

    def held(self) -> list[PushRecord]:
        """Every listing this drain held back for a person, on any channel."""
        return [r for rep in self.channels.values() for r in rep.held]

    def rows(self) -> list[dict[str, Any]]:
        """One plain dict per push outcome (a table artifact's rows)."""
        return [
            {
                "channel": r.channel,
                "sku": r.sku,
                "external_id": r.external_id,
                "version": r.version,
                "quantity": r.quantity,
                "outcome": r.outcome.value,
                "message": r.message,
                "retry_in_s": r.retry_in_s,
            }  # fmt: skip
            for rep in self.channels.values()
            for r in rep.records
        ]
