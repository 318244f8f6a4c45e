"""Slack alert settings from the environment, for running without a Prefect server."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from stocksync.alerts.slack import SLACK_API, SlackNotifier

__all__ = ["AlertSettings"]


class AlertSettings(BaseSettings):
    """``STOCKSYNC_SLACK_*`` variables; alerts are off while no bot token is set."""

    model_config = SettingsConfigDict(
        env_prefix="STOCKSYNC_SLACK_", env_ignore_empty=True, extra="ignore"
    )

    bot_token: SecretStr | None = Field(default=None, description="Bot token (xoxb-…).")
    channel: str = Field(default="#stock-alerts", description="Channel the alerts go to.")
    api_url: str = Field(default=SLACK_API, description="Slack Web API base URL.")
    cooldown_minutes: int = Field(
        default=720, description="Minimum time between two low-stock alerts for one SKU."
    )

    def notifier(self) -> SlackNotifier | None:
        """The notifier, or None when no token is configured."""
        if self.bot_token is None:
            return None
        return SlackNotifier(self.bot_token.get_secret_value(), self.channel, base_url=self.api_url)
