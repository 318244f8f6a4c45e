"""Connectors built only to verify and parse webhooks: the secret is all they need.

A receiver never calls a channel, so each connector gets placeholder connection fields (an
``.invalid`` host, no credentials). A custom channel also needs its field names, which come from
its spec in the channels file (see ``custom_config_from_env``); its webhook secret is replaced by the one
the receiver looked up.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import SecretStr

from stocksync.channels.amazon import AmazonConfig, AmazonConnector
from stocksync.channels.base import ChannelConnector
from stocksync.channels.custom import CustomChannelConfig, CustomChannelConnector
from stocksync.channels.registry import ChannelConfigError, build_config
from stocksync.channels.settings import load_channel
from stocksync.channels.shopify import ShopifyConfig, ShopifyConnector
from stocksync.channels.woocommerce import WooCommerceConfig, WooCommerceConnector

__all__ = [
    "KINDS",
    "CustomConfigLookup",
    "UnknownKindError",
    "custom_config_from_env",
    "parser_for",
]

KINDS = ("shopify", "woocommerce", "amazon", "custom")
PLACEHOLDER_URL = "https://receiver.invalid"
"""Never called: the receiver's connectors only parse."""

CustomConfigLookup = Callable[[str], CustomChannelConfig | None]
"""Channel name → its custom-channel configuration (None when it has none)."""


class UnknownKindError(LookupError):
    """A channel kind the receiver has no parser for, or a custom channel without configuration."""


def custom_config_from_env(channel: str) -> CustomChannelConfig | None:
    """The channel's spec from the channels file or ``STOCKSYNC_<CHANNEL>_SPEC_FILE``, if any."""
    try:
        settings = load_channel(channel)
        if settings.kind != "custom":
            return None
        config: CustomChannelConfig = build_config("custom", channel, settings.fields)
    except ChannelConfigError:
        return None
    return config


def parser_for(
    kind: str,
    channel: str,
    secret: str | None,
    *,
    custom_config: CustomChannelConfig | None = None,
) -> ChannelConnector:
    """A connector for ``channel`` of ``kind`` that can verify and parse its webhooks.

    Without a secret every signed request fails verification (only WooCommerce's unsigned ping
    passes, as it should).
    """
    secret = secret or ""
    if kind == "shopify":
        return ShopifyConnector(
            ShopifyConfig(
                name=channel,
                shop_url=PLACEHOLDER_URL,
                access_token="",
                webhook_secret=secret,
                location_id=None,
            )  # fmt: skip
        )
    if kind == "woocommerce":
        return WooCommerceConnector(
            WooCommerceConfig(
                name=channel,
                base_url=PLACEHOLDER_URL,
                consumer_key="",
                consumer_secret="",
                webhook_secret=secret,
            )  # fmt: skip
        )
    if kind == "amazon":
        return AmazonConnector(
            AmazonConfig(
                name=channel,
                endpoint=PLACEHOLDER_URL,
                token_url=PLACEHOLDER_URL,
                client_id="",
                client_secret="",
                refresh_token="",
                notification_secret=secret,
            )  # fmt: skip
        )
    if kind == "custom":
        if custom_config is None:
            raise UnknownKindError(f"custom channel {channel!r} has no configuration")
        hook = custom_config.webhook.model_copy(update={"secret": SecretStr(secret)})
        config = custom_config.model_copy(update={"name": channel, "webhook": hook})
        return CustomChannelConnector(config)
    raise UnknownKindError(f"no webhook parser for channel kind {kind!r}")
