"""``stock explain``: the rules' steps for every listing end on the quantity the ledger stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy import func, select
from typer.testing import CliRunner

import stocksync.cli.explain as explain_cli
import stocksync.cli.output as output
from stocksync.cli import app
from stocksync.domain.clock import utcnow
from stocksync.domain.explain import Bundle, Guard, Pool, Share
from stocksync.ledger.explain import ListingExplanation, explain_stock
from stocksync.ledger.results import LineIn
from stocksync.ledger.service import Ledger
from stocksync.ledger.tables import ListingRow, SkuRow
from stocksync.settings import get_settings
from tests.factories import add_channels, add_locations, channel, load_catalog

CATALOG = Path(__file__).resolve().parents[2] / "stocksync" / "samples" / "catalog.csv"

runner = CliRunner()


def sample_shop(ledger: Ledger) -> None:
    """The sample catalog on three channels: amazon-eu with a buffer, a share, only berlin-dc and
    a guard grown by the sales rate; woo-site with a zero-out threshold and a maximum."""
    add_locations(ledger, "berlin-dc", "leeds-3pl")
    add_channels(
        ledger,
        channel("shopify-main", "shopify", 30, last_units=2),
        channel(
            "amazon-eu", "amazon", 20, ("berlin-dc",), buffer=1, share_pct=80, last_units=2,
            last_seconds=60,
        ),
        channel("woo-site", "woocommerce", 10, zero_below=3, max_listed=25, last_units=2),
    )  # fmt: skip
    load_catalog(ledger, CATALOG.read_text())


def sell(ledger: Ledger) -> None:
    """A gift set, a rush of coasters (12 units within 10 s: at least 1.2/s, so amazon-eu's guard
    covers 72 units, more than its pool) and an oversold tray."""
    ledger.record_order("shopify-main", "1001", [LineIn("MUG-GIFT-SET", 1)])
    for n in range(5):
        ledger.record_order("woo-site", f"rush-{n}", [LineIn("OAK-COASTER", 2)])
    ledger.record_order("amazon-eu", "114-1", [LineIn("SLATE-TRAY-L", 12)])


def every_explanation(ledger: Ledger) -> list[ListingExplanation]:
    now = utcnow()  # the rates as of just after the last order, when the listings were stored
    skus = ledger.run(lambda s: list(s.execute(select(SkuRow.sku)).scalars()))
    return [e for sku in skus for e in ledger.run(lambda s, k=sku: explain_stock(s, k, now=now))]


def test_every_listing_of_the_sample_catalog_explains_its_stored_desired_quantity(
    ledger: Ledger,
) -> None:
    sample_shop(ledger)
    sell(ledger)
    assert ledger.verify() == []

    explained = every_explanation(ledger)

    listings = ledger.run(
        lambda s: s.execute(select(func.count()).select_from(ListingRow)).scalar()
    )
    assert len(explained) == listings == 17
    assert [(e.channel, e.sku, e.qty) for e in explained if e.qty != e.desired_qty] == []
    assert all(e.matches for e in explained)


def test_the_steps_name_the_rules_that_set_each_number(ledger: Ledger) -> None:
    sample_shop(ledger)
    sell(ledger)
    by = {(e.channel, e.sku): e for e in every_explanation(ledger)}

    # every order took its coasters from berlin-dc, the first location: 48 - 2 - 10 left there
    coasters = by[("amazon-eu", "OAK-COASTER")].explanation.steps
    assert coasters[1] == Pool("OAK-COASTER", ("berlin-dc",), 36)
    assert Share(80, 35, 28) in coasters
    guard = coasters[-1]
    assert isinstance(guard, Guard)
    assert guard.hidden and guard.ahead == "shopify-main" and guard.threshold >= 72
    assert by[("amazon-eu", "OAK-COASTER")].qty == 0
    assert by[("shopify-main", "OAK-COASTER")].qty == 52  # over both locations
    assert by[("woo-site", "OAK-COASTER")].qty == 25  # its maximum

    gift = by[("shopify-main", "MUG-GIFT-SET")].explanation.steps
    bundle = next(step for step in gift if isinstance(step, Bundle))
    assert [(p.sku, p.per_bundle, p.pool) for p in bundle.parts] == [
        ("TEAL-MUG-350ML", 1, 2),
        ("OAK-COASTER", 2, 52),
    ]
    assert by[("shopify-main", "MUG-GIFT-SET")].qty == 2

    trays = by[("woo-site", "SLATE-TRAY-L")]
    assert trays.explanation.steps[-2].rule == "zero-out" and trays.qty == 0


# --- the command ---------------------------------------------------------------------------------


@pytest.fixture
def cli(ledger: Ledger, database_url: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The command on the test's ledger, printing at 80 columns."""
    monkeypatch.setenv("STOCKSYNC_DATABASE_URL", database_url)
    get_settings.cache_clear()
    narrow = Console(width=80)
    monkeypatch.setattr(output, "console", narrow)
    monkeypatch.setattr(explain_cli, "console", narrow)
    sample_shop(ledger)
    sell(ledger)

    def invoke(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, list(args))
        assert result.exit_code == code, result.output
        return result.output

    return invoke


def test_the_command_explains_each_listing_readably_at_80_columns(cli) -> None:  # type: ignore[no-untyped-def]
    out = cli("stock", "explain", "MUG-GIFT-SET")

    assert "…" not in out
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "MUG-GIFT-SET on amazon-eu (B0GIFTSET1): the rules give 0" in out
    assert "│ bundle           │ whole sets the scarcest component allows:" in out
    assert "│ last-units guard │ last 2 units: pool 2 is down to them; this" in out
    assert "ledger: desired 2, pushed -, expected -, unheard 0, state unverified, dirty" in out


def test_the_command_prints_one_json_document_for_one_channel(cli) -> None:  # type: ignore[no-untyped-def]
    [doc] = json.loads(cli("stock", "explain", "OAK-COASTER", "--channel", "amazon-eu", "--json"))

    assert (doc["channel"], doc["qty"], doc["matches_ledger"]) == ("amazon-eu", 0, True)
    assert doc["ledger"]["desired_qty"] == 0
    rules = [step["rule"] for step in doc["steps"]]
    assert rules == ["available", "pool", "buffer", "share", "last-units guard"]
    assert doc["steps"][-1]["ahead"] == "shopify-main"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["NO-SUCH-SKU"], "error: unknown sku: 'NO-SUCH-SKU'"),
        (["TEAL-MUG-350ML", "--channel", "ebay-de"], "error: unknown channel: 'ebay-de'"),
        (
            ["CERAMIC-VASE-SAND", "--channel", "amazon-eu"],
            "error: CERAMIC-VASE-SAND has no listing on channel 'amazon-eu'",
        ),
    ],
)
def test_the_command_refuses_an_unknown_sku_or_channel_in_one_line(cli, args, message) -> None:  # type: ignore[no-untyped-def]
    out = cli("stock", "explain", *args, code=2)

    assert out.strip() == message
