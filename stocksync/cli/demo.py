"""``stocksync demo``: the README's main job."""

from __future__ import annotations

from pathlib import Path

import typer

from stocksync.cli.output import JsonOpt, console, print_json, table
from stocksync.demo import run_demo


def demo(
    db: Path = typer.Option(
        Path("stocksync-demo.db"), help="SQLite file for the demo ledger (recreated)."
    ),
    shoppers: int = typer.Option(4, help="Concurrent shoppers per channel."),
    as_json: bool = JsonOpt,
) -> None:
    """Flash sale: three channels race for the last units of one SKU on a fresh SQLite ledger."""
    report = run_demo(db, shoppers_per_channel=shoppers)
    doc = report.to_dict()
    if as_json:
        print_json(doc)
    else:
        console.print(
            f"[bold]Flash sale[/bold] on {report.sku}: {report.units_before} units left, "
            f"{len(report.orders)} shoppers on 3 channels buying 1 each at the same moment\n"
            f"listed before the sale: {_fmt(report.listings_before)}"
        )
        table(
            "Who got the last units",
            ["channel", "orders", "got_units", "recorded_short"],
            [
                [ch, v["orders"], v["got_units"], v["recorded_short"]]
                for ch, v in doc["per_channel"].items()
            ],
        )
        console.print(
            f"winners: {', '.join(doc['winners'])}\n"
            f"orders in the ledger: {report.orders_in_ledger} of {len(report.orders)} placed; "
            f"units committed: {report.committed} of {report.units_before}; "
            f"units committed beyond stock: [bold]{report.oversold_units}[/bold]\n"
            f"orders recorded short, kept for the seller to cancel: {report.short_orders}\n"
            f"listed after the sale: {_fmt(report.listings_after)}; "
            f"ledger verify: {'clean' if report.mismatches == 0 else f'{report.mismatches} mismatches'}\n"
            f"explore it: STOCKSYNC_DATABASE_URL=sqlite:///{report.database} stocksync stock show"
        )
    if report.oversold_units or report.mismatches or report.orders_in_ledger != 3 * shoppers:
        raise typer.Exit(1)


def _fmt(listings: dict[str, int]) -> str:
    return ", ".join(f"{ch} {qty}" for ch, qty in listings.items())
