"""Prefect blocks holding each channel's connection details and secrets.

Each block builds the connector the rest of stocksync uses; flows load a block by name
(``ShopifyCredentials.load("shopify-main")``) and never see a secret in a parameter or a log.
Blocks only gather fields: ``stocksync.channels.registry`` builds the configuration and the
connector, the same way it does for the channels file and the environment outside Prefect.
"""

from __future__ import annotations

from typing import Any, ClassVar, cast

from prefect.blocks.core import Block
from pydantic import Field, SecretStr

from stocksync.channels.amazon import AmazonConfig, AmazonConnector
from stocksync.channels.custom import CustomChannelConfig, CustomChannelConnector
from stocksync.channels.registry import build_config, build_connector
from stocksync.channels.shopify import ShopifyConfig, ShopifyConnector
from stocksync.channels.woocommerce import WooCommerceConfig, WooCommerceConnector

__all__ = [
    "AmazonSPAPICredentials",
    "CustomChannel",
    "ShopifyCredentials",
    "WooCommerceCredentials",
]


class ShopifyCredentials(Block):
    """A Shopify store reached through the Admin GraphQL API."""

    _block_type_name: ClassVar[str] = "Shopify Credentials"
    _block_type_slug: ClassVar[str] = "stocksync-shopify-credentials"

    channel: str = Field(description="The stocksync channel name, e.g. shopify-main.")
    shop_url: str = Field(description="https://{shop}.myshopify.com")
    access_token: SecretStr = Field(description="Admin API access token.")
    webhook_secret: SecretStr = Field(description="The app's client secret; it signs webhooks.")
    location_id: str = Field(description="Location gid whose available counts stocksync sets.")
    api_version: str = Field(default="2026-01", description="Admin API version.")

    def _fields(self) -> dict[str, Any]:
        return {
            "shop_url": self.shop_url,
            "access_token": self.access_token.get_secret_value(),
            "webhook_secret": self.webhook_secret.get_secret_value(),
            "location_id": self.location_id,
            "api_version": self.api_version,
        }

    def to_config(self) -> ShopifyConfig:
        return cast(ShopifyConfig, build_config("shopify", self.channel, self._fields()))

    def get_connector(self) -> ShopifyConnector:
        return cast(ShopifyConnector, build_connector("shopify", self.channel, self._fields()))


class WooCommerceCredentials(Block):
    """A WooCommerce site reached through REST API v3."""

    _block_type_name: ClassVar[str] = "WooCommerce Credentials"
    _block_type_slug: ClassVar[str] = "stocksync-woocommerce-credentials"

    channel: str = Field(description="The stocksync channel name, e.g. woo-site.")
    base_url: str = Field(description="The site root, e.g. https://shop.example")
    consumer_key: SecretStr = Field(description="REST API consumer key (ck_…).")
    consumer_secret: SecretStr = Field(description="REST API consumer secret (cs_…).")
    webhook_secret: SecretStr = Field(description="The secret set on the shop's webhooks.")

    def _fields(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "consumer_key": self.consumer_key.get_secret_value(),
            "consumer_secret": self.consumer_secret.get_secret_value(),
            "webhook_secret": self.webhook_secret.get_secret_value(),
        }

    def to_config(self) -> WooCommerceConfig:
        return cast(WooCommerceConfig, build_config("woocommerce", self.channel, self._fields()))

    def get_connector(self) -> WooCommerceConnector:
        connector = build_connector("woocommerce", self.channel, self._fields())
        return cast(WooCommerceConnector, connector)


class AmazonSPAPICredentials(Block):
    """An Amazon seller account in one marketplace, reached through the Selling Partner API."""

    _block_type_name: ClassVar[str] = "Amazon SP-API Credentials"
    _block_type_slug: ClassVar[str] = "stocksync-amazon-sp-api-credentials"

    channel: str = Field(description="The stocksync channel name, e.g. amazon-eu.")
    endpoint: str = Field(description="Regional host, e.g. https://sellingpartnerapi-eu.amazon.com")
    token_url: str = Field(
        default="https://api.amazon.com/auth/o2/token", description="LWA token URL."
    )
    client_id: str = Field(description="LWA client id of the SP-API application.")
    client_secret: SecretStr = Field(description="LWA client secret.")
    refresh_token: SecretStr = Field(description="The seller's LWA refresh token.")
    seller_id: str = Field(description="Merchant token (seller id).")
    marketplace_id: str = Field(description="e.g. A1PA6795UKMFR9 (Germany).")
    notification_secret: SecretStr = Field(
        description="Shared secret the SQS/EventBridge relay sends with each notification."
    )

    def _fields(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "token_url": self.token_url,
            "client_id": self.client_id,
            "client_secret": self.client_secret.get_secret_value(),
            "refresh_token": self.refresh_token.get_secret_value(),
            "seller_id": self.seller_id,
            "marketplace_id": self.marketplace_id,
            "notification_secret": self.notification_secret.get_secret_value(),
        }

    def to_config(self) -> AmazonConfig:
        return cast(AmazonConfig, build_config("amazon", self.channel, self._fields()))

    def get_connector(self) -> AmazonConnector:
        return cast(AmazonConnector, build_connector("amazon", self.channel, self._fields()))


class CustomChannel(Block):
    """A B2B portal or in-house site described by configuration (see samples/custom-channel.example.json)."""

    _block_type_name: ClassVar[str] = "Custom Channel"
    _block_type_slug: ClassVar[str] = "stocksync-custom-channel"

    config: dict[str, Any] = Field(
        description="The channel's JSON configuration, secrets left out."
    )
    auth_value: SecretStr = Field(description="The value of the configured auth header.")
    webhook_secret: SecretStr = Field(description="The secret that signs the channel's webhooks.")

    def _fields(self) -> dict[str, Any]:
        return {
            **{key: value for key, value in self.config.items() if key != "name"},
            "auth_value": self.auth_value.get_secret_value(),
            "webhook_secret": self.webhook_secret.get_secret_value(),
        }

    def _name(self) -> str:
        return str(self.config.get("name", ""))

    def to_config(self) -> CustomChannelConfig:
        return cast(CustomChannelConfig, build_config("custom", self._name(), self._fields()))

    def get_connector(self) -> CustomChannelConnector:
        connector = build_connector("custom", self._name(), self._fields())
        return cast(CustomChannelConnector, connector)
