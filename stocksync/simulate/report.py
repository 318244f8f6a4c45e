"""The simulator's report: one markdown and one HTML page with the same tables, and three PNGs.

The tables are built once as plain rows (:class:`Table`) and rendered twice, so the two pages
cannot disagree. Everything in them comes from the scenario, the runs and their outcomes: the
same seed writes the same files.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from stocksync.simulate.accounting import (
    AMAZON_CANCEL_LIMIT,
    WALMART_CANCEL_LIMIT,
    ChannelOutcome,
    ModeOutcome,
)
from stocksync.simulate.catalog import SimCatalog
from stocksync.simulate.plots import draw_gap_histogram, draw_outcomes, draw_scarcest_sku
from stocksync.simulate.records import ModeRun
from stocksync.simulate.replay import replay
from stocksync.simulate.scenario import Scenario

__all__ = ["Table", "write_report"]

PLOTS = {
    "gap_histogram": "Sync gap per accepted order",
    "scarcest_sku": "Stock shown per channel for the scarcest SKU",
    "outcomes": "Oversells, seller cancellations and sales refused in stock",
}


@dataclass(frozen=True)
class Table:
    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    intro: str = ""
    after: tuple[str, ...] = ()
    """Sentences printed below the table."""


def write_report(
    scenario: Scenario,
    catalog: SimCatalog,
    runs: Sequence[ModeRun],
    outcomes: Sequence[ModeOutcome],
    out_dir: Path,
) -> dict[str, Path]:
    """Write report.md, report.html and the PNGs into ``out_dir``; name → path of each file."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sku = catalog.scarcest()
    replays = [replay(run, stock=catalog.stock, bundles=catalog.bundles) for run in runs]
    files = {
        "gap_histogram": draw_gap_histogram(runs, out_dir / "gap_histogram.png"),
        "scarcest_sku": draw_scarcest_sku(
            runs, replays, sku, scenario.end_t, out_dir / "scarcest_sku.png"
        ),
        "outcomes": draw_outcomes(outcomes, out_dir / "outcomes.png"),
    }
    tables = _tables(scenario, catalog, runs, outcomes)
    title = f"Outcome simulation: {scenario.name}"
    summary = _summary(scenario, catalog, runs)
    markdown = out_dir / "report.md"
    markdown.write_text(_markdown(title, summary, tables), encoding="utf-8")
    page = out_dir / "report.html"
    page.write_text(_html(title, summary, tables), encoding="utf-8")
    return {"markdown": markdown, "html": page, **files}


def _summary(scenario: Scenario, catalog: SimCatalog, runs: Sequence[ModeRun]) -> list[str]:
    placed = max((len(run.answered) for run in runs), default=0)
    sku = catalog.scarcest()
    lines = [scenario.description] if scenario.description else []
    lines.append(
        f"Seed {scenario.seed}: {placed:,} checkouts over {_n(scenario.hours)} h, replayed"
        f" identically in every mode ({', '.join(run.mode for run in runs)})."
        f" The scarcest SKU is {sku}: {catalog.stock[sku]} units on hand, about"
        f" {_n(catalog.hours_covered(sku), 1)} h of expected sales."
    )
    return lines


