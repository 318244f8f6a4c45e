"""The simulator's ``stocksync`` mode end to end: a small shop's hour replayed in ~18 s through
the emulators, the receiver, the sync worker and Prefect (the session's server), on SQLite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from prefect.settings import PREFECT_API_URL

from deployments.bench.simulate_live import LiveRun, run_live
from stocksync.bench.fleet import Fleet
from stocksync.ledger.sale_figures import orders_after
from stocksync.simulate.catalog import build_catalog
from stocksync.simulate.records import Cancel, Checkout, Return
from stocksync.simulate.scenario import scenario_from_dict
from stocksync.simulate.stream import draw_stream

ROOT = Path(__file__).resolve().parents[2]
SHOP: dict[str, Any] = {
    "name": "tiny-shop",
    "seed": 5,
    "hours": 1,
    "orders_per_day": 2400,  # ~100 checkouts in the hour
    "cancel_rate": 0.08,
    "cancel_after_min": 4,
    "return_rate": 0.08,
    "return_after_h": 0.1,
    "catalog": {
        "skus": 5, "prefix": "TINY", "stock_days": 1, "min_stock": 3, "scarce": 1,
        "scarce_days": 0.1, "units_per_line_max": 2, "two_lines_share": 0.2,
        "bundles": [{"sku": "TINY-KIT", "components": {"TINY-0001": 1, "TINY-0003": 2},
                     "share_of_orders": 0.1}],
    },
    "channels": [
        {"name": "shopify-main", "kind": "shopify", "priority": 30, "share_of_orders": 0.45,
         "last_units": 3},
        {"name": "amazon-eu", "kind": "amazon", "priority": 20, "share_of_orders": 0.35,
         "buffer": 1, "last_units": 3, "last_seconds": 5},
        {"name": "woo-site", "kind": "woocommerce", "priority": 10, "share_of_orders": 0.2,
         "buffer": 1, "last_units": 3, "last_seconds": 5},
    ],
    "location": "tiny-dc",
    "adversity": {"latency_ms": 20, "jitter_ms": 30, "webhook_delay_ms": 100},
    "compression": 200,  # the hour in 18 s
}  # fmt: skip


@pytest.fixture
def prefect_api(monkeypatch: pytest.MonkeyPatch) -> None:
    """The runner (and the worker process it starts) report to the session's Prefect server."""
    monkeypatch.setenv("PREFECT_API_URL", str(PREFECT_API_URL.value()))


def test_a_small_shops_hour_through_the_live_pipeline_oversells_nothing_and_converges(
    prefect_api: None,
) -> None:
    scenario = scenario_from_dict(SHOP)
    catalog = build_catalog(scenario)
    stream = draw_stream(scenario, catalog)
    assert any(isinstance(e, Cancel) for e in stream) and any(isinstance(e, Return) for e in stream)
    seen: dict[str, Any] = {}

    def look(fleet: Fleet, run: LiveRun) -> None:
        ledger = fleet.ledger
        seen["orders"] = Counter((c, x) for _, c, x in ledger.call(orders_after, 0))
        seen["cancelled"] = {r.ref: ledger.order(*run.placed[r.ref]) for r in run.cancelled}
        seen["returned"] = {r.ref: ledger.order(*run.placed[r.ref]) for r in run.returned}

    run = run_live(
        scenario, catalog, stream, database_url=None, prefect_port=0, say=lambda _: None,
        settle_s=60, inspect=look,
    )  # fmt: skip

    channels = {c.name for c in scenario.channels}
    accepted = [a for a in run.answered if a.accepted]
    assert len(run.answered) == sum(isinstance(e, Checkout) for e in stream)
    assert accepted and {a.channel for a in accepted} == channels
    assert len(run.placed) == len(accepted)
    assert all(seen["orders"][placed] == 1 for placed in run.placed.values())
    assert run.orders_missing == 0
    assert run.ledger_short_lines == 0
    assert run.cancelled and run.returned
    for order in seen["cancelled"].values():
        assert all(ln.committed == 0 and ln.cancelled == ln.quantity for ln in order.lines)
    for order in seen["returned"].values():
        assert any(ln.returned > 0 for ln in order.lines)
    assert run.converged, run.mismatches
    assert {s.channel for s in run.shown} == channels
    assert {s.sku for s in run.shown} == set(catalog.all_listed())
    assert all(run.api_calls[name] > 0 for name in channels)
    assert len(run.gaps_s) == len(run.gaps_real_s) > 0
    assert run.compression == 200 and run.real_seconds > 0


def test_stocksync_simulate_runs_the_modes_asked_and_writes_the_report(tmp_path: Path) -> None:
    """The command as a seller types it, baselines only (the live mode is the test above)."""
    path = tmp_path / "tiny-shop.yaml"
    path.write_text(yaml.safe_dump(SHOP))
    command = [sys.executable, "-c", "from stocksync.cli import main; main()", "simulate",
               str(path), "--modes", "manual,poll", "--json", "--out", str(tmp_path / "out")]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, timeout=120, check=False)

    assert done.returncode == 0, done.stderr.decode()[-3000:]
    doc = json.loads(done.stdout)
    scenario = scenario_from_dict(SHOP)
    checkouts = sum(isinstance(e, Checkout) for e in draw_stream(scenario, build_catalog(scenario)))
    assert (doc["scenario"], doc["seed"], doc["ok"]) == ("tiny-shop", 5, True)
    assert set(doc["modes"]) == {"manual", "poll"} and "stocksync" not in doc
    assert all(mode["orders_placed"] == checkouts for mode in doc["modes"].values())
    assert all(Path(p).is_file() for p in doc["report"].values())
