"""Printing for the CLI: rich tables for people, one JSON document with ``--json``."""

from __future__ import annotations

import atexit
import difflib
import json
import re
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.core import TyperCommand

from stocksync.domain.errors import StockSyncError
from stocksync.ledger.service import Ledger
from stocksync.settings import get_settings

if TYPE_CHECKING:
    from sqlmodel import Session

__all__ = [
    "JsonOpt",
    "SignedNumbers",
    "call",
    "console",
    "errors_to_exit",
    "fail",
    "ledger",
    "narrow_table",
    "print_json",
    "table",
]

T = TypeVar("T")
P = ParamSpec("P")

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


def narrow_table(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], *, numbers: Collection[str] = ()
) -> Table:
    """A table that reads in a narrow terminal: no frame, text folds onto more lines instead of
    being cut with "…", and the ``numbers`` columns are right-aligned and never broken."""
    t = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
    for col in columns:
        if col in numbers:
            t.add_column(col, justify="right", no_wrap=True)
        else:
            t.add_column(col, overflow="fold")
    for row in rows:
        t.add_row(*("-" if v is None else str(v) for v in row))
    return t


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``message`` as one ``error:`` line on stderr; the caller raises what this returns."""
    err_console.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    return typer.Exit(code)


_NEGATIVE_NUMBER = re.compile(r"-\d+")


class SignedNumbers(TyperCommand):
    """A command whose arguments may be negative numbers, as typed: ``stock adjust SKU -3``.

    Click reads ``-3`` as an unknown option. This command has click keep unknown options as
    arguments (``ignore_unknown_options``), after refusing as click would every option-like word
    that is neither one of the command's options nor a negative number.
    """

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        takes_value = {
            name: not (getattr(param, "is_flag", False) or getattr(param, "count", False))
            for param in self.get_params(ctx)
            if param.param_type_name == "option"
            for name in (*param.opts, *param.secondary_opts)
        }
        value_next = False
        for word in args:
            if value_next:
                value_next = False
            elif word == "--":
                break
            elif word.startswith("-") and word != "-" and not _NEGATIVE_NUMBER.fullmatch(word):
                name = word.partition("=")[0]
                if name in takes_value:
                    value_next = takes_value[name] and "=" not in word
                elif word.startswith("--") or word[:2] not in takes_value:  # -lberlin-dc is -l
                    close = difflib.get_close_matches(name, takes_value, n=1)
                    hint = f" (did you mean {close[0]}?)" if close else ""
                    ctx.fail(f"No such option: {name}{hint}")
        ctx.ignore_unknown_options = True
        rest: list[str] = super().parse_args(ctx, args)
        return rest


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
    instance = open_ledger()
    if not instance.has_schema():
        raise fail(
            f"the ledger at {instance.engine.url.render_as_string(hide_password=True)} has no schema; "
            "run `stocksync db upgrade` first"
        )
    return instance


def call(
    operation: Callable[Concatenate[Session, P], T], /, *args: P.args, **kwargs: P.kwargs
) -> T:
    """One ledger operation (see :meth:`Ledger.call`), its errors turned into a message."""
    with errors_to_exit():
        return ledger().call(operation, *args, **kwargs)
