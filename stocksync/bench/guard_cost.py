"""What the last-units guard cost a flash sale: sales refused while stock remained, and units
withheld from the channels × time, beside the oversells it prevents.

A sale's checkouts and the counts the gap sampler saw become a simulator run
(:class:`stocksync.simulate.records.ModeRun`), accounted against the warehouse truth the way
``stocksync simulate`` accounts its modes (:func:`stocksync.simulate.accounting.account`): a
refusal counts when the stock could have filled the checkout at that moment; withheld units are
what a channel showed below the available stock less its own buffer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stocksync.bench.sale_run import SaleReport
from stocksync.simulate.accounting import account
from stocksync.simulate.records import Answered, ModeRun, Shown

__all__ = ["guard_cost", "sale_as_run"]


def sale_as_run(report: SaleReport) -> ModeRun:
    """The sale as a simulator run, times in seconds from its start (counts before it: at 0)."""
    t0 = report.sale_started
    answered = [
        Answered(t=max(0.0, p.answered_at - t0), ref=p.order_id or f"refused-{n}",
                 channel=p.channel, lines=((p.sku, 1),), accepted=p.accepted)
        for n, p in enumerate(report.placed)
    ]  # fmt: skip
    shown = [Shown(t=max(0.0, at - t0), channel=c, sku=s, qty=q) for at, c, s, q in report.shown]
    answered.sort(key=lambda a: a.t)
    return ModeRun(mode="stocksync", answered=answered, shown=shown)


def guard_cost(
    report: SaleReport, stock: Mapping[str, int], buffers: Mapping[str, int]
) -> dict[str, Any]:
    """Refused-in-stock checkouts and withheld unit·seconds, in total and per channel, from the
    sale's start until its last checkout was answered."""
    run = sale_as_run(report)
    end_t = max((a.t for a in run.answered), default=0.0)
    outcome = account(run, stock=stock, bundles={}, buffers=buffers, end_t=end_t)
    return {
        "refused_in_stock": outcome.refused_in_stock,
        "withheld_unit_s": round(outcome.withheld_unit_hours * 3600, 1),
        "oversold_lines_by_accounting": outcome.oversold_lines,
        "channels": {
            name: {
                "refused_in_stock": ch.refused_in_stock,
                "withheld_unit_s": round(ch.withheld_unit_hours * 3600, 1),
            }
            for name, ch in outcome.channels.items()
        },
    }
