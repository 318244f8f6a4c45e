"""When the channels of one drain stop taking new changes: all together, never one alone."""

from __future__ import annotations

from stocksync.sync.drain import _Busy


def test_channels_keep_going_while_any_found_work_in_its_last_round() -> None:
    busy = _Busy(["amazon-eu", "shopify-main", "woo-site"])
    busy.note("shopify-main", False)
    busy.note("woo-site", False)

    assert busy.keep_going()  # Amazon's first round is not over: the others stay


def test_once_no_channel_found_work_the_drain_is_over_for_every_channel() -> None:
    busy = _Busy(["amazon-eu", "woo-site"])
    busy.note("amazon-eu", False)
    busy.note("woo-site", False)
    assert not busy.keep_going()

    # Amazon's next round finds work after all, but WooCommerce has gone: it must stop too, so
    # the run ends and the next one serves both, instead of Amazon draining alone for seconds.
    busy.note("amazon-eu", True)
    assert not busy.keep_going()
