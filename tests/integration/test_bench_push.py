"""The push benchmark on small numbers: every change arrives, and each floor is the arithmetic of
the emulator's own limits. No timing is asserted; the machine decides those."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from stocksync.bench.push import PushOptions, run_kind, run_push_bench
from stocksync.bench.push_floors import admit, amazon_floor, batches_floor, shopify_floor
from stocksync.cli import app
from stocksync.sandbox.amazon import RATE_PLANS
from stocksync.sandbox.harness import KINDS
from stocksync.sandbox.shopify_cost import CostBucket

FAST_FEED = {"amazon": {"feed_threshold": 100}}
"""600 changes are below the connector's 1,500 feed threshold; a feed keeps the test quick."""


def test_every_kind_shows_every_pushed_quantity_and_is_set_against_a_positive_floor() -> None:
    options = PushOptions(changes=600, latency_ms=2, baseline=False, connector=FAST_FEED)

    report = run_push_bench(options)

    assert [r.kind for r in report.results] == list(KINDS) and report.baseline == []
    for result in report.results:
        assert result.ok, result
        assert (result.changes, result.arrived) == (600, 600)
        assert result.statuses == {"applied": 600}
        assert result.floor_s > 0 and result.floor_how
        assert result.ratio == round(result.seconds / result.floor_s, 3)
    calls = {r.kind: r.calls for r in report.results}
    assert calls == {"shopify": 3, "woocommerce": 6, "amazon": 1, "custom": 12}
    throttled = {r.kind: r.throttled for r in report.results}
    assert throttled == {"shopify": 0, "woocommerce": None, "amazon": 0, "custom": None}


def test_the_baseline_runs_the_same_pushes_without_latency() -> None:
    options = PushOptions(changes=120, latency_ms=3, kinds=("woocommerce",))

    doc = run_push_bench(options).to_dict()

    [timed], [baseline] = doc["results"], doc["baseline"]
    assert (timed["latency_ms"], baseline["latency_ms"]) == (3, 0)
    assert timed["floor_s"] == pytest.approx(2 * 0.003)
    assert baseline["floor_s"] == 0 and baseline["ratio"] is None and baseline["ok"]
    assert json.loads(json.dumps(doc)) == doc


def test_amazon_below_the_feed_threshold_patches_and_waits_for_them_to_go_live() -> None:
    plans = {**RATE_PLANS, "patchListingsItem": (200.0, 20)}
    options = PushOptions(
        changes=40,
        latency_ms=1,
        limits={"amazon": {"rate_plans": plans, "apply_delay_s": 0.2, "feed_processing_s": 60}},
        # the connector paces a little under the channel's limit, so clock jitter never draws a 429
        connector={"amazon": {"rate_plans": {"patchListingsItem": (190.0, 20)}}},
    )

    result = run_kind("amazon", 40, 1, options)

    assert result.ok and result.calls == 40
    assert result.seconds >= 0.2  # the clock ran until the last patch went live
    assert result.floor_how.startswith("40 patches at 200/s burst 20")
    # 20 from the burst, 20 more at 200/s, then the last one's apply delay
    assert result.floor_s == pytest.approx(20 / 200 + 0.2, abs=0.002)


def test_the_shopify_floor_is_the_cost_bucket_for_the_issue_numbers() -> None:
    state = SimpleNamespace(bucket=CostBucket(2000.0, 100.0, lambda: 0.0))

    floor = shopify_floor(state, 10_000, 0.05)

    # 40 mutations of 250 cost 260 each: (10,400 - 2,000) / 100 per second, after the first
    # call's 50 ms, which pass with the bucket full (nothing to refill)
    assert floor.seconds == pytest.approx(0.05 + 84.0)
    assert "40 inventorySetQuantities" in floor.how and "total 10400" in floor.how


def test_a_bucket_floor_is_latency_bound_until_the_bucket_runs_dry() -> None:
    assert admit([1] * 5, 0.05, size=5, rate=5) == pytest.approx(0.25)
    # the first 50 ms pass with the bucket full; then 5 tokens gone, 5 more at 0.2 s apart
    assert admit([1] * 10, 0.05, size=5, rate=5) == pytest.approx(0.05 + 1.0)
    assert admit([300], 0.0, size=200, rate=100) == pytest.approx(1.0)


def test_the_amazon_floor_takes_the_cheaper_of_a_feed_and_patches() -> None:
    state = SimpleNamespace(rate_plans=dict(RATE_PLANS), feed_processing_s=1.0, apply_delay_s=0.3)

    big, small = amazon_floor(state, 10_000, 0.05), amazon_floor(state, 3, 0.05)

    assert big.seconds == pytest.approx(3 * 0.05 + 1.0) and big.how.startswith("1 feed(s)")
    assert small.seconds == pytest.approx(3 * 0.05 + 0.3) and small.how.startswith("3 patches")
    assert batches_floor(10_000, 100, 0.05, "batches").seconds == pytest.approx(5.0)


def test_the_command_prints_one_json_document() -> None:
    args = ["bench", "push", "--json", "--changes", "50", "--latency-ms", "1",
            "--kind", "custom", "--no-baseline"]  # fmt: skip

    result = CliRunner().invoke(app, args)

    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [r["kind"] for r in doc["results"]] == ["custom"]
    assert doc["results"][0]["ok"] and doc["target_ratio"] == 1.25
