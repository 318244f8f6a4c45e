"""The rate-guard benchmark records the same orders under each guard and compares."""

from __future__ import annotations

from stocksync.bench.rate_guard import CASES, run_rate_guard_bench


def test_the_rate_guard_benchmark_times_every_guard_and_reports_ratios_to_the_fixed_one() -> None:
    doc = run_rate_guard_bench(None, orders=30, skus=3).to_dict()

    assert doc["database"] == "sqlite" and (doc["orders"], doc["skus"]) == (30, 3)
    ms, ratio = doc["ms_per_order"], doc["ratio_to_fixed"]
    assert list(ms) == list(CASES) and all(v > 0 for v in ms.values())
    assert ratio["fixed"] == 1.0
    for case in CASES:
        assert abs(ratio[case] - ms[case] / ms["fixed"]) < 0.01
