"""Where stocksync's low-stock and oversold alerts go, as a Prefect block."""

from __future__ import annotations

from typing import ClassVar

from prefect.blocks.core import Block
from pydantic import Field, SecretStr

from stocksync.alerts.slack import SLACK_API, SlackNotifier

__all__ = ["SlackAlerts"]


class SlackAlerts(Block):
    """A Slack bot token and channel for stock alerts (posted with slack-sdk, Block Kit)."""

    _block_type_name: ClassVar[str] = "Stocksync Slack Alerts"
    _block_type_slug: ClassVar[str] = "stocksync-slack-alerts"

    bot_token: SecretStr = Field(description="Bot token (xoxb-…) with chat:write.")
    channel: str = Field(default="#stock-alerts", description="Channel the alerts go to.")
    api_url: str = Field(default=SLACK_API, description="Slack Web API base URL.")
    cooldown_minutes: int = Field(
        default=720, description="Minimum time between two low-stock alerts for one SKU."
    )

    def get_notifier(self) -> SlackNotifier:
        return SlackNotifier(self.bot_token.get_secret_value(), self.channel, base_url=self.api_url)
