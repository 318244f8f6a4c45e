"""Open-loop load: each request leaves at its scheduled time, whether or not earlier ones answered.

A closed loop (N senders, each waiting for its answer) slows down with the server and hides the
queue it would build; here request ``n`` is sent at ``start + n / rate`` from one asyncio loop,
so a slow server meets the full rate and its queue shows in the handling times.

The sender speaks minimal HTTP/1.1 itself over keep-alive connections (a free one, else a new
one): it shares the machine's CPU with the receiver, and a general client's pool costs more per
request the more requests wait (httpx measured 1.9 ms of CPU per request, 7.5 ms when the
receiver fell behind; this costs a fraction of that, whatever the backlog).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from stocksync.bench.webhook_capture import Captured

__all__ = ["Sent", "replay"]

_Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]
IDLE_S = 2.0
"""A connection idle longer is closed, not reused: uvicorn closes idle ones after 5 s."""


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
    base_url: str, hooks: Sequence[Captured], rate: float, *, warm: int = 16
) -> tuple[list[Sent], float]:
    """Send ``hooks`` at ``rate`` per second; the results (in answer order) and the wall time."""
    return asyncio.run(_replay(base_url, hooks, rate, warm))


async def _replay(
    base_url: str, hooks: Sequence[Captured], rate: float, warm: int
) -> tuple[list[Sent], float]:
    url = urlsplit(base_url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    # (connection, last used): open some before the clock starts, as a channel's senders would
    opened = await asyncio.gather(*(asyncio.open_connection(host, port) for _ in range(warm)))
    idle = [(conn, time.monotonic() + 0.2) for conn in opened]
    results: list[Sent] = []
    start = time.monotonic() + 0.2
    tasks = []
    for n, hook in enumerate(hooks):
        at = start + n / rate
        if (delay := at - time.monotonic()) > 0:
            await asyncio.sleep(delay)
        request = _request(host, port, hook)
        tasks.append(asyncio.create_task(_send(host, port, idle, request, at, results)))
    await asyncio.gather(*tasks)
    took = time.monotonic() - start
    for (_, writer), _ in idle:
        writer.close()
    return results, took


def _request(host: str, port: int, hook: Captured) -> bytes:
    lines = [f"POST {hook.path} HTTP/1.1", f"Host: {host}:{port}",
             f"Content-Length: {len(hook.body)}"]  # fmt: skip
    lines += [f"{k}: {v}" for k, v in hook.headers.items() if k.lower() != "content-length"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + hook.body


async def _send(
    host: str,
    port: int,
    idle: list[tuple[_Conn, float]],
    request: bytes,
    at: float,
    out: list[Sent],
) -> None:
    sent = time.monotonic()
    try:
        conn = await _connection(host, port, idle, sent)
        conn[1].write(request)
        status, headers = await asyncio.wait_for(_answer(conn[0]), timeout=30)
    except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
        out.append(Sent(0, time.monotonic() - sent, None, sent - at))
        return
    done = time.monotonic()
    idle.append((conn, done))
    out.append(Sent(status, done - sent, _server_s(headers.get("server-timing", "")), sent - at))


async def _connection(host: str, port: int, idle: list[tuple[_Conn, float]], now: float) -> _Conn:
    """The most recently used idle connection, else a new one."""
    while idle:
        conn, used = idle.pop()
        if now - used < IDLE_S:
            return conn
        conn[1].close()
    return await asyncio.open_connection(host, port)


async def _answer(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    """Status and headers of one answer; its body (Content-Length) is read and dropped."""
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    status = int(head[0].split(" ", 2)[1])
    headers = {}
    for line in head[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers


def _server_s(timing: str) -> float | None:
    """``app;dur=12.34`` (milliseconds) → 0.01234."""
    for part in timing.split(";"):
        if part.strip().startswith("dur="):
            return float(part.strip()[4:]) / 1000
    return None
