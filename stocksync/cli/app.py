"""The root of the ``stocksync`` command."""

from __future__ import annotations

import typer

from stocksync.cli.bench import bench_app
from stocksync.cli.channels import channel_app
from stocksync.cli.demo import demo
from stocksync.cli.explain import stock_explain
from stocksync.cli.listing import listing_app
from stocksync.cli.orders import order_list
from stocksync.cli.sandbox import sandbox_app
from stocksync.cli.serve import serve
from stocksync.cli.setup import catalog_app, db_app, location_app
from stocksync.cli.simulate import PASS_THROUGH, simulate
from stocksync.cli.stock import ledger_app, order_app, stock_app
from stocksync.cli.up import up
from stocksync.cli.worker import worker

app = typer.Typer(
    name="stocksync",
    help="One oversell-safe stock ledger for every sales channel.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(db_app, name="db")
app.add_typer(location_app, name="location")
app.add_typer(channel_app, name="channel")
app.add_typer(catalog_app, name="catalog")
stock_app.command("explain")(stock_explain)
order_app.command("list")(order_list)
app.add_typer(stock_app, name="stock")
app.add_typer(order_app, name="order")
app.add_typer(ledger_app, name="ledger")
app.add_typer(listing_app, name="listing")
app.command("demo")(demo)
app.command("simulate", context_settings=PASS_THROUGH, add_help_option=False)(simulate)
app.add_typer(bench_app, name="bench")
app.add_typer(sandbox_app, name="sandbox")
app.command("serve")(serve)
app.command("worker")(worker)
app.command("up")(up)


def main() -> None:
    app()
