"""The sync benchmark's sampler sees every order, even one committed after a higher id."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import insert, select

from stocksync.bench.sync_metrics import GapSampler
from stocksync.ledger.service import Ledger
from stocksync.ledger.tables import ChannelRow, OrderRow
from tests.factories import shop_with


@dataclass
class _Fleet:
    """What the sampler reads of a fleet: the ledger and what each channel shows."""

    ledger: Ledger
    emulators: dict[str, object] = field(default_factory=dict)

    def shown(self, channel: str, sku: str) -> int:
        return 0


def _order(ledger: Ledger, order_id: int, external_id: str) -> None:
    def write(session):  # type: ignore[no-untyped-def]
        channel_id = session.execute(
            select(ChannelRow.id).where(ChannelRow.name == "woo-site")
        ).scalar_one()
        session.execute(
            insert(OrderRow).values(
                id=order_id, channel_id=channel_id, external_id=external_id, status="committed"
            )
        )

    ledger.run(write)


def test_an_order_committed_after_a_higher_id_is_still_seen(ledger: Ledger) -> None:
    shop_with(ledger, {"FLASH-000": {"berlin": 5}})
    _order(ledger, 1, "before-the-sale")
    sampler = GapSampler(_Fleet(ledger), ["FLASH-000"])  # type: ignore[arg-type]
    sampler.mark_existing_seen()

    _order(ledger, 3, "committed-first")
    first = ledger.run(sampler._read_ledger)[0]
    _order(ledger, 2, "committed-second")
    second = ledger.run(sampler._read_ledger)[0]
    third = ledger.run(sampler._read_ledger)[0]

    assert first == [("woo-site", "committed-first")]
    assert second == [("woo-site", "committed-second")]
    assert third == []
