"""Slack alert configuration: from a block or the environment, never showing the token."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from blocks.slack import SlackAlerts
from stocksync.alerts.settings import AlertSettings

TOKEN = "xoxb-1234-5678-secret"


def test_the_block_builds_a_notifier_for_its_channel_and_hides_the_token() -> None:
    block = SlackAlerts(bot_token=SecretStr(TOKEN), channel="#ops")

    assert block.get_notifier().channel == "#ops"
    assert TOKEN not in repr(block) and TOKEN not in block.model_dump_json()


def test_alerts_are_off_without_a_token_and_on_with_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STOCKSYNC_SLACK_BOT_TOKEN", raising=False)
    assert AlertSettings().notifier() is None

    monkeypatch.setenv("STOCKSYNC_SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("STOCKSYNC_SLACK_CHANNEL", "#buyers")
    monkeypatch.setenv("STOCKSYNC_SLACK_COOLDOWN_MINUTES", "60")
    settings = AlertSettings()

    notifier = settings.notifier()
    assert notifier is not None and notifier.channel == "#buyers"
    assert settings.cooldown_minutes == 60 and TOKEN not in repr(settings)
