"""What the receiver did with each request, counted for ``GET /metrics`` (Prometheus text)."""

from __future__ import annotations

import threading
from collections import Counter

__all__ = ["Counters"]

MAX_SERIES = 1000
"""Channel names come from URLs anyone can send; past this many series new ones are pooled."""


class Counters:
    """Thread-safe counts by (kind, channel, outcome)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str, str]] = Counter()

    def inc(self, kind: str, channel: str, outcome: str, n: int = 1) -> None:
        with self._lock:
            key = (kind, channel, outcome)
            if key not in self._counts and len(self._counts) >= MAX_SERIES:
                key = (kind, "(other)", outcome)
            self._counts[key] += n

    def get(self, kind: str, channel: str, outcome: str) -> int:
        with self._lock:
            return self._counts[(kind, channel, outcome)]

    def render(self) -> str:
        """The counts in the Prometheus text exposition format."""
        lines = [
            "# HELP stocksync_webhooks_total Webhook requests and events by outcome.",
            "# TYPE stocksync_webhooks_total counter",
        ]
        with self._lock:
            items = sorted(self._counts.items())
        for (kind, channel, outcome), n in items:
            labels = f'kind="{_esc(kind)}",channel="{_esc(channel)}",outcome="{_esc(outcome)}"'
            lines.append(f"stocksync_webhooks_total{{{labels}}} {n}")
        return "\n".join(lines) + "\n"


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
