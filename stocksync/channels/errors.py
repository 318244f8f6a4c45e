"""Errors a channel call can end in, translated at the edge from HTTP and the channel's bodies.

StockSyncError
└── ChannelError                  carries the channel name and, where there was one, the body
    ├── TransientChannelError     429, 5xx, timeouts, connection errors; try again after retry_after
    ├── ChannelAuthError          401/403, expired or wrong credentials; a person must act
    ├── ChannelRejectedError      the channel refused the request as it stands (4xx, userErrors)
    ├── ChannelConflictError      a compare-and-set found another count than expected
    └── SignatureError            an inbound webhook's signature does not verify; nothing was parsed
"""

from __future__ import annotations

from typing import Any

from stocksync.domain.errors import StockSyncError

__all__ = [
    "ChannelAuthError",
    "ChannelConflictError",
    "ChannelError",
    "ChannelRejectedError",
    "SignatureError",
    "TransientChannelError",
]


class ChannelError(StockSyncError):
    """A call to a channel failed; ``body`` is what the channel answered, when it answered."""

    def __init__(
        self, channel: str, message: str, *, status: int | None = None, body: Any = None
    ) -> None:
        super().__init__(f"{channel}: {message}")
        self.channel = channel
        self.status = status
        self.body = body


class TransientChannelError(ChannelError):
    """Worth retrying: rate limited, the channel is down or slow, the network failed."""

    def __init__(
        self, channel: str, message: str, *, retry_after: float | None = None,
        status: int | None = None, body: Any = None,
    ) -> None:  # fmt: skip
        super().__init__(channel, message, status=status, body=body)
        self.retry_after = retry_after


class ChannelAuthError(ChannelError):
    """The channel does not accept our credentials; retrying will not help."""


class ChannelRejectedError(ChannelError):
    """The channel refused the request itself (validation, unknown item, limits)."""


class ChannelConflictError(ChannelError):
    """A compare-and-set write found the channel's count changed since we read it."""


class SignatureError(ChannelError):
    """An inbound webhook or notification failed verification and was not parsed."""
