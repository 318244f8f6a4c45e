"""The Alembic migrations build exactly the schema the tables declare, and fill what they add."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from stocksync.ledger.migrate import alembic_config, upgrade
from stocksync.ledger.results import LineIn
from stocksync.ledger.service import Ledger
from stocksync.ledger.tables import metadata
from tests.factories import add_locations, load_catalog, shop_with
from tests.integration.test_line_allocations import GIFT_SET, allocations


def test_migrating_to_head_gives_the_declared_schema(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn)
        diff = compare_metadata(context, metadata)
        conn.rollback()

    assert diff == []


def test_a_ledger_at_0008_gets_allocations_equal_to_its_journal(
    ledger: Ledger, engine: Engine
) -> None:
    """Orders, partial cancels, shipments, returns (one to another location) and a count: the
    rows 0009 fills from the journal are the ones the operations wrote themselves."""
    shop_with(ledger, {"TEAL-MUG-350ML": {"berlin": 3, "leeds": 4}, "OAK-COASTER": {"berlin": 2, "leeds": 2}})  # fmt: skip
    load_catalog(ledger, GIFT_SET)
    add_locations(ledger, "munich")
    ledger.record_order(
        "shopify-main", "1001", [LineIn("TEAL-MUG-350ML", 5), LineIn("MUG-GIFT-SET", 3)]
    )
    ledger.record_order("woo-site", "727", [LineIn("TEAL-MUG-350ML", 2)])
    ledger.cancel_order("shopify-main", "1001", quantities={"MUG-GIFT-SET": 2}, key="evt-1")
    ledger.ship_order("shopify-main", "1001", quantities={"TEAL-MUG-350ML": 4}, key="ship-1")
    ledger.restock_return("shopify-main", "1001", "TEAL-MUG-350ML", 1, key="rma-1", location="munich")  # fmt: skip
    ledger.restock_return("shopify-main", "1001", "TEAL-MUG-350ML", 2, key="rma-2")
    ledger.set_stock("TEAL-MUG-350ML", 0, "berlin")
    ledger.cancel_order("woo-site", "727")
    written = allocations(ledger)
    assert any(returned for _, _, returned in written.values())

    _downgrade(engine, "0008")
    try:
        assert "line_allocations" not in inspect(engine).get_table_names()
        upgrade(engine, "0009")
        assert allocations(ledger) == written
    finally:
        upgrade(engine)
    assert ledger.verify() == []


def _downgrade(engine: Engine, revision: str) -> None:
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)
