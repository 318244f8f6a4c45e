"""Posting alerts to Slack through slack-sdk, with its own retries for 429, 5xx and dropped links.

The client's ``base_url`` is configurable so tests (and air-gapped installs with a relay) point the
real client at another endpoint. The token never appears in errors or logs.
"""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from stocksync.alerts.slack_messages import SlackMessage
from stocksync.domain.errors import StockSyncError

__all__ = ["AlertDeliveryError", "SlackNotifier"]

SLACK_API = "https://slack.com/api/"


class AlertDeliveryError(StockSyncError):
    """Slack did not take the message after the client's retries."""


class SlackNotifier:
    """Posts messages to one Slack channel as a bot."""

    def __init__(
        self,
        token: str,
        channel: str,
        *,
        base_url: str = SLACK_API,
        timeout_s: int = 10,
        max_retries: int = 3,
    ) -> None:
        self.channel = channel
        self._client = WebClient(
            token=token,
            base_url=base_url,
            timeout=timeout_s,
            retry_handlers=[
                ConnectionErrorRetryHandler(max_retry_count=max_retries),
                RateLimitErrorRetryHandler(max_retry_count=max_retries),
                ServerErrorRetryHandler(max_retry_count=max_retries),
            ],
        )

    def post(self, message: SlackMessage) -> str:
        """Post ``message``; returns Slack's timestamp id for it."""
        try:
            answer = self._client.chat_postMessage(
                channel=self.channel, text=message.text, blocks=message.blocks
            )
        except SlackApiError as exc:
            status = exc.response.status_code if exc.response is not None else "?"
            error = exc.response.get("error") if exc.response is not None else None
            raise AlertDeliveryError(
                f"Slack refused the message: {error or 'no error given'} (HTTP {status})"
            ) from None
        except (SlackClientError, OSError) as exc:
            raise AlertDeliveryError(f"Slack could not be reached: {type(exc).__name__}") from None
        return str(answer.get("ts", ""))
