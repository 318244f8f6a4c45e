"""Channel configuration from a file and STOCKSYNC_<NAME>_<FIELD> variables, without Prefect."""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path

import pytest

from stocksync.channels.registry import ChannelConfigError
from stocksync.channels.settings import channels_file, load_channel
from stocksync.channels.shopify import ShopifyConnector

TOML = """
[channels.shopify-main]
kind = "shopify"
shop_url = "https://teal-mugs.myshopify.com"
location_id = "gid://shopify/Location/124656943"
timeout_s = 5

[channels.woo-site]
kind = "woocommerce"
base_url = "https://shop.example"
consumer_key = "ck_file"
"""
TOKEN = "shpat_0123456789abcdef"


@pytest.fixture
def toml_file(tmp_path: Path) -> Path:
    path = tmp_path / "stocksync-channels.toml"
    path.write_text(TOML)
    return path


def test_the_file_gives_the_fields_and_the_environment_the_secret(toml_file: Path) -> None:
    env = {"STOCKSYNC_SHOPIFY_MAIN_ACCESS_TOKEN": TOKEN, "STOCKSYNC_SHOPIFY_MAIN_TIMEOUT_S": "2"}

    settings = load_channel("shopify-main", path=toml_file, environ=env)
    connector = settings.connector()

    assert settings.kind == "shopify"
    assert settings.fields["timeout_s"] == "2"
    assert settings.sources == (str(toml_file), "environment")
    assert isinstance(connector, ShopifyConnector) and connector.name == "shopify-main"
    connector.close()


def test_secrets_are_masked_in_the_repr(toml_file: Path) -> None:
    env = {
        "STOCKSYNC_SHOPIFY_MAIN_ACCESS_TOKEN": TOKEN,
        "STOCKSYNC_SHOPIFY_MAIN_WEBHOOK_SECRET": "w-s",
    }
    shown = repr(load_channel("shopify-main", path=toml_file, environ=env))
    assert TOKEN not in shown and "w-s" not in shown
    assert "teal-mugs.myshopify.com" in shown


def test_the_file_named_by_the_variable_is_read_before_the_default(
    toml_file: Path, tmp_path: Path
) -> None:
    other = tmp_path / "elsewhere.json"
    other.write_text(json.dumps({"channels": {"shopify-main": {"kind": "woocommerce"}}}))

    assert channels_file(environ={}, cwd=tmp_path) == toml_file
    assert channels_file(environ={"STOCKSYNC_CHANNELS_FILE": str(other)}, cwd=tmp_path) == other
    assert load_channel("shopify-main", environ={"STOCKSYNC_CHANNELS_FILE": str(other)}).kind == (
        "woocommerce"
    )


def test_the_json_default_is_used_when_there_is_no_toml(tmp_path: Path) -> None:
    (tmp_path / "stocksync-channels.json").write_text(json.dumps(
        {"channels": {"woo-site": {"kind": "woocommerce", "base_url": "https://shop.example",
                                   "consumer_key": "ck", "consumer_secret": "cs",
                                   "webhook_secret": "wh"}}}
    ))  # fmt: skip
    connector = load_channel("woo-site", environ={}, cwd=tmp_path).connector()
    assert connector.name == "woo-site" and connector.compare_and_set is False
    connector.close()


def test_a_channel_can_live_in_the_environment_alone(tmp_path: Path) -> None:
    env = {
        "STOCKSYNC_WOO_SITE_KIND": "woocommerce",
        "STOCKSYNC_WOO_SITE_BASE_URL": "https://shop.example",
        "STOCKSYNC_WOO_SITE_CONSUMER_KEY": "ck",
        "STOCKSYNC_WOO_SITE_CONSUMER_SECRET": "cs",
        "STOCKSYNC_WOO_SITE_WEBHOOK_SECRET": "wh",
        "STOCKSYNC_WOO_SITE_UNRELATED": "ignored",
        "STOCKSYNC_DATABASE_URL": "sqlite:///x.db",
    }
    settings = load_channel("woo-site", environ=env, cwd=tmp_path)
    assert settings.sources == ("environment",)
    settings.connector().close()


def test_the_ledger_kind_is_the_last_resort(tmp_path: Path) -> None:
    env = {
        "STOCKSYNC_SHOPIFY_MAIN_SHOP_URL": "https://x",
        "STOCKSYNC_SHOPIFY_MAIN_ACCESS_TOKEN": "t",
    }
    assert load_channel("shopify-main", environ=env, cwd=tmp_path, ledger_kind="shopify").kind == (
        "shopify"
    )
    with pytest.raises(ChannelConfigError, match="STOCKSYNC_SHOPIFY_MAIN_KIND"):
        load_channel("shopify-main", environ=env, cwd=tmp_path)


