"""The manual and polling baselines on hand-made streams, with answers worked out by hand."""

from __future__ import annotations

import pytest

from stocksync.simulate.accounting import account
from stocksync.simulate.baselines import run_baseline
from stocksync.simulate.catalog import SimCatalog
from stocksync.simulate.records import Cancel, Checkout, ModeRun, Return, StreamEvent
from stocksync.simulate.scenario import Adversity, ChannelSpec, Outage, Scenario

SHOPIFY = ChannelSpec(name="shop-a", kind="shopify", priority=2)
AMAZON = ChannelSpec(name="amazon-b", kind="amazon", priority=1)


def shop(stock: dict[str, int], bundles: dict[str, dict[str, int]] | None = None) -> SimCatalog:
    skus = tuple(stock)
    return SimCatalog(
        skus=skus,
        stock=stock,
        weights={sku: 1 / len(skus) for sku in skus},
        bundles=bundles or {},
        scarce=(),
        expected_daily=dict.fromkeys(skus, 1.0),
    )


def scenario(*channels: ChannelSpec, hours: float = 1.0, **fields: object) -> Scenario:
    return Scenario(name="tiny", hours=hours, channels=channels or (SHOPIFY, AMAZON), **fields)  # type: ignore[arg-type]


def buy(t: float, ref: str, channel: str, *lines: tuple[str, int]) -> Checkout:
    return Checkout(t=t, ref=ref, channel=channel, lines=tuple(lines))


def shown(run: ModeRun) -> list[tuple[float, str, str, int]]:
    return [(s.t, s.channel, s.sku, s.qty) for s in run.shown]


def outcome_of(s: Scenario, catalog: SimCatalog, run: ModeRun):
    buffers = {c.name: c.buffer for c in s.channels}
    return account(run, stock=catalog.stock, bundles=catalog.bundles, buffers=buffers,
                   end_t=s.end_t)  # fmt: skip


def test_two_channels_sell_the_same_last_units_between_polls() -> None:
    s, catalog = scenario(), shop({"MUG": 3})
    stream: list[StreamEvent] = [
        buy(60, "o1", "shop-a", ("MUG", 2)),
        buy(120, "o2", "amazon-b", ("MUG", 2)),
    ]
    run = run_baseline(s, catalog, stream, "poll")
    assert [a.accepted for a in run.answered] == [True, True]
    assert shown(run) == [
        (0.0, "shop-a", "MUG", 3),
        (0.0, "amazon-b", "MUG", 3),
        (60.0, "shop-a", "MUG", 1),
        (120.0, "amazon-b", "MUG", 1),
        (900.0, "shop-a", "MUG", 0),
        (900.0, "amazon-b", "MUG", 0),
    ]
    assert run.gaps_s == [840.0, 780.0]
    assert run.compression == 1.0 and run.mode == "poll"
    outcome = outcome_of(s, catalog, run)
    assert (outcome.oversold_orders, outcome.oversold_lines, outcome.oversold_units) == (1, 1, 1)
    assert outcome.seller_cancellations == 1
    assert outcome.channels["amazon-b"].seller_cancellations == 1
    assert outcome.channels["shop-a"].seller_cancellations == 0


def test_api_calls_read_orders_in_pages_and_write_changed_listings_in_batches() -> None:
    woo = ChannelSpec(name="woo-c", kind="woocommerce")
    s = scenario(SHOPIFY, AMAZON, woo, hours=0.25)
    catalog = shop({f"SKU-{i:03d}": 1000 for i in range(300)})
    stream = [buy(10 + i, f"o{i}", "shop-a", ("SKU-000", 1)) for i in range(251)]
    run = run_baseline(s, catalog, stream, "poll")
    # t=0: one read each; writes of 300 listings: Shopify 2 × 250, Amazon 300 patches, Woo 3 × 100.
    # t=900: Shopify reads its 251 orders in 2 pages and needs no write (it took its own sales off
    # SKU-000); the others read one empty page and write SKU-000 (one call each).
    assert run.api_calls == {"shop-a": (1 + 2) + 2, "amazon-b": (1 + 300) + (1 + 1),
                             "woo-c": (1 + 3) + (1 + 1)}  # fmt: skip


def test_manual_corrects_every_channel_every_manual_every_h_without_api_calls() -> None:
    s, catalog = scenario(hours=24, manual_every_h=8), shop({"MUG": 10})
    run = run_baseline(s, catalog, [buy(3600, "o1", "shop-a", ("MUG", 4))], "manual")
    assert shown(run) == [
        (0.0, "shop-a", "MUG", 10),
        (0.0, "amazon-b", "MUG", 10),
        (3600.0, "shop-a", "MUG", 6),
        (28800.0, "amazon-b", "MUG", 6),
    ]
    assert run.gaps_s == [28800.0 - 3600.0]
    assert run.api_calls == {"shop-a": 0, "amazon-b": 0}
    assert run.notes


