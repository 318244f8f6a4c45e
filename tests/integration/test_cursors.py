"""Order-polling cursors: none before the first poll, then moved forward per channel."""

from __future__ import annotations

import pytest

from stocksync.domain.errors import NotFoundError
from stocksync.ledger.cursors import read_cursor, save_cursor
from stocksync.ledger.service import Ledger
from tests.factories import add_channels


def test_a_cursor_starts_empty_and_moves_forward_per_channel(ledger: Ledger) -> None:
    add_channels(ledger, ("shopify-main", "shopify", 2), ("amazon-eu", "amazon", 1))
    assert ledger.run(lambda s: read_cursor(s, "amazon-eu")) is None

    ledger.run(lambda s: save_cursor(s, "amazon-eu", "2026-11-27T03:00:00Z"))
    ledger.run(lambda s: save_cursor(s, "amazon-eu", "2026-11-27T03:01:00Z"))
    ledger.run(lambda s: save_cursor(s, "shopify-main", "2026-11-27T02:00:00Z"))

    assert ledger.run(lambda s: read_cursor(s, "amazon-eu")) == "2026-11-27T03:01:00Z"
    assert ledger.run(lambda s: read_cursor(s, "shopify-main")) == "2026-11-27T02:00:00Z"


def test_an_unknown_channel_has_no_cursor(ledger: Ledger) -> None:
    with pytest.raises(NotFoundError, match="ebay-uk"):
        ledger.run(lambda s: read_cursor(s, "ebay-uk"))
