"""Building any channel's connector from plain fields, as the environment and files give them."""

from __future__ import annotations

import json
from importlib.resources import files

import pytest

from stocksync.channels.amazon import AmazonConnector
from stocksync.channels.custom import CustomChannelConnector
from stocksync.channels.registry import ChannelConfigError, build_config, build_connector
from stocksync.channels.shopify import ShopifyConfig, ShopifyConnector
from stocksync.channels.woocommerce import WooCommerceConnector

SHOPIFY = {"shop_url": "https://teal-mugs.myshopify.com", "access_token": "shpat_0123456789abcdef"}


def sample_spec() -> dict[str, object]:
    spec = json.loads((files("stocksync") / "samples" / "custom-channel.example.json").read_text())
    spec.pop("name")
    return spec


def test_values_given_as_text_take_the_configuration_field_types() -> None:
    config = build_config(
        "shopify", "shopify-main", {**SHOPIFY, "timeout_s": "2.5", "max_throttle_retries": "3"}
    )

    assert isinstance(config, ShopifyConfig)
    assert (config.name, config.timeout_s, config.max_throttle_retries) == ("shopify-main", 2.5, 3)


def test_every_kind_builds_its_own_connector() -> None:
    built = [
        build_connector("shopify", "shopify-main", SHOPIFY),
        build_connector(
            "WooCommerce", "woo-site",
            {"base_url": "https://shop.example", "consumer_key": "ck_1", "consumer_secret": "cs_1",
             "webhook_secret": "wh"},
        ),
        build_connector(
            "amazon", "amazon-eu",
            {"endpoint": "https://sellingpartnerapi-eu.amazon.com", "client_id": "amzn1.x",
             "token_url": "https://api.amazon.com/auth/o2/token", "client_secret": "lwa",
             "refresh_token": "Atzr|r", "rate_plans": '{"getOrders": [0.5, 20]}'},
        ),
        build_connector(
            "custom", "b2b-portal", {**sample_spec(), "auth_value": "Bearer t", "webhook_secret": "s"}
        ),
    ]  # fmt: skip
    try:
        assert [type(c) for c in built] == [
            ShopifyConnector, WooCommerceConnector, AmazonConnector, CustomChannelConnector
        ]  # fmt: skip
        assert [c.name for c in built] == ["shopify-main", "woo-site", "amazon-eu", "b2b-portal"]
        assert built[2].config.rate_plans == {"getOrders": (0.5, 20)}  # type: ignore[attr-defined]
    finally:
        for connector in built:
            connector.close()


def test_amazon_takes_its_relay_secret_under_the_webhook_secret_name_too() -> None:
    config = build_config(
        "amazon", "amazon-eu",
        {"endpoint": "https://e", "token_url": "https://t", "client_id": "c", "client_secret": "s",
         "refresh_token": "r", "webhook_secret": "relay-secret"},
    )  # fmt: skip
    assert config.notification_secret == "relay-secret"


def test_a_custom_channel_takes_its_secrets_flat_and_its_sections_as_json_text() -> None:
    spec = sample_spec()
    fields = {**spec, "push": json.dumps(spec["push"]), "auth_value": "Bearer portal-token"}
    fields["webhook_secret"] = "hook"

    config = build_config("custom", "b2b-portal", fields)

    assert config.auth.value.get_secret_value() == "Bearer portal-token"
    assert config.webhook.secret.get_secret_value() == "hook"
    assert config.push.batch_size == 50


def test_missing_and_unknown_fields_are_named_together() -> None:
    with pytest.raises(ChannelConfigError) as caught:
        build_config("shopify", "shopify-main", {"shop_url": "https://x", "acess_token": "typo"})
    message = str(caught.value)
    assert "'shopify-main'" in message
    assert "unknown field(s) acess_token" in message
    assert "missing field(s) access_token" in message
    assert "typo" not in message


def test_a_value_of_the_wrong_type_is_named_without_showing_it() -> None:
    with pytest.raises(ChannelConfigError, match="field timeout_s: expected a number") as caught:
        build_config("shopify", "shopify-main", {**SHOPIFY, "timeout_s": "soon"})
    assert "soon" not in str(caught.value)


@pytest.mark.parametrize("value", ["yes", "1.5", True])
def test_whole_numbers_refuse_anything_else(value: object) -> None:
    with pytest.raises(ChannelConfigError, match="max_throttle_retries"):
        build_config("shopify", "s", {**SHOPIFY, "max_throttle_retries": value})


def test_an_unknown_kind_lists_the_known_ones() -> None:
    with pytest.raises(ChannelConfigError, match="unknown channel kind 'ebay'.*shopify"):
        build_connector("ebay", "ebay-de", {})


def test_fields_naming_another_channel_are_refused() -> None:
    with pytest.raises(ChannelConfigError, match="names another channel"):
        build_config("shopify", "shopify-main", {**SHOPIFY, "name": "shopify-us"})


def test_a_broken_custom_specification_is_reported_with_the_channel_name() -> None:
    spec = sample_spec()
    del spec["read"]
    with pytest.raises(ChannelConfigError, match=r"'b2b-portal' \(custom\).*read"):
        build_config("custom", "b2b-portal", {**spec, "auth_value": "x", "webhook_secret": "y"})