def _tables(
    scenario: Scenario,
    catalog: SimCatalog,
    runs: Sequence[ModeRun],
    outcomes: Sequence[ModeOutcome],
) -> list[Table]:
    return [
        Table(
            "Outcomes per mode",
            (
                "mode",
                "accepted",
                "oversold orders",
                "seller cancels",
                "cancel rate",
                f"vs Amazon {AMAZON_CANCEL_LIMIT:.1%}",
                f"vs Walmart {WALMART_CANCEL_LIMIT:.0%}",
                "refused in stock",
                "withheld unit·h",
                "gap p50 s",
                "gap p99 s",
                "API calls",
            ),  # fmt: skip
            tuple(_mode_row(o) for o in outcomes),
            intro="Gaps are scenario seconds from an accepted order until every other channel"
            " reflected it; withheld unit·h counts stock beyond a channel's buffer it was not"
            " shown, times how long.",
            after=tuple(
                _compression(scenario, run, o) for run, o in zip(runs, outcomes, strict=True)
            )
            + tuple(note for o in outcomes for note in o.notes),
        ),
        Table(
            "Per channel",
            (
                "mode",
                "channel",
                "placed",
                "accepted",
                "refused",
                "oversold orders",
                "oversold lines",
                "oversold units",
                "seller cancels",
                "cancel rate",
                "refused in stock",
                "withheld unit·h",
                "API calls",
            ),  # fmt: skip
            tuple(
                _channel_row(o.mode, name, c) for o in outcomes for name, c in o.channels.items()
            ),
        ),
        Table("Scenario", ("parameter", "value"), _parameters(scenario, catalog)),
        Table(
            "Channels",
            (
                "channel",
                "kind",
                "priority",
                "share of orders",
                "buffer",
                "last units",
                "last seconds",
                "guard max",
            ),  # fmt: skip
            tuple(
                (
                    c.name,
                    c.kind,
                    str(c.priority),
                    _n(c.share_of_orders, 3),
                    str(c.buffer),
                    str(c.last_units),
                    _n(c.last_seconds),
                    "-" if c.guard_max is None else str(c.guard_max),
                )  # fmt: skip
                for c in scenario.channels
            ),
        ),
    ]


def _mode_row(o: ModeOutcome) -> tuple[str, ...]:
    return (
        o.mode, str(o.orders_accepted), str(o.oversold_orders), str(o.seller_cancellations),
        _pct(o.cancel_rate), _limit(o.over_amazon_limit), _limit(o.over_walmart_limit),
        str(o.refused_in_stock), _fixed(o.withheld_unit_hours), _fixed(o.gaps.p50),
        _fixed(o.gaps.p99), str(o.api_calls),
    )  # fmt: skip


def _channel_row(mode: str, name: str, c: ChannelOutcome) -> tuple[str, ...]:
    return (
        mode, name, str(c.orders_placed), str(c.orders_accepted), str(c.orders_refused),
        str(c.oversold_orders), str(c.oversold_lines), str(c.oversold_units),
        str(c.seller_cancellations), _pct(c.cancel_rate), str(c.refused_in_stock),
        _fixed(c.withheld_unit_hours), str(c.api_calls),
    )  # fmt: skip


def _compression(scenario: Scenario, run: ModeRun, o: ModeOutcome) -> str:
    if run.compression == 1:
        return ""
    real = (
        f"p50 {_n(o.gaps_real.p50)} s, p90 {_n(o.gaps_real.p90)} s,"
        f" p99 {_n(o.gaps_real.p99)} s, max {_n(o.gaps_real.max)} s"
        if o.gaps_real is not None
        else "not measured"
    )
    return (
        f"The {run.mode} mode ran the scenario's {_n(scenario.hours)} h in"
        f" {_n(run.real_seconds, 1)} s of real time, compression ×{_n(run.compression)};"
        f" its gaps in real seconds are {real}."
    )


