"""Open-loop load: each request leaves at its scheduled time, whether or not earlier ones answered.

A closed loop (N senders, each waiting for its answer) slows down with the server and hides the
queue it would build; here request ``n`` is sent at ``start + n / rate`` from one asyncio loop,
so a slow server meets the full rate and its queue shows in the handling times.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from stocksync.bench.webhook_capture import Captured

__all__ = ["Sent", "replay"]


@dataclass(frozen=True, slots=True)
class Sent:
    """One request: its answer's status, client time (send → complete answer), the server's own
    time from its ``Server-Timing`` header (None without one) and how late it left."""

    status: int
    """The HTTP status; 0 when no answer came (connection refused, reset or timed out)."""
    client_s: float
    server_s: float | None
    late_s: float


def replay(
    base_url: str, hooks: Sequence[Captured], rate: float, *, connections: int = 64
) -> tuple[list[Sent], float]:
    """Send ``hooks`` at ``rate`` per second; the results (in answer order) and the wall time."""
    return asyncio.run(_replay(base_url, hooks, rate, connections))


async def _replay(
    base_url: str, hooks: Sequence[Captured], rate: float, connections: int
) -> tuple[list[Sent], float]:
    # Idle connections are dropped before uvicorn's 5 s keep-alive ends, so a request never
    # races the server closing its connection.
    limits = httpx.Limits(
        max_connections=connections, max_keepalive_connections=connections, keepalive_expiry=2.0
    )
    async with httpx.AsyncClient(base_url=base_url, timeout=30.0, limits=limits) as client:
        # Open the connections before the clock starts, as a channel's long-lived senders would.
        await asyncio.gather(*(client.get("/healthz") for _ in range(min(connections, 16))))
        results: list[Sent] = []
        start = time.monotonic() + 0.2
        tasks = []
        for n, hook in enumerate(hooks):
            at = start + n / rate
            if (delay := at - time.monotonic()) > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(_send(client, hook, at, results)))
        await asyncio.gather(*tasks)
        return results, time.monotonic() - start


async def _send(client: httpx.AsyncClient, hook: Captured, at: float, out: list[Sent]) -> None:
    sent = time.monotonic()
    try:
        answer = await client.post(hook.path, content=hook.body, headers=hook.headers)
    except httpx.TransportError:  # counted as status 0: no answer
        out.append(Sent(0, time.monotonic() - sent, None, sent - at))
        return
    done = time.monotonic()
    out.append(Sent(answer.status_code, done - sent, _server_s(answer), sent - at))


def _server_s(answer: httpx.Response) -> float | None:
    """``app;dur=12.34`` (milliseconds) → 0.01234."""
    for part in answer.headers.get("server-timing", "").split(";"):
        if part.strip().startswith("dur="):
            return float(part.strip()[4:]) / 1000
    return None
