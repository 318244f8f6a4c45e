"""What a seller types at the ``stocksync`` command: bad quantities are one line and a non-zero
exit, negative numbers are read as typed, help offers what the command takes, and ``stock show``
reads at 80 columns. On both backends, through typer's runner."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import typer.main
from click.testing import Result
from sqlalchemy import update
from typer.testing import CliRunner

from stocksync.cli import app
from stocksync.domain.errors import InvalidRequestError
from stocksync.domain.model import MAX_QUANTITY, MovementReason
from stocksync.ledger.queries import stock_report
from stocksync.ledger.service import Ledger
from stocksync.ledger.tables import ListingRow
from stocksync.settings import get_settings
from tests.factories import add_channels, add_locations, load_catalog

runner = CliRunner()
TEAL = "TEAL-MUG-350ML"
CATALOG = (
    "sku,location,on_hand,title,components,listing:shopify-main,listing:amazon-eu,listing:woo-site\n"
    f"{TEAL},berlin-dc,5,Teal mug 350 ml,,gid://shopify/InventoryItem/43729076,B0TEALMUG1,1001\n"
    "OAK-COASTER,berlin-dc,48,Oak coaster,,gid://shopify/InventoryItem/43729077,B0OAKCOAS1,1002\n"
    "OAK-COASTER,leeds-3pl,12,,,,,\n"
    "MUG-GIFT-SET,,,Teal mug and two coasters,TEAL-MUG-350ML*1;OAK-COASTER*2,"
    "gid://shopify/InventoryItem/43729099,,\n"
)

Invoke = Callable[..., Result]


@pytest.fixture
def shop(ledger: Ledger, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Invoke]:
    """A shop with the sample SKUs on three channels, and the command pointed at its ledger."""
    add_locations(ledger, "berlin-dc", "leeds-3pl")
    add_channels(
        ledger,
        ("shopify-main", "shopify", 30),
        ("amazon-eu", "amazon", 20),
        ("woo-site", "woocommerce", 10),
    )
    load_catalog(ledger, CATALOG)
    monkeypatch.setenv("STOCKSYNC_DATABASE_URL", database_url)
    get_settings.cache_clear()

    def invoke(*args: str, code: int = 0) -> Result:
        result = runner.invoke(app, list(args))
        assert result.exit_code == code, result.output
        return result

    yield invoke


def one_error_line(result: Result) -> str:
    """The error a refused command printed: exactly one line, and no traceback."""
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: ")
    return line


def on_hand(ledger: Ledger, location: str = "berlin-dc") -> int:
    [teal] = ledger.run(lambda s: stock_report(s, [TEAL]))
    return next(loc.on_hand for loc in teal.locations if loc.location == location)


# --- order lines --------------------------------------------------------------------------------


@pytest.mark.parametrize("qty", ["0", "-1", str(MAX_QUANTITY + 1), str(2**40)])
def test_an_order_line_outside_one_to_the_limit_is_one_line_and_nothing_is_stored(
    shop: Invoke, qty: str
) -> None:
    refused = shop("order", "record", "-c", "shopify-main", "-o", "1001", f"{TEAL}={qty}", code=2)

    line = one_error_line(refused)
    assert "quantity" in line and "2,147,483,647" in line
    assert "unknown order" in one_error_line(
        shop("order", "show", "-c", "shopify-main", "-o", "1001", code=2)
    )


def test_an_order_line_at_the_limit_is_recorded(shop: Invoke) -> None:
    line = f"{TEAL}={MAX_QUANTITY}"
    doc = json.loads(shop("order", "record", "-c", "woo-site", "-o", "7", line, "--json").stdout)
    assert [(ln["quantity"], ln["committed"]) for ln in doc["lines"]] == [(MAX_QUANTITY, 5)]


# --- stock quantities ---------------------------------------------------------------------------


def test_a_receipt_too_large_for_the_ledger_is_one_line(shop: Invoke, ledger: Ledger) -> None:
    refused = shop("stock", "receive", TEAL, "99999999999", "-l", "berlin-dc", code=2)

    assert "units received must be 1 to 2,147,483,647" in one_error_line(refused)
    assert on_hand(ledger) == 5


def test_a_receipt_that_would_take_on_hand_past_the_limit_is_one_line(
    shop: Invoke, ledger: Ledger
) -> None:
    shop("stock", "receive", TEAL, str(MAX_QUANTITY - 5), "-l", "berlin-dc")

    refused = shop("stock", "receive", TEAL, "1", "-l", "berlin-dc", code=2)

    assert f"on hand of {TEAL} at berlin-dc" in one_error_line(refused)
    assert on_hand(ledger) == MAX_QUANTITY


def test_a_channel_buffer_too_large_for_the_ledger_is_one_line(shop: Invoke) -> None:
    refused = shop("channel", "add", "b2b-portal", "--kind", "custom", "--buffer", "99999999999",
                   code=2)  # fmt: skip

    assert "buffer must be 0 to 2,147,483,647" in one_error_line(refused)


def test_a_negative_adjustment_is_taken_as_typed(shop: Invoke, ledger: Ledger) -> None:
    shop("stock", "adjust", TEAL, "-3", "--location", "berlin-dc", "--note", "-2 dropped, 1 lost")
    shop("stock", "adjust", "--location", "berlin-dc", TEAL, "-1", "--key", "-7")
    done = json.loads(shop("stock", "adjust", TEAL, "-l", "berlin-dc", "--json", "--", "-1").stdout)

    assert done["on_hand"] == 0
    assert on_hand(ledger) == 0


@pytest.mark.parametrize(
    ("command", "message"),
    [("set", "a count must be 0 to"), ("receive", "units received must be 1 to")],
)
def test_set_and_receive_refuse_a_negative_with_their_own_message(
    shop: Invoke, ledger: Ledger, command: str, message: str
) -> None:
    refused = shop("stock", command, TEAL, "-3", "-l", "berlin-dc", code=2)

    assert message in one_error_line(refused)
    assert "No such option" not in refused.output
    assert on_hand(ledger) == 5


def test_an_unknown_option_is_still_refused_beside_a_negative_number(shop: Invoke) -> None:
    refused = shop("stock", "adjust", TEAL, "-3", "-l", "berlin-dc", "--locaton", "x", code=2)

    assert "No such option: --locaton" in refused.output
    assert "--location" in refused.output  # click's suggestion


# --- help ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["set", "adjust"])
def test_the_help_of_set_and_adjust_lists_exactly_the_reasons_they_accept(
    shop: Invoke, ledger: Ledger, command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    helped = shop("stock", command, "--help").stdout
    offered = {r for r in MovementReason if re.search(rf"\b{r.value}\b", helped)}

    accepted = set()
    for reason in MovementReason:
        try:
            ledger.set_stock(TEAL, 5, "berlin-dc", reason=reason)
        except InvalidRequestError:
            continue
        accepted.add(reason)

    assert (
        offered
        == accepted
        == {
            MovementReason.CYCLE_COUNT,
            MovementReason.ADJUSTMENT,
            MovementReason.RECONCILIATION,
        }
    )
    refused = shop("stock", command, TEAL, "1", "-l", "berlin-dc", "--reason", "receipt", code=2)
    assert "receipt" in refused.output


# --- stock show ---------------------------------------------------------------------------------


def test_stock_show_reads_at_80_columns_with_each_listings_state(
    shop: Invoke, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger.run(
        lambda s: s.execute(
            update(ListingRow)
            .where(ListingRow.external_id == "B0TEALMUG1")
            .values(state="mismatched", channel_sku="BLUE-MUG-500ML")
        )
    )
    ledger.run(
        lambda s: s.execute(
            update(ListingRow).where(ListingRow.external_id == "1001").values(state="active")
        )
    )
    monkeypatch.setenv("COLUMNS", "80")

    shown = shop("stock", "show").stdout

    assert "…" not in shown
    assert max(len(line) for line in shown.splitlines()) <= 80
    for text in (
        TEAL, "OAK-COASTER", "MUG-GIFT-SET", "berlin-dc", "leeds-3pl", "shopify-main",
        "amazon-eu", "woo-site", "B0TEALMUG1", "unverified", "active", "mismatched",
        "BLUE-MUG-500ML", "48", "12",
    ):  # fmt: skip
        assert text in shown, text
    assert re.search(r"berlin-dc\s+5\s+0\s+5\n", shown), shown  # on hand, committed, available
    assert re.search(r"leeds-3pl\s+12\s+0\s+12\n", shown), shown
    assert re.search(r"woo-site\s+1001\s+5\s+-\s+-\s+active", shown), shown  # desired 5


def test_stock_show_json_carries_each_listings_state_and_channel_sku(
    shop: Invoke, ledger: Ledger
) -> None:
    ledger.run(
        lambda s: s.execute(
            update(ListingRow)
            .where(ListingRow.external_id == "B0TEALMUG1")
            .values(state="mismatched", channel_sku="BLUE-MUG-500ML")
        )
    )

    [teal] = json.loads(shop("stock", "show", TEAL, "--json").stdout)

    states = {li["channel"]: (li["state"], li["channel_sku"]) for li in teal["listings"]}
    assert states == {
        "amazon-eu": ("mismatched", "BLUE-MUG-500ML"),
        "shopify-main": ("unverified", None),
        "woo-site": ("unverified", None),
    }


# --- --json -------------------------------------------------------------------------------------

READ_VERBS = {"show", "list", "read", "verify", "explain"}


def test_every_read_command_takes_json() -> None:
    """As the README says; the tree is walked, so a read command added later is held to it."""
    root: Any = typer.main.get_command(app)
    found = set()
    for group_name, group in root.commands.items():
        for name, command in getattr(group, "commands", {}).items():
            if name in READ_VERBS:
                found.add((group_name, name))
                opts = {o for p in command.params for o in getattr(p, "opts", ())}
                assert "--json" in opts, f"stocksync {group_name} {name} has no --json"
    assert found >= {("stock", "show"), ("order", "show"), ("ledger", "verify")}
