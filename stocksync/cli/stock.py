"""Commands that read and change stock, orders and the journal."""

from __future__ import annotations

import typer
from rich.markup import escape

from stocksync.cli.output import (
    JsonOpt,
    SignedNumbers,
    call,
    console,
    errors_to_exit,
    fail,
    ledger,
    narrow_table,
    print_json,
    table,
)
from stocksync.domain.listing_identity import ListingState
from stocksync.domain.model import MovementReason, OnHandReason, check_quantity
from stocksync.ledger.queries import ListingStock, SkuStock, stock_report
from stocksync.ledger.results import LineIn, OrderResult, StockResult

stock_app = typer.Typer(help="Stock per SKU and location.", no_args_is_help=True)
order_app = typer.Typer(help="Channel orders.", no_args_is_help=True)
ledger_app = typer.Typer(help="The journal itself.", no_args_is_help=True)

KeyOpt = typer.Option(None, "--key", help="Idempotency key; the same key twice has one effect.")
LocationOpt = typer.Option(..., "--location", "-l")


@stock_app.command("show")
def stock_show(skus: list[str] = typer.Argument(None), as_json: bool = JsonOpt) -> None:
    """Stock per location and, per channel listing, what it should show, what it was sent and
    what the channel is expected to show, with the listing's state."""
    report = call(stock_report, skus or [])
    if as_json:
        print_json([r.to_dict() for r in report])
        return
    if not report:
        console.print("no SKUs in the ledger")
    for n, r in enumerate(report):
        if n:
            console.print()
        _print_sku(r)


def _print_sku(r: SkuStock) -> None:
    """One SKU in two narrow tables (stock per location, listings), so 80 columns suffice."""
    head = f"[bold]{escape(r.sku)}[/bold] {escape(r.title)}".rstrip()
    console.print(f"{head} · {r.available} available")
    if r.components:
        recipe = " + ".join(f"{q} × {c}" for c, q in r.components.items())
        console.print(f"bundle of {escape(recipe)}")
    if r.locations:
        rows = [[x.location, x.on_hand, x.committed, x.available] for x in r.locations]
        numbers = ("on hand", "committed", "available")
        console.print(narrow_table(("location", *numbers), rows, numbers=numbers))
    if r.listings:
        rows = [[li.channel, li.external_id, li.desired, li.pushed, li.expected, _state(li)]
                for li in r.listings]  # fmt: skip
        numbers = ("desired", "pushed", "expected")
        console.print(
            narrow_table(("channel", "listing id", *numbers, "state"), rows, numbers=numbers)
        )


def _state(listing: ListingStock) -> str:
    if listing.state == ListingState.MISMATCHED and listing.channel_sku:
        return f"{listing.state}: holds {listing.channel_sku}"
    return listing.state


