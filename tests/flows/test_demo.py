"""``stocksync demo`` and ``stocksync bench sync`` end to end: emulators, receiver, the sync
worker and Prefect (the session's server), in their own process, as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from prefect.settings import PREFECT_API_URL

ROOT = Path(__file__).resolve().parents[2]
CHANNELS = {"shopify-main", "amazon-eu", "woo-site"}


def run_module(module: str, args: list[str], backend: str, pg_url: str) -> tuple[int, Any]:
    """``python -m <module> … --json`` against the session's Prefect server; (exit code, JSON)."""
    if backend == "postgres":
        args = [*args, "--database-url", pg_url]  # a scratch database beside the test one
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    done = subprocess.run(
        [sys.executable, "-m", module, *args, "--json"],
        cwd=ROOT, env=env, capture_output=True, timeout=240, check=False,
    )  # fmt: skip
    assert done.stdout, done.stderr.decode()[-3000:]
    return done.returncode, json.loads(done.stdout)


def test_the_demo_sells_on_every_channel_oversells_nothing_and_converges(
    backend: str, pg_url: str
) -> None:
    code, doc = run_module(
        "deployments.bench.demo", ["--duration", "4", "--rate", "6"], backend, pg_url
    )

    assert code == 0, doc
    assert doc["oversold_lines"] == 0
    assert doc["converged"] is True and doc["mismatches"] == {} and doc["unsynced_orders"] == 0
    assert set(doc["channels"]) == CHANNELS
    for name, channel in doc["channels"].items():
        assert channel["orders_accepted"] > 0, name
        assert channel["oversold_lines"] == 0 and channel["converged"] is True
        assert set(channel["sync_gap"]) == {"count", "p50_s", "p99_s", "max_s"}
    assert doc["orders_accepted"] + doc["orders_refused"] == doc["orders_placed"]
    assert doc["sync_gap"]["count"] == doc["orders_accepted"]
    assert doc["flow_runs"]["total"] >= 1 and doc["flow_runs"]["failed"] == 0
    assert doc["prefect_ui"] and doc["prefect_server_started_here"] is False


def test_the_sync_bench_reports_gap_calls_429s_and_flow_runs(backend: str, pg_url: str) -> None:
    args = ["--duration", "3", "--rate", "8", "--burst-s", "1", "--latency-ms", "0"]
    _, doc = run_module("deployments.bench.sync_gap", args, backend, pg_url)

    # a measurement, not a pass/fail: convergence and oversells are reported, not asserted
    assert isinstance(doc["converged"], bool) and isinstance(doc["oversold_lines"], int)
    assert doc["orders_accepted"] > 0 and set(doc["channels"]) == CHANNELS
    assert doc["push_calls_per_order"] is not None and doc["flow_runs_per_100_orders"] is not None
    assert doc["http_429_unhandled"] == 0
    assert set(doc["targets"]) == {"p50_s", "p99_s", "oversold_lines", "http_429_unhandled"}
    cost = doc["guard_cost"]  # the guard's cost, accounted as the simulator accounts
    assert set(cost["channels"]) == CHANNELS and cost["withheld_unit_s"] >= 0
    assert (doc["guard"], doc["busy_processes"]) == ("measured", 0)


def test_the_receiver_bench_answers_every_replayed_webhook(backend: str, pg_url: str) -> None:
    args = ["--receiver-only", "--duration", "1", "--receiver-rate", "20"]
    _, doc = run_module("deployments.bench.sync_gap", args, backend, pg_url)

    assert doc["requests"] == 20 and doc["statuses"] == {"200": 20}
    assert doc["handling"]["count"] == 20
    assert doc["server_time"]["count"] == 20  # every answer carried the receiver's own time
    assert doc["workers"] == 1
