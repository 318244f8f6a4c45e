"""``stocksync stock explain``: which rule set the number each listing of a SKU shows."""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from stocksync.cli.output import JsonOpt, call, console, print_json
from stocksync.ledger.explain import ListingExplanation, explain_stock

__all__ = ["explanation_table", "stock_explain"]


def stock_explain(
    sku: str,
    channel: str | None = typer.Option(
        None, "--channel", "-c", help="Only this channel's listing."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Why each listing of SKU wants the quantity it does: the rules step by step, with numbers."""
    explained = call(explain_stock, sku, channel)
    if as_json:
        print_json([e.to_dict() for e in explained])
        return
    if not explained:
        console.print(f"{escape(sku)} is not listed on any channel")
    for e in explained:
        console.print()
        console.print(
            f"[bold]{escape(e.sku)}[/bold] on [bold]{escape(e.channel)}[/bold] "
            f"({escape(e.external_id)}): the rules give {e.qty}"
        )
        console.print(explanation_table(e))
        console.print(_ledger_line(e))
        if not e.matches:
            console.print(
                f"[yellow]note:[/yellow] the ledger wants {e.desired_qty}, worked out at the last "
                "stock change; a guard grown by the sales rate is worked out again at the next "
                "change or poll-orders run"
            )


def explanation_table(e: ListingExplanation) -> Table:
    """The steps as rule / how / qty rows, readable at 80 columns (long words wrap, never cut)."""
    t = Table()
    t.add_column("rule", overflow="fold")
    t.add_column("how", overflow="fold")
    t.add_column("qty", justify="right", overflow="fold")
    for step in e.explanation.steps:
        t.add_row(Text(step.rule), Text(step.describe()), str(step.qty))
    bold = "bold"
    t.add_row(Text("desired", bold), "what the channel should list", Text(str(e.qty), bold))
    return t


def _ledger_line(e: ListingExplanation) -> str:
    def shown(value: int | None) -> str:
        return "-" if value is None else str(value)

    return (
        f"ledger: desired {e.desired_qty}, pushed {shown(e.pushed_qty)}, "
        f"expected {shown(e.expected_qty)}, unheard {e.unheard_qty}, state {escape(e.state)}, "
        f"{'dirty' if e.dirty else 'not dirty'}"
    )
