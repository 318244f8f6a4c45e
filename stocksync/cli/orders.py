"""``stocksync order list``: orders by channel, status and date, or the oversold ones."""

from __future__ import annotations

from datetime import UTC, datetime

import typer
from rich.table import Table
from rich.text import Text

from stocksync.cli.output import JsonOpt, call, console, errors_to_exit, fail, print_json
from stocksync.ledger.order_list import ListedOrder, list_orders, order_status_named

__all__ = ["order_list", "orders_table"]


def order_list(
    channel: str | None = typer.Option(None, "--channel", "-c", help="Only this channel's orders."),
    status: str | None = typer.Option(
        None, "--status", help="committed, partially_oversold, oversold, cancelled or shipped."
    ),
    since: str | None = typer.Option(
        None,
        "--since",
        help="Orders placed (else recorded) at or after DATE or DATETIME (ISO 8601; UTC unless it "
        "names a zone).",
    ),
    oversold: bool = typer.Option(False, "--oversold", help="Only orders with a line short."),
    limit: int = typer.Option(50, "--limit", "-n", help="At most this many orders."),
    as_json: bool = JsonOpt,
) -> None:
    """List orders newest first, with units ordered, committed, short, cancelled and shipped."""
    after = _since(since) if since is not None else None
    with errors_to_exit():
        wanted = order_status_named(status) if status is not None else None
    orders = call(
        list_orders, channel=channel, status=wanted, since=after, oversold=oversold, limit=limit
    )
    if as_json:
        print_json([o.to_dict() for o in orders])
    elif orders:
        console.print(orders_table(orders))
    else:
        console.print("no orders match")


def _since(text: str) -> datetime:
    """A date (midnight) or a date and time; UTC unless it names its zone."""
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise fail(f"--since {text!r} is not a date like 2024-05-31 or 2024-05-31T14:00") from None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def orders_table(orders: list[ListedOrder]) -> Table:
    """Orders as a table that reads at 80 columns: the time and status wrap at their spaces, the
    names, ids and counts (one to a line) never break; nothing is cut short."""
    t = Table(title="Orders, newest first", title_justify="left")
    t.add_column("placed (UTC)", overflow="fold")
    t.add_column("channel / order", no_wrap=True, overflow="fold")
    t.add_column("status", overflow="fold")
    t.add_column("lines", justify="right", no_wrap=True, overflow="fold")
    t.add_column("units", no_wrap=True, overflow="fold")
    for o in orders:
        # ordered always, then only the counts that are not 0
        units = [f"{n} {name}" for i, (name, n) in enumerate(o.totals().items()) if n or i == 0]
        t.add_row(
            o.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            Text(f"{o.channel}\n{o.external_id}"),
            o.status.replace("_", " "),
            str(len(o.lines)),
            "\n".join(units),
        )
    return t