def test_a_channel_configured_nowhere_says_where_to_configure_it(toml_file: Path) -> None:
    with pytest.raises(ChannelConfigError) as caught:
        load_channel("amazon-eu", path=toml_file, environ={})
    assert "no configuration for channel 'amazon-eu'" in str(caught.value)
    assert "STOCKSYNC_AMAZON_EU_KIND" in str(caught.value)


def test_a_missing_secret_names_the_field_and_the_variable_but_never_a_value(
    toml_file: Path,
) -> None:
    env = {"STOCKSYNC_WOO_SITE_CONSUMER_SECRET": "cs_very_secret"}
    with pytest.raises(ChannelConfigError) as caught:
        load_channel("woo-site", path=toml_file, environ=env).connector()
    message = str(caught.value)
    assert "missing field(s) webhook_secret" in message
    assert "STOCKSYNC_WOO_SITE_<FIELD>" in message
    assert "cs_very_secret" not in message


def test_a_custom_channel_reads_its_spec_file_relative_to_the_channels_file(tmp_path: Path) -> None:
    spec = json.loads((files("stocksync") / "samples" / "custom-channel.example.json").read_text())
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "portal.json").write_text(json.dumps(spec))
    path = tmp_path / "channels.toml"
    path.write_text(
        '[channels.b2b-portal]\nkind = "custom"\nspec_file = "specs/portal.json"\ntimeout_s = 3\n'
    )
    env = {"STOCKSYNC_B2B_PORTAL_AUTH_VALUE": "Bearer env-token"}

    settings = load_channel("b2b-portal", path=path, environ=env)
    connector = settings.connector()

    assert connector.config.timeout_s == 3  # type: ignore[attr-defined]
    assert connector.config.auth.value.get_secret_value() == "Bearer env-token"  # type: ignore[attr-defined]
    assert "env-token" not in repr(settings)
    assert "replace-with-the-portal-api-token" not in repr(settings)
    connector.close()


def test_a_named_file_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ChannelConfigError, match="does not exist"):
        load_channel("shopify-main", path=tmp_path / "nope.toml", environ={})


def test_a_file_of_the_wrong_shape_shows_the_expected_shape(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"shopify-main": {"kind": "shopify"}}))
    with pytest.raises(ChannelConfigError, match='expected {"channels"'):
        load_channel("shopify-main", path=path, environ={})


def test_the_sample_channels_file_builds_every_channel_once_its_secrets_are_set() -> None:
    path = Path(str(files("stocksync") / "samples" / "stocksync-channels.example.toml"))
    env = {
        "STOCKSYNC_SHOPIFY_MAIN_ACCESS_TOKEN": "shpat_x",
        "STOCKSYNC_WOO_SITE_CONSUMER_SECRET": "cs_x",
        "STOCKSYNC_WOO_SITE_WEBHOOK_SECRET": "wh_x",
        "STOCKSYNC_AMAZON_EU_CLIENT_SECRET": "lwa_x",
        "STOCKSYNC_AMAZON_EU_REFRESH_TOKEN": "Atzr|x",
        "STOCKSYNC_AMAZON_EU_WEBHOOK_SECRET": "relay_x",
        "STOCKSYNC_B2B_PORTAL_AUTH_VALUE": "Bearer x",
    }
    names = ["shopify-main", "woo-site", "amazon-eu", "b2b-portal"]
    connectors = [load_channel(n, path=path, environ=env).connector() for n in names]
    assert [c.name for c in connectors] == names
    for connector in connectors:
        connector.close()


def test_the_sandbox_config_shape_with_names_and_nested_secrets_is_accepted(
    tmp_path: Path,
) -> None:
    spec = json.loads((files("stocksync") / "samples" / "custom-channel.example.json").read_text())
    path = tmp_path / "sandbox.json"
    path.write_text(json.dumps({"channels": {
        "shopify-main": {"kind": "shopify", "name": "shopify-main", "shop_url": "http://127.0.0.1:1",
                         "access_token": "shpat_sandbox_token", "webhook_secret": "s",
                         "location_id": None, "timeout_s": 10.0},
        "b2b-portal": {"kind": "custom", **spec},
    }}))  # fmt: skip

    portal = load_channel("b2b-portal", path=path, environ={})
    for name in ("shopify-main", "b2b-portal"):
        load_channel(name, path=path, environ={}).connector().close()
    assert "replace-with-the-portal-api-token" not in repr(portal)


def test_a_custom_section_given_as_json_text_is_masked_whole(tmp_path: Path) -> None:
    env = {
        "STOCKSYNC_B2B_PORTAL_KIND": "custom",
        "STOCKSYNC_B2B_PORTAL_AUTH": '{"header": "X-Api-Key", "value": "key-in-env"}',
    }
    assert "key-in-env" not in repr(load_channel("b2b-portal", environ=env, cwd=tmp_path))
