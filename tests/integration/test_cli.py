"""The ``stocksync`` command end to end, on both backends, through typer's runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stocksync.cli import app
from stocksync.settings import get_settings

runner = CliRunner()


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("STOCKSYNC_DATABASE_URL", database_url)
    get_settings.cache_clear()

    def invoke(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, list(args))
        assert result.exit_code == code, result.output
        return result.output

    return invoke


def test_a_seller_sets_up_a_shop_and_records_orders(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cli("db", "upgrade")
    cli("location", "add", "berlin-dc", "--country", "de", "--lat", "52.52", "--lon", "13.40")
    cli(
        "channel",
        "add",
        "shopify-main",
        "--kind",
        "shopify",
        "--priority",
        "30",
        "--last-units",
        "1",
    )
    cli(
        "channel",
        "add",
        "amazon-eu",
        "--kind",
        "amazon",
        "--priority",
        "20",
        "--buffer",
        "1",
        "--locations",
        "berlin-dc",
    )
    catalog = tmp_path / "catalog.csv"
    catalog.write_text(
        "sku,location,on_hand,title,listing:shopify-main,listing:amazon-eu\n"
        "TEAL-MUG-350ML,berlin-dc,3,Teal mug,gid-1,B0MUG\n"
    )
    assert "imported 1 SKUs" in cli("catalog", "import", str(catalog))

    first = json.loads(
        cli(
            "order",
            "record",
            "--channel",
            "amazon-eu",
            "--order-id",
            "114-1",
            "TEAL-MUG-350ML=2",
            "--json",
        )
    )
    again = json.loads(
        cli(
            "order",
            "record",
            "--channel",
            "amazon-eu",
            "--order-id",
            "114-1",
            "TEAL-MUG-350ML=2",
            "--json",
        )
    )
    short = json.loads(
        cli(
            "order",
            "record",
            "--channel",
            "shopify-main",
            "--order-id",
            "1001",
            "TEAL-MUG-350ML=2",
            "--json",
        )
    )

    assert (first["status"], again["status"], short["status"]) == (
        "committed",
        "duplicate",
        "partially_oversold",
    )
    assert short["lines"][0]["committed"] == 1 and short["lines"][0]["short"] == 1
    [mug] = json.loads(cli("stock", "show", "TEAL-MUG-350ML", "--json"))
    assert mug["locations"] == [
        {"location": "berlin-dc", "on_hand": 3, "committed": 3, "available": 0}
    ]
    assert {li["channel"]: li["desired"] for li in mug["listings"]} == {
        "amazon-eu": 0,
        "shopify-main": 0,
    }
    assert json.loads(cli("ledger", "verify", "--json")) == {"ok": True, "mismatches": []}

    cancelled = json.loads(
        cli("order", "cancel", "--channel", "amazon-eu", "--order-id", "114-1", "--json")
    )
    assert cancelled["status"] == "cancelled"
    shown = json.loads(
        cli("order", "show", "--channel", "amazon-eu", "--order-id", "114-1", "--json")
    )
    assert shown["lines"][0]["cancelled"] == 2
    [mug] = json.loads(cli("stock", "show", "--json"))
    assert {li["channel"]: li["desired"] for li in mug["listings"]} == {
        "amazon-eu": 1,
        "shopify-main": 2,
    }

    received = json.loads(
        cli(
            "stock",
            "receive",
            "TEAL-MUG-350ML",
            "5",
            "--location",
            "berlin-dc",
            "--key",
            "po-1",
            "--json",
        )
    )
    assert (received["on_hand"], received["available"]) == (8, 7)
    counted = json.loads(
        cli(
            "stock",
            "set",
            "TEAL-MUG-350ML",
            "6",
            "--location",
            "berlin-dc",
            "--reason",
            "cycle_count",
            "--json",
        )
    )
    assert counted["on_hand"] == 6

    exported = tmp_path / "out.csv"
    cli("catalog", "export", str(exported))
    assert exported.read_text().splitlines()[1].startswith("TEAL-MUG-350ML,berlin-dc,6,Teal mug")
    channels = json.loads(cli("channel", "list", "--json"))
    assert [c["name"] for c in channels] == ["shopify-main", "amazon-eu"]
    assert channels[1]["locations"] == ["berlin-dc"] and channels[0]["locations"] == "all"
    [loc] = json.loads(cli("location", "list", "--json"))
    assert (loc["country"], loc["latitude"]) == ("DE", 52.52)


def test_errors_are_messages_with_a_nonzero_exit(cli) -> None:  # type: ignore[no-untyped-def]
    cli("db", "upgrade")
    assert "unknown channel" in cli(
        "order", "record", "--channel", "nope", "--order-id", "1", "A=1", code=2
    )
    assert "not SKU=QTY" in cli(
        "order", "record", "--channel", "nope", "--order-id", "1", "A", code=2
    )
    assert "unknown channel kind" in cli("channel", "add", "ebay", "--kind", "ebay", code=2)
    assert "share_pct" in cli("channel", "add", "x", "--kind", "custom", "--share", "140", code=2)
    cli("location", "add", "berlin-dc")
    assert "already exists" in cli("location", "add", "berlin-dc", code=2)


def test_verify_exits_one_and_lists_each_mismatch(cli, engine) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    cli("db", "upgrade")
    cli("channel", "add", "woo-site", "--kind", "woocommerce")
    cli("stock", "receive", "X", "1", "--location", "berlin-dc", code=2)  # unknown SKU
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO locations (name, kind, created_at) VALUES ('berlin-dc', 'warehouse', CURRENT_TIMESTAMP)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO skus (sku, title, reorder_point, lead_time_days, is_bundle, created_at) "
                "VALUES ('TEAL-MUG-350ML', '', 0, 0, false, CURRENT_TIMESTAMP)"
            )
        )
    cli("stock", "receive", "TEAL-MUG-350ML", "4", "--location", "berlin-dc")
    with engine.begin() as conn:
        conn.execute(text("UPDATE stock SET committed = 1"))

    doc = json.loads(cli("ledger", "verify", "--json", code=1))

    assert doc["ok"] is False
    assert doc["mismatches"] == [
        {
            "kind": "stock",
            "subject": "TEAL-MUG-350ML@berlin-dc",
            "field": "committed",
            "expected": 0,
            "actual": 1,
        }
    ]


def test_a_command_on_a_database_without_schema_says_to_upgrade(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STOCKSYNC_DATABASE_URL", f"sqlite:///{tmp_path / 'new.db'}")
    get_settings.cache_clear()

    result = runner.invoke(app, ["stock", "show"])

    assert result.exit_code == 2
    assert "stocksync db upgrade" in result.output
