"""The report: every file written, the tables' figures in the markdown, the same bytes twice."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from stocksync.simulate.accounting import ModeOutcome, account
from stocksync.simulate.baselines import run_baseline
from stocksync.simulate.catalog import SimCatalog, build_catalog
from stocksync.simulate.records import ModeRun
from stocksync.simulate.report import write_report
from stocksync.simulate.scenario import Burst, CatalogSpec, ChannelSpec, Scenario
from stocksync.simulate.stream import draw_stream

SCENARIO = Scenario(
    name="tiny-sale",
    description="A tiny <b>sale</b> & more",
    seed=4,
    hours=2,
    orders_per_day=3000,
    bursts=(Burst(start_h=0.5, minutes=30, factor=6, skus=("top:2",), sku_share=0.6),),
    catalog=CatalogSpec(skus=30, scarce=3, scarce_days=0.2, units_per_line_max=2),
    channels=(
        ChannelSpec(
            name="shopify-main", kind="shopify", priority=30, share_of_orders=0.5, last_units=5
        ),
        ChannelSpec(
            name="woo-site",
            kind="woocommerce",
            priority=10,
            share_of_orders=0.5,
            buffer=1,
            last_units=5,
            last_seconds=5,
        ),
    ),  # fmt: skip
    poll_every_min=15,
    manual_every_h=8,
    compression=720,
)


def simulated() -> tuple[SimCatalog, list[ModeRun], list[ModeOutcome]]:
    catalog = build_catalog(SCENARIO)
    stream = draw_stream(SCENARIO, catalog)
    runs = [run_baseline(SCENARIO, catalog, stream, mode) for mode in ("manual", "poll")]
    live = dataclasses.replace(runs[1], mode="stocksync", compression=720.0, real_seconds=10.0,
                               gaps_real_s=[0.5, 1.0, 2.0])  # fmt: skip
    runs.append(live)
    buffers = {c.name: c.buffer for c in SCENARIO.channels}
    outcomes = [
        account(
            run, stock=catalog.stock, bundles=catalog.bundles, buffers=buffers, end_t=SCENARIO.end_t
        )  # fmt: skip
        for run in runs
    ]
    return catalog, runs, outcomes


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_report(SCENARIO, *simulated(), tmp_path_factory.mktemp("report") / "out")


def test_the_report_writes_every_file(written: dict[str, Path]) -> None:
    files = written
    out = files["markdown"].parent
    assert set(files) == {"markdown", "html", "gap_histogram", "scarcest_sku", "outcomes"}
    assert files["markdown"].name == "report.md" and files["html"].name == "report.html"
    for name in ("gap_histogram", "scarcest_sku", "outcomes"):
        assert files[name] == out / f"{name}.png"
        assert files[name].read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_the_markdown_holds_the_outcome_tables_and_the_scenario(written: dict[str, Path]) -> None:
    catalog, _, outcomes = simulated()
    text = written["markdown"].read_text(encoding="utf-8")
    manual, poll = outcomes[0], outcomes[1]
    assert poll.oversold_orders > 0  # the table below has something to show
    row = next(line for line in text.splitlines() if line.startswith("| poll |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[:5] == [
        "poll",
        str(poll.orders_accepted),
        str(poll.oversold_orders),
        str(poll.seller_cancellations),
        f"{poll.cancel_rate * 100:.2f}%",
    ]
    assert cells[5] == ("over" if poll.over_amazon_limit else "within")
    assert cells[7:] == [
        str(poll.refused_in_stock),
        f"{poll.withheld_unit_hours:,.1f}",
        f"{poll.gaps.p50:,.1f}",
        f"{poll.gaps.p99:,.1f}",
        str(poll.api_calls),
    ]
    shop = manual.channels["shopify-main"]
    assert (
        f"| manual | shopify-main | {shop.orders_placed} | {shop.orders_accepted} |"
        f" {shop.orders_refused} | {shop.oversold_orders} | {shop.oversold_lines} |"
    ) in text
    assert "| seed | 4 |" in text
    assert "| poll every | 15 min |" in text
    assert catalog.scarcest() in text
    assert (
        "The stocksync mode ran the scenario's 2 h in 10 s of real time, compression ×720;"
        " its gaps in real seconds are p50 1 s, p90 1.8 s, p99 1.98 s, max 2 s."
    ) in text
    assert "The poll mode ran" not in text  # compression 1: nothing to state
    for name in ("gap_histogram", "scarcest_sku", "outcomes"):
        assert f"]({name}.png)" in text


def test_the_html_escapes_text_and_links_the_plots(written: dict[str, Path]) -> None:
    _, _, outcomes = simulated()
    page = written["html"].read_text(encoding="utf-8")
    assert "A tiny &lt;b&gt;sale&lt;/b&gt; &amp; more" in page
    assert "<b>sale</b>" not in page
    assert '<img src="scarcest_sku.png"' in page
    assert f"<td>{outcomes[1].orders_accepted}</td>" in page


def test_the_same_seed_writes_the_same_files(written: dict[str, Path], tmp_path: Path) -> None:
    again = write_report(SCENARIO, *simulated(), tmp_path)
    for name, path in written.items():
        assert path.read_bytes() == again[name].read_bytes(), name


@pytest.mark.parametrize("modes", [("poll",), ()])
def test_a_report_of_fewer_modes_still_draws(tmp_path: Path, modes: tuple[str, ...]) -> None:
    catalog, runs, outcomes = simulated()
    keep = [i for i, run in enumerate(runs) if run.mode in modes]
    files = write_report(
        SCENARIO, catalog, [runs[i] for i in keep], [outcomes[i] for i in keep], tmp_path
    )
    assert all(path.exists() for path in files.values())
