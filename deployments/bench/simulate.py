"""``stocksync simulate``: one shopper stream, three ways of keeping channels in step, counted.

``python -m deployments.bench.simulate SCENARIO.yaml [--json] [--out DIR]
[--modes manual,poll,stocksync] [--database-url URL] [--prefect-port N]``

The scenario (``scenarios/README.md``) gives the shop and its day; the stream of checkouts,
customer cancels and returns is drawn once from its seed and replayed by every mode asked:
``manual`` and ``poll`` on a simulated clock (``stocksync.simulate.baselines``, a second or
so), ``stocksync`` through the real pipeline on a compressed clock
(``deployments.bench.simulate_live``, ``hours × 3600 / compression`` seconds plus start-up and
the initial push). Each run is counted against the same warehouse
(``stocksync.simulate.accounting``) and the report (markdown, HTML, PNGs) goes to ``--out``
(default ``./simulate-out/<scenario name>``). Exit 1 if the stocksync mode oversold anything,
the ledger recorded an order line short or missed an accepted order, or the channels did not
converge.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.table import Table

from deployments.bench.console import Printer, Say, out, report
from stocksync.simulate.accounting import ModeOutcome, account
from stocksync.simulate.baselines import run_baseline
from stocksync.simulate.catalog import build_catalog
from stocksync.simulate.records import ModeRun
from stocksync.simulate.report import write_report
from stocksync.simulate.scenario import ScenarioError, load_scenario
from stocksync.simulate.stream import draw_stream

if TYPE_CHECKING:
    from deployments.bench.simulate_live import LiveRun

MODES = ("manual", "poll", "stocksync")
COLUMNS = ("mode", "placed", "accepted", "oversold", "cancels", "refused¹", "withheld²",
           "gap p50", "gap p99", "API calls")  # fmt: skip


def run_simulation(args: argparse.Namespace, say: Say) -> dict[str, Any]:
    """Every mode asked over one stream; the document ``--json`` prints."""
    try:
        scenario = load_scenario(args.scenario)
    except (OSError, ScenarioError) as exc:
        raise RuntimeError(f"{args.scenario}: {exc}") from exc
    catalog = build_catalog(scenario)
    stream = draw_stream(scenario, catalog)
    say(
        f"{scenario.name}: {len(stream)} events over {scenario.hours:g} h, "
        f"{len(catalog.all_listed())} listings on {len(scenario.channels)} channels, "
        f"seed {scenario.seed}"
    )
    runs: list[ModeRun] = []
    live: LiveRun | None = None
    for mode in args.modes:
        if mode == "stocksync":
            from deployments.bench.simulate_live import run_live

            say(
                f"stocksync: the real pipeline, {scenario.end_t / scenario.compression:.0f} s "
                f"of replay at ×{scenario.compression:g}"
            )
            live = run_live(
                scenario, catalog, stream, database_url=args.database_url,
                prefect_port=args.prefect_port, say=say,
            )  # fmt: skip
            runs.append(live)
        else:
            runs.append(run_baseline(scenario, catalog, stream, mode))
        say(f"{mode}: done")
    buffers = {c.name: c.buffer for c in scenario.channels}
    outcomes = [
        account(
            run,
            stock=catalog.stock,
            bundles=catalog.bundles,
            buffers=buffers,
            end_t=scenario.hours * 3600.0,
        )  # fmt: skip
        for run in runs
    ]
    out_dir = Path(args.out) if args.out else Path("simulate-out") / scenario.name
    paths = write_report(scenario, catalog, runs, outcomes, out_dir)
    doc: dict[str, Any] = {
        "scenario": scenario.name,
        "seed": scenario.seed,
        "events": len(stream),
        "modes": {o.mode: o.to_dict() for o in outcomes},
        "report": {name: str(path) for name, path in paths.items()},
    }
    if live is not None:
        doc["stocksync"] = _live_checks(live, next(o for o in outcomes if o.mode == "stocksync"))
    doc["ok"] = live is None or doc["stocksync"]["ok"]
    return doc


def _live_checks(run: LiveRun, outcome: ModeOutcome) -> dict[str, Any]:
    """What the stocksync mode must hold to: nothing oversold, by the warehouse or the ledger,
    and every channel showing what the ledger wants at the end."""
    checks = {
        "oversold_orders": outcome.oversold_orders,
        "ledger_short_lines": run.ledger_short_lines,
        "converged": run.converged,
        "mismatches": {
            ch: {sku: {"shown": s, "desired": d} for sku, (s, d) in per.items()}
            for ch, per in run.mismatches.items()
        },
        "unsynced_orders": run.unsynced_orders,
        "orders_missing_from_ledger": run.orders_missing,
        "initial_push_s": round(run.initial_push_s, 2),
    }
    checks["ok"] = (
        outcome.oversold_orders == 0
        and not run.ledger_short_lines
        and not run.orders_missing
        and run.converged
    )
    return checks


def print_report(doc: dict[str, Any]) -> None:
    t = Table(title=f"Outcome simulation: {doc['scenario']} (seed {doc['seed']})",
              title_justify="left")  # fmt: skip
    for col in COLUMNS:
        t.add_column(col, justify="left" if col == "mode" else "right")
    for mode, o in doc["modes"].items():
        gaps = o["gaps_s"]
        t.add_row(
            mode, str(o["orders_placed"]), str(o["orders_accepted"]), str(o["oversold_orders"]),
            f"{o['cancel_rate']:.2%}", str(o["refused_in_stock"]),
            f"{o['withheld_unit_hours']:.1f}", _s(gaps["p50"]), _s(gaps["p99"]),
            str(o["api_calls"]),
        )  # fmt: skip
    out.print(t)
    out.print(
        "oversold: accepted orders the shelf could not fill (each one a seller cancellation; "
        "cancels: their rate, against Amazon's 2.5 % and Walmart's 2 %); ¹ checkouts refused "
        "while the shelf held the units; ² unit·hours of stock not shown beyond the buffer; gaps "
        "in scenario time"
    )
    for mode, o in doc["modes"].items():
        for note in o["notes"]:
            said = note if note.startswith(f"{mode}:") else f"{mode}: {note}"
            out.print(f"[dim]{said}[/dim]")
    live = doc.get("stocksync")
    if live is not None:
        out.print(
            f"stocksync: ledger short lines {live['ledger_short_lines']}, converged "
            f"{'yes' if live['converged'] else 'NO'}, initial push {live['initial_push_s']} s"
        )
    out.print(f"report: {doc['report']['markdown']} and {doc['report']['html']}")


def _s(seconds: float | None) -> str:
    """Scenario seconds, in the unit that reads best."""
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _modes(text: str) -> tuple[str, ...]:
    names = tuple(m.strip() for m in text.split(",") if m.strip())
    unknown = sorted(set(names) - set(MODES))
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"modes are {', '.join(MODES)} (comma-separated); got {text!r}"
        )
    return names


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="stocksync simulate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("scenario", help="A scenario YAML file (see scenarios/README.md).")
    p.add_argument("--json", action="store_true", help="Print one JSON document.")
    p.add_argument("--out", help="Where the report goes (default ./simulate-out/<scenario>).")
    p.add_argument("--modes", type=_modes, default=MODES,
                   help="Modes to run, comma-separated (default manual,poll,stocksync).")  # fmt: skip
    p.add_argument("--database-url",
                   help="PostgreSQL server for the stocksync mode's scratch ledger "
                   "(default SQLite in a temporary directory).")  # fmt: skip
    p.add_argument("--prefect-port", type=int, default=4200,
                   help="Port of the local Prefect server (unless PREFECT_API_URL names one).")  # fmt: skip
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return report(args.json, lambda say: _run(args, say), "the simulation failed")


def _run(args: argparse.Namespace, say: Say) -> tuple[dict[str, Any], Printer]:
    return run_simulation(args, say), print_report


if __name__ == "__main__":
    sys.exit(main())
