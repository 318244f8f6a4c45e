"""``order list``: orders newest first, by channel, status and date, or the oversold ones."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from rich.console import Console
from typer.testing import CliRunner

import stocksync.cli.orders as orders_cli
import stocksync.cli.output as output
from stocksync.cli import app
from stocksync.domain.errors import InvalidRequestError, NotFoundError
from stocksync.domain.model import OrderStatus
from stocksync.ledger.order_list import ListedOrder, list_orders, order_status_named
from stocksync.ledger.results import LineIn
from stocksync.ledger.service import Ledger
from stocksync.settings import get_settings
from tests.factories import shop_with

runner = CliRunner()
AMAZON_ID = "114-3941689-8772232"


def may(day: int, hour: int = 9) -> datetime:
    return datetime(2024, 5, day, hour, tzinfo=UTC)


def shop_with_orders(ledger: Ledger) -> None:
    """Five orders, one of each status; the last one came without a placed time, so it is listed
    at the time the ledger recorded it: now, the newest."""
    shop_with(ledger, {"TEAL-MUG-350ML": {"berlin-dc": 3}, "OAK-COASTER": {"berlin-dc": 10}})
    mug, coaster = "TEAL-MUG-350ML", "OAK-COASTER"
    ledger.record_order("shopify-main", "1001", [LineIn(mug, 2)], placed_at=may(1))
    ledger.record_order(
        "amazon-eu", AMAZON_ID, [LineIn(mug, 2), LineIn(coaster, 1)], placed_at=may(2)
    )
    ledger.record_order("woo-site", "1002", [LineIn(coaster, 3)], placed_at=may(3))
    ledger.cancel_order("woo-site", "1002")
    ledger.record_order("amazon-eu", "114-2", [LineIn(mug, 1)], placed_at=may(4))
    ledger.record_order("shopify-main", "1003", [LineIn(coaster, 2)])
    ledger.ship_order("shopify-main", "1003")


def ids(orders: list[ListedOrder]) -> list[str]:
    return [o.external_id for o in orders]


def test_orders_are_listed_newest_first_with_their_units(ledger: Ledger) -> None:
    shop_with_orders(ledger)

    orders = ledger.run(lambda s: list_orders(s))

    assert ids(orders) == ["1003", "114-2", "1002", AMAZON_ID, "1001"]
    assert [o.status for o in orders] == [
        "shipped",
        "oversold",
        "cancelled",
        "partially_oversold",
        "committed",
    ]
    amazon = orders[3]
    assert (amazon.channel, amazon.placed_at, len(amazon.lines)) == ("amazon-eu", may(2), 2)
    doc = amazon.to_dict()
    assert {k: doc[k] for k in ("ordered", "committed", "short", "cancelled", "shipped")} == {
        "ordered": 3,
        "committed": 2,
        "short": 1,
        "cancelled": 0,
        "shipped": 0,
    }
    assert [(ln["sku"], ln["short"], ln["status"]) for ln in doc["lines"]] == [
        ("TEAL-MUG-350ML", 1, "oversold"),
        ("OAK-COASTER", 0, "committed"),
    ]
    assert orders[0].placed_at is None and orders[0].at == orders[0].created_at


def test_orders_are_filtered_by_channel_status_date_and_shortfall(ledger: Ledger) -> None:
    shop_with_orders(ledger)

    def listed(**kw) -> list[str]:  # type: ignore[no-untyped-def]
        return ids(ledger.run(lambda s: list_orders(s, **kw)))

    assert listed(channel="amazon-eu") == ["114-2", AMAZON_ID]
    assert listed(status=OrderStatus.CANCELLED) == ["1002"]
    assert listed(since=may(3)) == ["1003", "114-2", "1002"]
    assert listed(since=datetime(2024, 5, 3, 11, 0, tzinfo=UTC)) == ["1003", "114-2"]
    assert listed(oversold=True) == ["114-2", AMAZON_ID]
    assert listed(oversold=True, channel="shopify-main") == []
    assert listed(limit=2) == ["1003", "114-2"]


def test_an_unknown_channel_or_status_is_refused(ledger: Ledger) -> None:
    shop_with_orders(ledger)

    with pytest.raises(NotFoundError):
        ledger.run(lambda s: list_orders(s, channel="ebay-de"))
    with pytest.raises(InvalidRequestError, match="unknown order status: 'duplicate'"):
        order_status_named("duplicate")  # what a replayed call reports, never an order's status
    assert order_status_named("oversold") is OrderStatus.OVERSOLD


# --- the command ---------------------------------------------------------------------------------


@pytest.fixture
def cli(ledger: Ledger, database_url: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The command on the test's ledger, printing at 80 columns."""
    monkeypatch.setenv("STOCKSYNC_DATABASE_URL", database_url)
    get_settings.cache_clear()
    narrow = Console(width=80)
    monkeypatch.setattr(output, "console", narrow)
    monkeypatch.setattr(orders_cli, "console", narrow)
    shop_with_orders(ledger)

    def invoke(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, ["order", "list", *args])
        assert result.exit_code == code, result.output
        return result.output

    return invoke


def test_the_table_reads_at_80_columns_with_nothing_cut(cli) -> None:  # type: ignore[no-untyped-def]
    out = cli()

    assert "…" not in out
    assert max(len(line) for line in out.splitlines()) <= 80
    assert AMAZON_ID in out
    assert "partially" in out and "2024-05-02" in out
    assert "3 ordered" in out and "1 short" in out and "3 cancelled" in out


def test_the_json_is_one_document_of_orders_with_their_lines(cli) -> None:  # type: ignore[no-untyped-def]
    doc = json.loads(cli("--oversold", "--since", "2024-05-02", "--json"))

    assert [(o["channel"], o["order_id"], o["short"]) for o in doc] == [
        ("amazon-eu", "114-2", 1),
        ("amazon-eu", AMAZON_ID, 1),
    ]
    assert doc[1]["placed_at"] == "2024-05-02T09:00:00+00:00"
    assert doc[1]["line_count"] == len(doc[1]["lines"]) == 2


def test_filters_combine_on_the_command_line(cli) -> None:  # type: ignore[no-untyped-def]
    doc = json.loads(cli("--channel", "woo-site", "--status", "cancelled", "--json"))
    assert [o["order_id"] for o in doc] == ["1002"]
    assert json.loads(cli("--limit", "1", "--json"))[0]["order_id"] == "1003"
    assert "no orders match" in cli("--since", "2099-01-01T00:00+02:00")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--channel", "ebay-de"], "error: unknown channel: 'ebay-de'"),
        (["--status", "lost"], "error: unknown order status: 'lost'"),
        (["--since", "2024-13-01"], "error: --since '2024-13-01' is not a date like 2024-05-31"),
        (["--since", "last tuesday"], "error: --since 'last tuesday' is not a date like"),
        (["--limit", "0"], "error: limit must be at least 1"),
    ],
)
def test_a_bad_filter_is_refused_in_one_line(cli, args, message) -> None:  # type: ignore[no-untyped-def]
    out = cli(*args, code=2)

    assert out.startswith(message)
    assert len(out.strip().splitlines()) == 1
