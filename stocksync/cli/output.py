"""Printing for the CLI: rich tables for people, one JSON document with ``--json``."""

from __future__ import annotations

import atexit
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from stocksync.domain.errors import StockSyncError
from stocksync.ledger.service import Ledger
from stocksync.settings import get_settings

__all__ = ["JsonOpt", "console", "fail", "ledger", "print_json", "table", "errors_to_exit"]

console = Console()
err_console = Console(stderr=True)

JsonOpt = typer.Option(False, "--json", help="Print one JSON document instead of a table.")


def print_json(doc: Any) -> None:
    typer.echo(json.dumps(doc, indent=2, default=str))


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    t = Table(title=title, title_justify="left")
    for col in columns:
        t.add_column(
            col,
            justify="right"
            if col.endswith(("qty", "hand", "committed", "available", "short"))
            else "left",
        )
    for row in rows:
        t.add_row(*("" if v is None else str(v) for v in row))
    console.print(t)


def fail(message: str, code: int = 2) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


@contextmanager
def errors_to_exit() -> Iterator[None]:
    """Turn the errors stocksync raises on purpose into a message and exit code 2."""
    try:
        yield
    except StockSyncError as exc:
        raise fail(str(exc)) from None


_ledgers: dict[str, Ledger] = {}


def _dispose_all() -> None:
    for instance in _ledgers.values():
        instance.engine.dispose()


atexit.register(_dispose_all)


def open_ledger() -> Ledger:
    """The ledger named by the settings, one engine per database for the life of the process."""
    url = get_settings().database_url
    if url not in _ledgers:
        _ledgers[url] = Ledger.from_settings()
    return _ledgers[url]


def ledger() -> Ledger:
    """The ledger named by the settings; refuses politely when its schema is missing."""
    from sqlalchemy import inspect

    instance = open_ledger()
    if not inspect(instance.engine).has_table("alembic_version"):
        raise fail(
            f"the ledger at {instance.engine.url.render_as_string(hide_password=True)} has no schema; "
            "run `stocksync db upgrade` first"
        )
    return instance


def run(work: Callable[[Any], Any]) -> Any:
    """Run ``work`` in one ledger transaction, errors turned into a message."""
    with errors_to_exit():
        return ledger().run(work)