@stock_app.command("receive", cls=SignedNumbers)
def stock_receive(
    sku: str,
    qty: int,
    location: str = LocationOpt,
    key: str | None = KeyOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Add QTY received units at a location."""
    with errors_to_exit():
        _stock_out(ledger().receive(sku, qty, location, key=key), as_json)


@stock_app.command("set", cls=SignedNumbers)
def stock_set(
    sku: str,
    qty: int,
    location: str = LocationOpt,
    reason: OnHandReason = typer.Option(OnHandReason.CYCLE_COUNT, help="Why on hand changes."),
    key: str | None = KeyOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Set on hand at a location to QTY (a count); commitments above it are released and
    recorded short."""
    with errors_to_exit():
        result = ledger().set_stock(sku, qty, location, reason=MovementReason(reason), key=key)
        _stock_out(result, as_json)


@stock_app.command("adjust", cls=SignedNumbers)
def stock_adjust(
    sku: str,
    delta: int,
    location: str = LocationOpt,
    reason: OnHandReason = typer.Option(OnHandReason.ADJUSTMENT, help="Why on hand changes."),
    note: str = "",
    key: str | None = KeyOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Change on hand at a location by DELTA (negative for damage or loss: -3)."""
    with errors_to_exit():
        result = ledger().adjust(
            sku, delta, location, reason=MovementReason(reason), key=key, note=note
        )
        _stock_out(result, as_json)


def _stock_out(result: StockResult, as_json: bool) -> None:
    if as_json:
        print_json(result.to_dict())
        return
    what = "duplicate, nothing changed" if result.duplicate else "done"
    console.print(
        f"{result.sku} @ {result.location}: on_hand {result.on_hand}, committed {result.committed}, "
        f"available {result.available} ({what})"
    )


@order_app.command("record")
def order_record(
    lines: list[str] = typer.Argument(..., help="SKU=QTY for each line."),
    channel: str = typer.Option(..., "--channel", "-c"),
    order_id: str = typer.Option(..., "--order-id", "-o"),
    as_json: bool = JsonOpt,
) -> None:
    """Record a channel order: commit what is available, record the rest short."""
    with errors_to_exit():
        parsed = [_line(text) for text in lines]
        _order_out(ledger().record_order(channel, order_id, parsed), as_json)


def _line(text: str) -> LineIn:
    """``SKU=QTY`` as a line of 1 to MAX_QUANTITY units."""
    sku, eq, qty = text.rpartition("=")
    if not eq or not sku or not qty.strip().lstrip("-").isdigit():
        raise fail(f"{text!r} is not SKU=QTY")
    return LineIn(sku, check_quantity(f"{text!r}: the quantity", int(qty)))


@order_app.command("cancel")
def order_cancel(
    channel: str = typer.Option(..., "--channel", "-c"),
    order_id: str = typer.Option(..., "--order-id", "-o"),
    as_json: bool = JsonOpt,
) -> None:
    """Cancel an order and release what it holds."""
    with errors_to_exit():
        _order_out(ledger().cancel_order(channel, order_id), as_json)


@order_app.command("ship")
def order_ship(
    channel: str = typer.Option(..., "--channel", "-c"),
    order_id: str = typer.Option(..., "--order-id", "-o"),
    as_json: bool = JsonOpt,
) -> None:
    """Ship everything the order holds: on hand and committed go down together."""
    with errors_to_exit():
        _order_out(ledger().ship_order(channel, order_id), as_json)


@order_app.command("show")
def order_show(
    channel: str = typer.Option(..., "--channel", "-c"),
    order_id: str = typer.Option(..., "--order-id", "-o"),
    as_json: bool = JsonOpt,
) -> None:
    """Show an order and per line what is committed, short, cancelled and shipped."""
    with errors_to_exit():
        _order_out(ledger().order(channel, order_id), as_json)


def _order_out(result: OrderResult, as_json: bool) -> None:
    if as_json:
        print_json(result.to_dict())
        return
    table(
        f"Order {result.external_id} on {result.channel}: {result.reported_status}",
        ["line", "sku", "qty", "committed", "short", "cancelled", "shipped", "returned", "status"],
        [
            [
                ln.line_no,
                ln.sku,
                ln.quantity,
                ln.committed,
                ln.short,
                ln.cancelled,
                ln.shipped,
                ln.returned,
                ln.status.value,
            ]
            for ln in result.lines
        ],
    )


@ledger_app.command("verify")
def ledger_verify(as_json: bool = JsonOpt) -> None:
    """Recompute counters from the journal and listings from the rules; exit 1 on any mismatch."""
    with errors_to_exit():
        mismatches = ledger().verify()
    if as_json:
        print_json({"ok": not mismatches, "mismatches": [m.to_dict() for m in mismatches]})
    elif mismatches:
        table(
            "Ledger mismatches",
            ["kind", "subject", "field", "expected", "actual"],
            [[m.kind, m.subject, m.field, m.expected, m.actual] for m in mismatches],
        )
    else:
        console.print("ledger verified: every counter matches the journal, every listing the rules")
    if mismatches:
        raise typer.Exit(1)
