"""Where a channel's webhook secret comes from: the environment now, anything injectable later.

The receiver only needs a function from channel name to secret, so a Prefect block, a vault or
a test can stand in for the environment without the receiver knowing.
"""

from __future__ import annotations

import os
from collections.abc import Callable

__all__ = ["SecretLookup", "env_secret", "secret_env_name"]

SecretLookup = Callable[[str], str | None]
"""Channel name → its webhook secret (None when the channel has none configured)."""


def secret_env_name(channel: str) -> str:
    """``STOCKSYNC_<CHANNEL>_WEBHOOK_SECRET``: the name upper-cased, ``-`` as ``_``."""
    return f"STOCKSYNC_{channel.upper().replace('-', '_')}_WEBHOOK_SECRET"


def env_secret(channel: str) -> str | None:
    """The channel's webhook secret from the process environment."""
    return os.environ.get(secret_env_name(channel)) or None