def _parameters(scenario: Scenario, catalog: SimCatalog) -> tuple[tuple[str, str], ...]:
    s, c, a = scenario, scenario.catalog, scenario.adversity
    bursts = "; ".join(
        f"{_n(b.start_h)} h + {_n(b.minutes)} min ×{_n(b.factor)}"
        + (f", {_pct(b.sku_share, 0)} to {', '.join(b.skus)}" if b.skus else "")
        for b in s.bursts
    )
    bundles = "; ".join(
        f"{b.sku} = {' + '.join(f'{u}×{sku}' for sku, u in b.components)}"
        f" ({_pct(b.share_of_orders, 0)} of checkouts)"
        for b in c.bundles
    )
    outages = "; ".join(f"{o.channel} {_n(o.start_h)} h + {_n(o.minutes)} min" for o in a.outages)
    rows = [
        ("name", s.name), ("seed", str(s.seed)), ("hours", _n(s.hours)),
        ("start hour", _n(s.start_hour)), ("orders per day", _n(s.orders_per_day)),
        ("daily curve", ", ".join(_n(w, 2) for w in s.daily_curve)), ("bursts", bursts or "none"),
        ("cancel rate", f"{_pct(s.cancel_rate)} after {_n(s.cancel_after_min)} min on average"),
        ("return rate", f"{_pct(s.return_rate)} after {_n(s.return_after_h)} h on average"),
        ("catalog", f"{c.skus} SKUs ({c.prefix}-…), Zipf s = {_n(c.zipf_s, 2)}"),
        ("stock", f"{_n(c.stock_days)} days of expected sales, at least {c.min_stock};"
                  f" {c.scarce} scarce SKUs at {_n(c.scarce_days, 2)} days"
                  f" ({', '.join(catalog.scarce) or 'none'})"),
        ("units on hand", f"{sum(catalog.stock.values()):,}"),
        ("lines", f"1 to {c.units_per_line_max} units each; {_pct(c.two_lines_share, 0)} of"
                  " checkouts have a second line"),
        ("bundles", bundles or "none"), ("location", s.location),
        ("adversity", f"{a.busy_processes} busy processes, latency {a.latency_ms} ms"
                      f" + up to {a.jitter_ms} ms, webhooks {a.webhook_delay_ms} ms late"),
        ("outages", outages or "none"), ("manual every", f"{_n(s.manual_every_h)} h"),
        ("poll every", f"{_n(s.poll_every_min)} min"),
        ("stocksync compression", f"×{_n(s.compression)}"),
    ]  # fmt: skip
    return tuple(rows)


def _markdown(title: str, summary: Sequence[str], tables: Sequence[Table]) -> str:
    out = [f"# {title}", "", *(line for s in summary for line in (s, ""))]
    for table in tables:
        out += [f"## {table.title}", ""]
        if table.intro:
            out += [table.intro, ""]
        out.append("| " + " | ".join(_md(h) for h in table.headers) + " |")
        out.append("|" + "|".join("---" for _ in table.headers) + "|")
        out += ["| " + " | ".join(_md(cell) for cell in row) + " |" for row in table.rows]
        out.append("")
        out += [line for s in table.after if s for line in (s, "")]
    out += ["## Plots", ""]
    out += [line for name, alt in PLOTS.items() for line in (f"![{alt}]({name}.png)", "")]
    return "\n".join(out)


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _html(title: str, summary: Sequence[str], tables: Sequence[Table]) -> str:
    e = html.escape
    out = [
        "<!doctype html>", '<html lang="en">', '<meta charset="utf-8">', f"<title>{e(title)}</title>",
        "<style>body{font-family:sans-serif;max-width:72rem;margin:2rem auto}"
        "table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:.2rem .5rem}"
        "td{text-align:right}td:first-child{text-align:left}</style>",
        f"<h1>{e(title)}</h1>", *(f"<p>{e(s)}</p>" for s in summary),
    ]  # fmt: skip
    for table in tables:
        out.append(f"<h2>{e(table.title)}</h2>")
        if table.intro:
            out.append(f"<p>{e(table.intro)}</p>")
        out.append("<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in table.headers) + "</tr>")
        for row in table.rows:
            out.append("<tr>" + "".join(f"<td>{e(cell)}</td>" for cell in row) + "</tr>")
        out.append("</table>")
        out += [f"<p>{e(s)}</p>" for s in table.after if s]
    out.append("<h2>Plots</h2>")
    out += [f'<p><img src="{name}.png" alt="{e(alt)}"></p>' for name, alt in PLOTS.items()]
    return "\n".join(out) + "\n"


def _n(value: float | None, digits: int = 2) -> str:
    """A number as a person writes it: up to ``digits`` decimals, no trailing zeros, '-' for none."""
    if value is None:
        return "-"
    text = f"{value:,.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _fixed(value: float | None, digits: int = 1) -> str:
    """A table figure: always ``digits`` decimals, so a column lines up; '-' for none."""
    return "-" if value is None else f"{value:,.{digits}f}"


def _pct(rate: float, digits: int = 2) -> str:
    return f"{rate * 100:.{digits}f}%"


def _limit(over: bool) -> str:
    return "over" if over else "within"
