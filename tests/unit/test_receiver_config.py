"""The receiver finds a channel's webhook secret and custom spec without a Prefect server."""

from __future__ import annotations

import shutil
from importlib.resources import files
from pathlib import Path

import pytest

from stocksync.receiver.parsers import custom_config_from_env
from stocksync.receiver.secrets import configured_secret

SAMPLES = files("stocksync") / "samples"


@pytest.fixture
def channels_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("stocksync-channels.example.toml", "custom-channel.example.json"):
        shutil.copy(str(SAMPLES / name), tmp_path / name)
    path = tmp_path / "stocksync-channels.example.toml"
    path.write_text(
        path.read_text().replace(
            'consumer_key = "ck_replace_me"',
            'consumer_key = "ck_replace_me"\nwebhook_secret = "woo-from-file"',
        )
    )
    monkeypatch.setenv("STOCKSYNC_CHANNELS_FILE", str(path))
    return path


def test_the_environment_wins_over_the_file_and_the_file_over_nothing(
    channels_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert configured_secret("woo-site") == "woo-from-file"
    monkeypatch.setenv("STOCKSYNC_WOO_SITE_WEBHOOK_SECRET", "woo-from-env")
    assert configured_secret("woo-site") == "woo-from-env"
    assert configured_secret("shopify-main") is None
    assert configured_secret("ebay-uk") is None


def test_amazons_relay_secret_is_its_webhook_secret(
    channels_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STOCKSYNC_AMAZON_EU_WEBHOOK_SECRET", "relay-shared")
    assert configured_secret("amazon-eu") == "relay-shared"


def test_a_custom_channels_spec_comes_from_its_spec_file(channels_file: Path) -> None:
    config = custom_config_from_env("b2b-portal")
    assert config is not None and config.name == "b2b-portal"
    assert custom_config_from_env("woo-site") is None
    assert custom_config_from_env("ebay-uk") is None
