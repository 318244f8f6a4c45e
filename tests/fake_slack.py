"""A local stand-in for Slack's Web API: records chat.postMessage calls, fails on request."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from stocksync.sandbox.server import serve_in_thread

TOKEN = "xoxb-test-token-not-real"


@dataclass
class FakeSlack:
    api_url: str = ""
    posts: list[dict[str, Any]] = field(default_factory=list)
    failures: list[int] = field(default_factory=list)
    """HTTP statuses to answer with, one per call, before answering normally."""
    calls: int = 0


@contextmanager
def fake_slack() -> Iterator[FakeSlack]:
    slack = FakeSlack()

    async def post_message(request: Request) -> JSONResponse:
        slack.calls += 1
        if slack.failures:
            status = slack.failures.pop(0)
            headers = {"Retry-After": "1"} if status == 429 else {}
            error = "ratelimited" if status == 429 else "service_unavailable"
            return JSONResponse({"ok": False, "error": error}, status, headers=headers)
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return JSONResponse({"ok": False, "error": "invalid_auth"})
        body = json.loads(await request.body())
        slack.posts.append(body)
        return JSONResponse(
            {"ok": True, "channel": body["channel"], "ts": f"1700000000.{len(slack.posts):06d}"}
        )

    app = Starlette(routes=[Route("/api/chat.postMessage", post_message, methods=["POST"])])
    base_url, stop = serve_in_thread(app)
    slack.api_url = f"{base_url}/api/"
    try:
        yield slack
    finally:
        stop()
