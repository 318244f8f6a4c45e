"""A long-lived process sees configuration changed by another process (another engine)."""

from __future__ import annotations

from sqlalchemy import Engine

from stocksync.ledger.db import make_engine
from stocksync.ledger.results import LineIn
from stocksync.ledger.service import Ledger
from tests.factories import add_channels, load_catalog, shop_with


def test_a_warm_process_sees_a_channel_and_a_bundle_added_elsewhere(
    ledger: Ledger, engine: Engine, database_url: str
) -> None:
    shop_with(ledger, {"TEAL-MUG-350ML": {"berlin": 6}, "OAK-COASTER": {"berlin": 10}})
    ledger.record_order("shopify-main", "1001", [LineIn("TEAL-MUG-350ML", 1)])  # warms the cache
    other_engine = make_engine(database_url)
    admin = Ledger(other_engine)
    try:
        add_channels(admin, ("ebay-de", "custom", 5))
        load_catalog(
            admin,
            "sku,location,on_hand,components,listing:ebay-de,listing:shopify-main\n"
            "MUG-GIFT-SET,,,TEAL-MUG-350ML*1;OAK-COASTER*2,e-1,gid-set\n",
        )
    finally:
        other_engine.dispose()

    first = ledger.record_order("ebay-de", "E-1", [LineIn("MUG-GIFT-SET", 2)])
    ledger.record_order("woo-site", "727", [LineIn("OAK-COASTER", 4)])

    assert (first.lines[0].committed, first.lines[0].short) == (2, 0)
    assert ledger.verify() == []  # the bundle's listings followed the coaster sale too