def test_the_last_units_guard_and_the_buffer_shape_what_each_channel_shows() -> None:
    guarded = ChannelSpec(name="amazon-b", kind="amazon", priority=1, buffer=1, last_units=5)
    s, catalog = scenario(SHOPIFY, guarded), shop({"MUG": 4, "TRAY": 20})
    run = run_baseline(s, catalog, [buy(60, "o1", "amazon-b", ("MUG", 1))], "poll")
    assert shown(run)[:4] == [
        (0.0, "shop-a", "MUG", 4),
        (0.0, "shop-a", "TRAY", 20),
        (0.0, "amazon-b", "MUG", 0),  # at the last units only the top channel lists
        (0.0, "amazon-b", "TRAY", 19),  # its buffer held back
    ]
    assert not run.answered[0].accepted
    outcome = outcome_of(s, catalog, run)
    assert outcome.refused_in_stock == 1 and outcome.refused_in_stock_units == 1


def test_a_customer_cancel_puts_the_units_back_on_that_channels_count() -> None:
    s, catalog = scenario(), shop({"MUG": 3})
    stream = [buy(60, "o1", "shop-a", ("MUG", 2)), Cancel(t=300, ref="o1"),
              buy(400, "o2", "amazon-b", ("MUG", 5)), Cancel(t=500, ref="o2")]  # fmt: skip
    run = run_baseline(s, catalog, stream, "poll")
    assert shown(run) == [
        (0.0, "shop-a", "MUG", 3),
        (0.0, "amazon-b", "MUG", 3),
        (60.0, "shop-a", "MUG", 1),
        (300.0, "shop-a", "MUG", 3),
    ]  # the sync at 900 finds nothing to change
    assert run.cancelled == [Cancel(t=300, ref="o1")]  # o2 was refused: its cancel is nothing


def test_a_return_is_back_on_the_shelf_at_its_time_and_shown_at_the_next_sync() -> None:
    s, catalog = scenario(), shop({"MUG": 2})
    stream = [buy(60, "o1", "shop-a", ("MUG", 2)), Return(t=1000, ref="o1", lines=(("MUG", 1),))]
    run = run_baseline(s, catalog, stream, "poll")
    assert shown(run)[2:] == [
        (60.0, "shop-a", "MUG", 0),
        (900.0, "amazon-b", "MUG", 0),
        (1800.0, "shop-a", "MUG", 1),
        (1800.0, "amazon-b", "MUG", 1),
    ]
    assert run.returned == [Return(t=1000, ref="o1", lines=(("MUG", 1),))]


def test_a_bundle_is_a_listing_of_its_own_that_oversells_its_components() -> None:
    s, catalog = scenario(), shop({"MUG": 2}, {"MUG-PAIR": {"MUG": 2}})
    stream = [buy(60, "o1", "shop-a", ("MUG-PAIR", 1)), buy(120, "amazon", "amazon-b", ("MUG", 2))]
    run = run_baseline(s, catalog, stream, "poll")
    assert shown(run)[:4] == [
        (0.0, "shop-a", "MUG", 2),
        (0.0, "shop-a", "MUG-PAIR", 1),
        (0.0, "amazon-b", "MUG", 2),
        (0.0, "amazon-b", "MUG-PAIR", 1),
    ]
    assert shown(run)[4] == (60.0, "shop-a", "MUG-PAIR", 0)  # shop-a still shows 2 mugs
    assert [a.accepted for a in run.answered] == [True, True]
    assert outcome_of(s, catalog, run).oversold_units == 2


def test_an_order_at_the_sync_instant_is_in_that_sync() -> None:
    s, catalog = scenario(), shop({"MUG": 3})
    run = run_baseline(s, catalog, [buy(900, "o1", "shop-a", ("MUG", 1))], "poll")
    assert run.gaps_s == [0.0]
    assert (900.0, "amazon-b", "MUG", 2) in shown(run)


def test_an_outage_keeps_a_channels_stale_counts_until_it_is_back() -> None:
    outage = Outage(channel="amazon-b", start_h=0.2, minutes=20)  # 720 s to 1920 s
    s = scenario(adversity=Adversity(outages=(outage,)))
    catalog = shop({"MUG": 3})
    run = run_baseline(s, catalog, [buy(60, "o1", "shop-a", ("MUG", 1))], "poll")
    assert [x for x in shown(run) if x[1] == "amazon-b"] == [
        (0.0, "amazon-b", "MUG", 3),
        (2700.0, "amazon-b", "MUG", 2),
    ]
    assert run.gaps_s == [2700.0 - 60.0]


def test_an_unknown_mode_or_channel_is_refused() -> None:
    s, catalog = scenario(), shop({"MUG": 3})
    with pytest.raises(ValueError, match="no baseline mode"):
        run_baseline(s, catalog, [], "stocksync")
    with pytest.raises(ValueError, match="names no channel"):
        run_baseline(s, catalog, [buy(1, "o1", "ebay", ("MUG", 1))], "poll")
