"""``stocksync simulate``: the outcome simulator, manual and polling baselines beside stocksync.

Its ``stocksync`` mode runs the sync worker (a Prefect flow) and ``stocksync/`` never imports
Prefect, so this command only replaces itself with ``python -m deployments.bench.simulate``
(same interpreter); every option goes there.
"""

from __future__ import annotations

import os
import sys

import typer

from stocksync.cli.bench import PASS_THROUGH

__all__ = ["PASS_THROUGH", "simulate"]


def simulate(ctx: typer.Context) -> None:
    """Outcome simulator: one scenario's shoppers, kept in step by hand, by polling, by stocksync.

    Draws the shopper stream of SCENARIO.yaml (``scenarios/``) and replays it in each mode; the
    report counts oversells and the seller cancellations they force, sales refused while stock
    remained, stock hidden from channels, sync gaps and API calls.
    ``stocksync simulate SCENARIO.yaml [--json] [--out DIR] [--modes manual,poll,stocksync]
    [--database-url URL] [--prefect-port N]``; ``stocksync simulate --help`` lists them all.
    """
    module = "deployments.bench.simulate"
    os.execv(sys.executable, [sys.executable, "-m", module, *ctx.args])
