"""The per-process registry the sync tasks share (reuse across runs, rebuild on a change), and
how ``stocksync worker`` hands its options on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from deployments.sync_worker import parse_args
from stocksync.cli.worker import worker_argv
from tasks.sync import ChannelSource, close_all, connector_for, ledger_for, registry_held

WOO = {
    "base_url": "http://127.0.0.1:9", "consumer_key": "ck_teal",
    "consumer_secret": "cs_teal", "webhook_secret": "wh",
}  # fmt: skip


@pytest.fixture(autouse=True)
def empty_registry() -> Iterator[None]:
    yield
    close_all()


def test_a_channel_keeps_its_connector_from_run_to_run() -> None:
    first = connector_for(ChannelSource("woo-site", "woocommerce", dict(WOO)))

    again = connector_for(ChannelSource("woo-site", "woocommerce", dict(WOO)))

    assert again is first


def test_a_changed_configuration_gets_a_new_connector_and_the_old_one_is_closed() -> None:
    first = connector_for(ChannelSource("woo-site", "woocommerce", dict(WOO)))

    second = connector_for(
        ChannelSource("woo-site", "woocommerce", {**WOO, "consumer_secret": "cs_rotated"})
    )

    assert second is not first
    assert first._client.is_closed and not second._client.is_closed  # type: ignore[attr-defined]


def test_close_all_closes_every_connector() -> None:
    held = connector_for(ChannelSource("woo-site", "woocommerce", dict(WOO)))

    close_all()

    assert held._client.is_closed  # type: ignore[attr-defined]
    assert connector_for(ChannelSource("woo-site", "woocommerce", dict(WOO))) is not held


def test_a_worker_stopping_first_leaves_the_registry_open_for_the_one_still_running(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    first, second = registry_held(), registry_held()
    first.__enter__()
    second.__enter__()
    connector = connector_for(ChannelSource("woo-site", "woocommerce", dict(WOO)))
    ledger = ledger_for(url)

    first.__exit__(None, None, None)

    assert not connector._client.is_closed  # type: ignore[attr-defined]
    assert ledger_for(url) is ledger
    assert connector_for(ChannelSource("woo-site", "woocommerce", dict(WOO))) is connector

    second.__exit__(None, None, None)

    assert connector._client.is_closed  # type: ignore[attr-defined]
    assert ledger_for(url) is not ledger


def test_a_source_never_shows_its_fields() -> None:
    assert "cs_teal" not in repr(ChannelSource("woo-site", "woocommerce", dict(WOO)))


def test_stocksync_worker_hands_its_options_to_the_worker_module() -> None:
    args = worker_argv(
        "sqlite:///x.db", None, ["shopify-main", "woo-site"], "ch.toml", True, "w1", 5.0
    )

    assert args == [
        "--database-url", "sqlite:///x.db", "--channels-file", "ch.toml", "--worker-id", "w1",
        "--idle-timeout", "5.0", "--channel", "shopify-main", "--channel", "woo-site",
        "--use-blocks",
    ]  # fmt: skip
    options = parse_args(args)
    assert (options.database_url, options.channels, options.use_blocks, options.idle_timeout_s) == (
        "sqlite:///x.db", ("shopify-main", "woo-site"), True, 5.0,
    )  # fmt: skip
