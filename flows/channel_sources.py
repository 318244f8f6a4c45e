"""Which channels a flow talks to, and where their configuration comes from.

Without Prefect blocks: the ledger's channels that the channels file or ``STOCKSYNC_<NAME>_*``
variables configure. With ``use_blocks``: a channel block named as the channel, of its kind's type.
"""

from __future__ import annotations

from prefect.blocks.core import Block

from blocks.channels import (
    AmazonSPAPICredentials,
    CustomChannel,
    ShopifyCredentials,
    WooCommerceCredentials,
)
from tasks.sync import ChannelSource, configured_channels, ledger_kinds

__all__ = ["BLOCKS", "channel_sources"]

BLOCKS: dict[str, type[Block]] = {
    "shopify": ShopifyCredentials,
    "woocommerce": WooCommerceCredentials,
    "amazon": AmazonSPAPICredentials,
    "custom": CustomChannel,
}
"""Channel kind → the block type holding its configuration (the block is named as the channel)."""


async def channel_sources(
    url: str, names: list[str] | None, channels_file: str | None, use_blocks: bool
) -> tuple[dict[str, ChannelSource], dict[str, str]]:
    """The channels to work on (all configured ones when ``names`` is None), and why any named
    channel was left out."""
    if use_blocks:
        return await _block_sources(url, names)
    return configured_channels(url, names, channels_file)


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
