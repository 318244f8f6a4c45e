"""Where a channel's webhook secret comes from: the environment, then the channels file.

The receiver only needs a function from channel name to secret, so a Prefect block, a vault or
a test can stand in for these without the receiver knowing.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from stocksync.channels.registry import ChannelConfigError
from stocksync.channels.settings import load_channel

__all__ = ["SecretLookup", "configured_secret", "env_secret", "secret_env_name"]

SecretLookup = Callable[[str], str | None]
"""Channel name → its webhook secret (None when the channel has none configured)."""


def secret_env_name(channel: str) -> str:
    """``STOCKSYNC_<CHANNEL>_WEBHOOK_SECRET``: the name upper-cased, ``-`` as ``_``."""
    return f"STOCKSYNC_{channel.upper().replace('-', '_')}_WEBHOOK_SECRET"


def env_secret(channel: str) -> str | None:
    """The channel's webhook secret from the process environment."""
    return os.environ.get(secret_env_name(channel)) or None


def configured_secret(channel: str) -> str | None:
    """``STOCKSYNC_<CHANNEL>_WEBHOOK_SECRET``, else the channel's entry in the channels file."""
    found = env_secret(channel)
    if found:
        return found
    try:
        fields = load_channel(channel).fields
    except ChannelConfigError:
        return None
    nested = fields.get("webhook") if isinstance(fields.get("webhook"), dict) else {}
    value = (
        fields.get("webhook_secret") or fields.get("notification_secret") or nested.get("secret")
    )
    return str(value) if value else None
