"""Reading channel responses the same way in every connector."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

__all__ = ["response_body", "retry_after_seconds"]


def response_body(response: httpx.Response) -> Any:
    """The body as JSON, or as text when it is not JSON (an HTML error page, a proxy's answer)."""
    try:
        return response.json()
    except ValueError:
        return response.text


def retry_after_seconds(response: httpx.Response) -> float | None:
    """``Retry-After`` as seconds, whether given as a number or an HTTP date."""
    raw = response.headers.get("retry-after")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        try:
            return max(0.0, (parsedate_to_datetime(raw) - datetime.now(UTC)).total_seconds())
        except (TypeError, ValueError):
            return None
