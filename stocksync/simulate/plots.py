"""The report's three pictures, drawn with matplotlib's Agg renderer from the runs alone.

Fixed sizes, the default style and no timestamps in the files: the same seed draws the same
bytes, so a report can be checked into a repository and regenerated without noise.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, ParamSpec

from stocksync.simulate.accounting import ModeOutcome
from stocksync.simulate.records import ModeRun
from stocksync.simulate.replay import Replay

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["draw_gap_histogram", "draw_outcomes", "draw_scarcest_sku"]

P = ParamSpec("P")

_DPI = 100


def _styled(draw: Callable[P, Path]) -> Callable[P, Path]:
    """Draw with the Agg renderer and matplotlib's default style, whatever the user's rc says."""

    @functools.wraps(draw)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Path:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.style

        with matplotlib.style.context("default"):
            return draw(*args, **kwargs)

    return wrapper


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=_DPI)


def _save(fig: Figure, path: Path) -> Path:
    fig.savefig(path, format="png", dpi=_DPI, metadata={"Software": None})
    return path


@_styled
def draw_gap_histogram(runs: Sequence[ModeRun], path: Path) -> Path:
    """Sync gap per accepted order, one outline per mode, on a log axis of scenario seconds."""
    fig = _figure(8, 4.5)
    ax = fig.subplots()
    gaps = [g for run in runs for g in run.gaps_s]
    positive = [g for g in gaps if g > 0]
    if positive:
        low = math.floor(math.log10(min(positive)))
        high = math.ceil(math.log10(max(positive))) + (1 if max(positive) == 10**low else 0)
        high = max(high, low + 1)
        bins = [10 ** (low + i / 10) for i in range((high - low) * 10 + 1)]
        for run in runs:
            if run.gaps_s:
                clipped = [min(max(g, bins[0]), bins[-1]) for g in run.gaps_s]
                ax.hist(clipped, bins=bins, histtype="step", linewidth=1.5, label=run.mode)
        ax.set_xscale("log")
        ax.legend()
    else:
        ax.text(0.5, 0.5, "no accepted orders", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("sync gap per accepted order (scenario seconds, log)")
    ax.set_ylabel("orders")
    ax.set_title("Time from an accepted order until every other channel reflected it")
    fig.tight_layout()
    return _save(fig, path)


@_styled
def draw_scarcest_sku(
    runs: Sequence[ModeRun], replays: Sequence[Replay], sku: str, end_t: float, path: Path
) -> Path:
    """What each channel showed of ``sku`` over time, one panel per mode, beside the shelf."""
    fig = _figure(9, 2.6 * max(1, len(runs)) + 0.6)
    axes = fig.subplots(max(1, len(runs)), 1, sharex=True, squeeze=False)[:, 0]
    if not runs:
        axes[0].text(0.5, 0.5, "no runs", ha="center", va="center", transform=axes[0].transAxes)
    for ax, run, replayed in zip(axes[: len(runs)], runs, replays, strict=True):
        for channel, steps in _shown_of(run, sku).items():
            xs, ys = _steps(steps, end_t)
            ax.step(xs, ys, where="post", linewidth=1.3, label=channel)
        xs, ys = _steps(replayed.available.get(sku, [(0.0, 0)]), end_t)
        ax.step(xs, ys, where="post", color="black", linestyle="--", linewidth=1.0,
                label="physical available")  # fmt: skip
        ax.set_ylabel("units")
        ax.set_title(f"{run.mode}: {sku}", loc="left", fontsize=10)
        ax.legend(fontsize=8, loc="upper right")
    axes[-1].set_xlabel("scenario hours")
    fig.tight_layout()
    return _save(fig, path)


@_styled
def draw_outcomes(outcomes: Sequence[ModeOutcome], path: Path) -> Path:
    """Oversold lines, seller cancellations and sales refused in stock, bars per mode."""
    fig = _figure(8, 4.5)
    ax = fig.subplots()
    measures = {
        "oversold lines": [o.oversold_lines for o in outcomes],
        "seller cancellations": [o.seller_cancellations for o in outcomes],
        "refused in stock": [o.refused_in_stock for o in outcomes],
    }
    width = 0.8 / len(measures)
    for i, (label, values) in enumerate(measures.items()):
        xs = [m + (i - (len(measures) - 1) / 2) * width for m in range(len(outcomes))]
        bars = ax.bar(xs, values, width=width, label=label)
        ax.bar_label(bars, fontsize=8)
    ax.set_xticks(range(len(outcomes)), [o.mode for o in outcomes])
    ax.set_ylabel("orders (lines for oversold lines)")
    ax.set_title("What each mode cost: oversells, the cancels they force, sales refused")
    ax.legend()
    fig.tight_layout()
    return _save(fig, path)


def _shown_of(run: ModeRun, sku: str) -> Mapping[str, list[tuple[float, int]]]:
    found: dict[str, list[tuple[float, int]]] = {}
    for record in sorted((s for s in run.shown if s.sku == sku), key=lambda s: s.t):
        found.setdefault(record.channel, []).append((record.t, record.qty))
    return found


def _steps(steps: Sequence[tuple[float, int]], end_t: float) -> tuple[list[float], list[int]]:
    """A step function as hours and values, held to the scenario's end."""
    inside = [(t, v) for t, v in steps if t <= end_t] or [(0.0, steps[0][1] if steps else 0)]
    xs = [t / 3600.0 for t, _ in inside] + [end_t / 3600.0]
    ys = [v for _, v in inside] + [inside[-1][1]]
    return xs, ys
