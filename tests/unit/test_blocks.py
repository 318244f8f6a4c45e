"""Blocks build their connectors and keep secrets out of reprs and dumps."""

from __future__ import annotations

import json
from importlib.resources import files

from pydantic import SecretStr

from blocks.channels import (
    AmazonSPAPICredentials,
    CustomChannel,
    ShopifyCredentials,
    WooCommerceCredentials,
)
from stocksync.channels.amazon import AmazonConnector
from stocksync.channels.custom import CustomChannelConnector
from stocksync.channels.shopify import ShopifyConnector
from stocksync.channels.woocommerce import WooCommerceConnector


def test_shopify_credentials_build_a_connector_without_showing_the_token() -> None:
    block = ShopifyCredentials(
        channel="shopify-main", shop_url="https://teal-mugs.myshopify.com",
        access_token=SecretStr("shpat_0123456789abcdef"), webhook_secret=SecretStr("whsec-1"),
        location_id="gid://shopify/Location/124656943",
    )  # fmt: skip

    connector = block.get_connector()

    assert isinstance(connector, ShopifyConnector) and connector.name == "shopify-main"
    connector.close()
    assert "shpat_0123456789abcdef" not in repr(block) + repr(block.to_config())
    assert "shpat_0123456789abcdef" not in block.model_dump_json()


def test_woocommerce_credentials_build_a_connector_without_showing_the_secrets() -> None:
    block = WooCommerceCredentials(
        channel="woo-site", base_url="https://shop.example", consumer_key=SecretStr("ck_abc"),
        consumer_secret=SecretStr("cs_def"), webhook_secret=SecretStr("woo-hook"),
    )  # fmt: skip

    connector = block.get_connector()

    assert isinstance(connector, WooCommerceConnector) and connector.name == "woo-site"
    connector.close()
    assert "cs_def" not in repr(block) + repr(block.to_config())


def test_a_custom_channel_block_merges_its_secrets_into_the_configuration() -> None:
    config = json.loads(
        (files("stocksync") / "samples" / "custom-channel.example.json").read_text()
    )
    config["auth"].pop("value", None)
    config["webhook"].pop("secret", None)
    block = CustomChannel(
        config=config, auth_value=SecretStr("Bearer portal-token"), webhook_secret=SecretStr("hook")
    )

    built = block.to_config()
    connector = block.get_connector()

    assert isinstance(connector, CustomChannelConnector) and connector.name == config["name"]
    connector.close()
    assert built.auth.value.get_secret_value() == "Bearer portal-token"
    assert "portal-token" not in repr(block) + block.model_dump_json()


def test_amazon_credentials_build_a_connector_without_showing_the_refresh_token() -> None:
    block = AmazonSPAPICredentials(
        channel="amazon-eu", endpoint="https://sellingpartnerapi-eu.amazon.com",
        client_id="amzn1.application-oa2-client.x", client_secret=SecretStr("lwa-secret"),
        refresh_token=SecretStr("Atzr|refresh-token"), seller_id="A2SELLER", marketplace_id="A1PA6795UKMFR9",
        notification_secret=SecretStr("relay-secret"),
    )  # fmt: skip

    connector = block.get_connector()

    assert isinstance(connector, AmazonConnector) and connector.name == "amazon-eu"
    connector.close()
    assert (
        "Atzr|refresh-token" not in repr(block) + repr(block.to_config()) + block.model_dump_json()
    )
