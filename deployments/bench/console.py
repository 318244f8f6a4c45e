"""Where the benchmark and demo runners print, and how each ends: a report (a table, or one JSON
document with ``--json``, progress then going to stderr) and an exit code."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

from rich.console import Console

__all__ = ["Printer", "Say", "err", "out", "report"]

out = Console(highlight=False, width=110)
err = Console(stderr=True, highlight=False)

Say = Callable[[str], None]
Printer = Callable[[dict[str, Any]], None]


def report(as_json: bool, run: Callable[[Say], tuple[dict[str, Any], Printer]], failed: str) -> int:
    """Run ``run(say)`` and print the document it gives back with its printer (or as JSON).

    Exit code: 0 when the document says ``ok``, 1 when not or when the run raised RuntimeError
    (``failed`` names it then), 130 on Ctrl-C."""
    say: Say = err.print if as_json else out.print
    try:
        doc, printer = run(say)
    except KeyboardInterrupt:
        err.print("stopped")
        return 130
    except RuntimeError as exc:
        err.print(f"{failed}: {exc}")
        return 1
    if as_json:
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        printer(doc)
    return 0 if doc["ok"] else 1
