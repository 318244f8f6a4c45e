"""A drainer waiting for work wakes when listings become dirty, not on a timer."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import Engine, text

from stocksync.domain.clock import utcnow
from stocksync.ledger.results import LineIn
from stocksync.ledger.service import Ledger
from stocksync.sync.wakeup import seconds_until_due, wait_for_dirty
from tests.factories import shop_with

MUG = "TEAL-MUG-350ML"


@pytest.fixture
def clean_shop(ledger: Ledger) -> Ledger:
    """Three channels listing the mug, every listing pushed and clean."""
    shop_with(ledger, {MUG: {"berlin": 20}})
    ledger.run(
        lambda s: s.execute(
            text(
                "UPDATE listings SET pushed_qty = desired_qty, expected_qty = desired_qty, "
                "pushed_version = version, dirty = false"
            )  # fmt: skip
        )
    )
    return ledger


def test_waiting_with_nothing_dirty_times_out(clean_shop: Ledger, engine: Engine) -> None:
    started = time.monotonic()
    assert wait_for_dirty(engine, 0.3) is False
    assert 0.25 < time.monotonic() - started < 2


def test_a_channel_nobody_drains_does_not_keep_a_drainer_awake(
    clean_shop: Ledger, engine: Engine
) -> None:
    amazon_only = (
        "UPDATE listings SET dirty = true "
        "WHERE channel_id = (SELECT id FROM channels WHERE name = 'amazon-eu')"
    )
    clean_shop.run(lambda s: s.execute(text(amazon_only)))

    assert wait_for_dirty(engine, 0.3, channels=["shopify-main", "woo-site"]) is False
    assert wait_for_dirty(engine, 0.3, channels=["amazon-eu"]) is True


def test_waiting_returns_at_once_when_a_listing_is_already_dirty(
    clean_shop: Ledger, engine: Engine
) -> None:
    clean_shop.record_order("amazon-eu", "114-1", [LineIn(MUG, 1)])
    started = time.monotonic()
    assert wait_for_dirty(engine, 30) is True
    assert time.monotonic() - started < 10  # far from the timeout: no waiting happened


def test_a_listing_backing_off_is_due_when_its_backoff_ends(
    clean_shop: Ledger, engine: Engine
) -> None:
    clean_shop.record_order("amazon-eu", "114-1", [LineIn(MUG, 1)])
    later = utcnow() + timedelta(seconds=30)
    clean_shop.run(
        lambda s: s.execute(text("UPDATE listings SET next_attempt_at = :t"), {"t": later})
    )
    with engine.connect() as conn:
        assert 25 < (seconds_until_due(conn) or 0) <= 30
        assert seconds_until_due(conn, later + timedelta(seconds=1)) == 0


CHANGES = {
    "order": lambda ledger: ledger.record_order("amazon-eu", "114-2", [LineIn(MUG, 1)]),
    "count": lambda ledger: ledger.set_stock(MUG, 12, "berlin"),
}


@pytest.mark.postgres
@pytest.mark.parametrize("change", sorted(CHANGES))
def test_a_change_wakes_a_waiting_drainer_long_before_its_timeout(
    clean_shop: Ledger, engine: Engine, change: str
) -> None:
    woke: list[tuple[bool, float]] = []
    waiter = threading.Thread(
        target=lambda: woke.append((wait_for_dirty(engine, 30), time.monotonic()))
    )
    waiter.start()
    time.sleep(0.5)  # the waiter is listening by now
    assert woke == []
    CHANGES[change](clean_shop)
    committed = time.monotonic()
    waiter.join(timeout=20)

    [(found, at)] = woke
    assert found is True
    assert at - committed < 10  # woken by the NOTIFY, not by the 30 s timeout
