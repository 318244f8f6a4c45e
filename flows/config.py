"""A flow's configuration, from its parameters: the ledger, the channels, and Slack.

Every flow names these with the same parameters, and resolves them here:

* the ledger: a `stocksync-ledger-database` block (``database_block``), else ``database_url``,
  else STOCKSYNC_DATABASE_URL;
* the channels: the ledger's channels (all, or those named) that the channels file or
  ``STOCKSYNC_<NAME>_*`` variables configure; with ``use_blocks``, a channel block named as the
  channel, of its kind's type. A channel left out for a reason is logged, with the reason;
* Slack: a `stocksync-slack-alerts` block (``slack_block``), else STOCKSYNC_SLACK_* variables.
"""

from __future__ import annotations

from prefect import get_run_logger
from prefect.blocks.core import Block

from blocks.channels import (
    AmazonSPAPICredentials,
    CustomChannel,
    ShopifyCredentials,
    WooCommerceCredentials,
)
from blocks.ledger import LedgerDatabase
from blocks.slack import SlackAlerts
from stocksync.alerts.settings import AlertSettings
from stocksync.alerts.slack import SlackNotifier
from tasks.sync import ChannelSource, configured_channels, ledger_kinds

__all__ = ["BLOCKS", "channel_sources", "ledger_url", "slack_alerts"]

BLOCKS: dict[str, type[Block]] = {
    "shopify": ShopifyCredentials,
    "woocommerce": WooCommerceCredentials,
    "amazon": AmazonSPAPICredentials,
    "custom": CustomChannel,
}
"""Channel kind → the block type holding its configuration (the block is named as the channel)."""


async def ledger_url(database_block: str | None = None, database_url: str | None = None) -> str:
    """The ledger named by a block, else by the URL given, else by STOCKSYNC_DATABASE_URL."""
    if database_block:
        return (await LedgerDatabase.load(database_block)).url.get_secret_value()  # type: ignore[misc]
    from stocksync.settings import get_settings

    return database_url or get_settings().database_url


async def channel_sources(
    url: str, names: list[str] | None, channels_file: str | None, use_blocks: bool
) -> dict[str, ChannelSource]:
    """The channels to work on (all configured ones when ``names`` is None); a warning in the
    run's log for each channel left out for a reason (one not asked for is left out quietly)."""
    if use_blocks:
        sources, skipped = await _block_sources(url, names)
    else:
        sources, skipped = configured_channels(url, names, channels_file)
    for name, why in skipped.items():
        get_run_logger().warning("channel %s left out: %s", name, why)
    return sources


async def _block_sources(
    url: str, names: list[str] | None
) -> tuple[dict[str, ChannelSource], dict[str, str]]:
    """Channel sources from the blocks named as the channels (all ledger channels by default)."""
    kinds = ledger_kinds(url)
    sources: dict[str, ChannelSource] = {}
    skipped: dict[str, str] = {}
    for name in names if names is not None else sorted(kinds):
        block_type = BLOCKS.get(kinds.get(name, ""))
        if block_type is None:
            skipped[name] = "the ledger has no channel of this name with a block type"
            continue
        try:
            block = await block_type.load(name)
        except ValueError as exc:  # no such block document
            if names is not None:
                skipped[name] = str(exc)
            continue
        sources[name] = ChannelSource(name, kinds[name], block._fields())
    return sources, skipped


async def slack_alerts(slack_block: str | None) -> tuple[SlackNotifier | None, int]:
    """Where alerts go and the low-stock cooldown in minutes; no notifier when Slack is not set."""
    if slack_block:
        block = await SlackAlerts.load(slack_block)  # type: ignore[misc]
        return block.get_notifier(), block.cooldown_minutes
    settings = AlertSettings()
    return settings.notifier(), settings.cooldown_minutes
