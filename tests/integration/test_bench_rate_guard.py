"""The rate-guard benchmark records the same orders with and without the guard and compares."""

from __future__ import annotations

from stocksync.bench.rate_guard import run_rate_guard_bench


def test_the_rate_guard_benchmark_times_both_ledgers_and_reports_their_ratio() -> None:
    doc = run_rate_guard_bench(None, orders=30, skus=3).to_dict()

    assert doc["database"] == "sqlite" and (doc["orders"], doc["skus"]) == (30, 3)
    without, with_guard = doc["ms_per_order_without_guard"], doc["ms_per_order_with_guard"]
    assert without > 0 and with_guard > 0
    assert abs(doc["ratio"] - with_guard / without) < 0.01
