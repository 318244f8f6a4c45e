"""The webhook receiver: ``POST /webhooks/{kind}/{channel}``, ``GET /healthz``, ``GET /metrics``.

Per request, in this order:

1. a body over the limit is refused with 413 and not stored. The rest of it is read and dropped,
   up to ``max_drain_bytes`` past the limit and :data:`DRAIN_TIMEOUT_S`, so a sender still writing
   it reads the 413 instead of a reset; beyond those the 413 closes the connection at once;
2. the signature (Amazon: the relay's shared secret) is checked on the raw body with the
   channel's secret: 401 if it fails, with nothing stored but a counter;
3. one ledger transaction checks that the channel exists with that kind (404 otherwise), stores
   the event in the inbox and applies it (``ingest_event``); the answer, 200, is sent only after
   that commit, with each event's outcome in the body.

A verified body that cannot be parsed, or an event that cannot be applied, is stored flagged and
answered 200: the channel would only send it again. When the ledger cannot be reached the answer
is 503, so the channel retries later. Headers and secrets are never logged.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import threading
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.to_thread
import psycopg
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from stocksync.channels.base import ChannelConnector
from stocksync.channels.custom import CustomChannelConfigError
from stocksync.channels.errors import SignatureError
from stocksync.domain.errors import NotFoundError
from stocksync.domain.messages import InboundEvent
from stocksync.ledger.inbox import EventOutcome, IsolationNeededError
from stocksync.ledger.service import Ledger
from stocksync.ledger.webhooks import receive_events, receive_unreadable
from stocksync.receiver.counters import Counters
from stocksync.receiver.parsers import (
    KINDS,
    CustomConfigLookup,
    UnknownKindError,
    custom_config_from_env,
    parser_for,
)
from stocksync.receiver.secrets import SecretLookup, configured_secret

__all__ = ["DEFAULT_MAX_BODY", "DEFAULT_MAX_DRAIN", "DRAIN_TIMEOUT_S", "create_app"]

log = logging.getLogger("stocksync.receiver")

DEFAULT_MAX_BODY = 1024 * 1024
DEFAULT_MAX_DRAIN = 8 * 1024 * 1024
"""Bytes past the limit read and dropped so the sender can finish writing and read the 413."""
DRAIN_TIMEOUT_S = 10.0
"""The longest a body over the limit is read on for (a sender trickling it holds a connection)."""
DEFAULT_MAX_CONCURRENT = 8
_LEDGER_DOWN = (SQLAlchemyError, psycopg.Error, OSError)


class EventAnswer(BaseModel):
    event_id: str
    topic: str
    kind: str
    status: str = Field(description="applied, unchanged, stored, flagged or duplicate")
    error: str | None = None
    order: dict[str, Any] | None = None


class WebhookAnswer(BaseModel):
    channel: str
    events: list[EventAnswer]


class _Parsers:
    """One parsing connector per (kind, channel, secret), closed with the app."""

    def __init__(self, custom_configs: CustomConfigLookup) -> None:
        self._custom = custom_configs
        self._built: dict[tuple[str, str, str], ChannelConnector] = {}
        self._lock = threading.Lock()

    def get(self, kind: str, channel: str, secret: str | None) -> ChannelConnector:
        key = (kind, channel, hashlib.sha256((secret or "").encode()).hexdigest())
        with self._lock:
            if key not in self._built:
                custom = self._custom(channel) if kind == "custom" else None
                self._built[key] = parser_for(kind, channel, secret, custom_config=custom)
            return self._built[key]

    def close(self) -> None:
        with self._lock:
            for parser in self._built.values():
                parser.close()
            self._built.clear()


def create_app(
    ledger: Ledger | None = None,
    *,
    secrets: SecretLookup = configured_secret,
    custom_configs: CustomConfigLookup = custom_config_from_env,
    max_body_bytes: int = DEFAULT_MAX_BODY,
    max_drain_bytes: int = DEFAULT_MAX_DRAIN,
    max_concurrent: int = DEFAULT_MAX_CONCURRENT,
) -> FastAPI:
    """The receiver over ``ledger`` (default: from the settings, opened at startup)."""
    parsers = _Parsers(custom_configs)
    counters = Counters()
    # Webhooks handled at once (each in a thread, holding a ledger connection): enough to keep
    # the database busy, few enough that threads do not queue for the GIL while holding row
    # locks other webhooks wait for. The rest wait here, in arrival order.
    limiter = anyio.CapacityLimiter(max_concurrent)
    state: dict[str, Ledger] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        state["ledger"] = ledger or Ledger.from_settings()
        # What is alive now (modules, the app, the engine) lives as long as the process: keep it
        # out of the collector's full passes, which otherwise stop every request for ~70-100 ms.
        gc.freeze()
        yield
        parsers.close()
        if ledger is None:  # ours: close its pool with the app
            state["ledger"].engine.dispose()

    app = FastAPI(
        title="stocksync webhook receiver",
        summary="Channel webhooks in: verified, stored in the inbox and applied to the ledger.",
        lifespan=lifespan,
    )
    app.state.counters = counters

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        """200 when the ledger answers, 503 when it does not."""
        try:
            await run_in_threadpool(state["ledger"].ping)
        except _LEDGER_DOWN:
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ok"})

    @app.get("/metrics", response_class=PlainTextResponse)
    async def metrics() -> str:
        """Counts of requests and events by kind, channel and outcome (Prometheus text)."""
        return counters.render()

    @app.post(
        "/webhooks/{kind}/{channel}",
        response_model=WebhookAnswer,
        responses={
            401: {"description": "Signature or shared secret missing or wrong; nothing stored"},
            404: {"description": "Unknown kind, or no channel of that kind in the ledger"},
            413: {"description": f"Body over {max_body_bytes} bytes"},
            503: {"description": "The ledger is unavailable; send the event again later"},
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "description": "The channel's raw webhook body, exactly as signed.",
                "content": {"application/json": {"schema": {}}, "*/*": {"schema": {}}},
            }
        },
    )
    async def receive(kind: str, channel: str, request: Request) -> JSONResponse:
        """Verify, store and apply one channel webhook (kind: shopify, woocommerce, amazon, custom)."""
        started = time.perf_counter()
        if kind not in KINDS:
            return _answer(404, f"no webhooks of kind {kind!r}")
        body, read_to_end = await _read_limited(request, max_body_bytes, max_drain_bytes)
        if body is None:
            counters.inc(kind, channel, "too_large")
            refused = _answer(413, f"body over {max_body_bytes} bytes")
            if not read_to_end:  # the rest stays unread: the server must not wait for it
                refused.headers["connection"] = "close"
            return refused
        receiver = _Receipt(state["ledger"], parsers, counters, secrets, kind, channel)
        answer = await anyio.to_thread.run_sync(
            receiver.handle, dict(request.headers), body, limiter=limiter
        )
        # The time spent here, for a caller that wants it apart from the network and the server's
        # queue (the receiver benchmark reads it).
        answer.headers["server-timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.2f}"
        return answer

    return app


class _Receipt:
    """One webhook request, from signature check to answer (runs in a worker thread)."""

    def __init__(
        self,
        ledger: Ledger,
        parsers: _Parsers,
        counters: Counters,
        secrets: SecretLookup,
        kind: str,
        channel: str,
    ) -> None:
        self.ledger, self.parsers, self.counters, self.secrets = ledger, parsers, counters, secrets
        self.kind, self.channel = kind, channel

    def handle(self, headers: dict[str, str], body: bytes) -> JSONResponse:
        secret = self.secrets(self.channel)
        if not secret and not _unsigned_ping(self.kind, headers):
            log.warning("no webhook secret configured for channel %s", self.channel)
            return self._refused(401, "no webhook secret is configured for this channel")
        try:
            parser = self.parsers.get(self.kind, self.channel, secret)
        except UnknownKindError as exc:
            return self._refused(404, str(exc))
        except CustomChannelConfigError:
            log.exception("the configuration of channel %s cannot be used", self.channel)
            return self._unavailable()
        try:
            events = parser.parse_webhook(headers, body)
        except SignatureError:
            return self._refused(401, "signature missing or wrong")
        except Exception as exc:  # verified but unreadable: keep it for a person, never a 500
            return self._store_unreadable(headers, body, f"{type(exc).__name__}: {exc}")
        try:
            outcomes = self._store_and_apply(headers, body, events)
        except NotFoundError as exc:
            return self._refused(404, str(exc))
        except _LEDGER_DOWN:
            return self._unavailable()
        except Exception as exc:
            log.exception("event for channel %s could not be applied", self.channel)
            return self._store_unreadable(headers, body, f"not applied: {type(exc).__name__}")
        return self._accepted(outcomes)

    def _store_and_apply(
        self, headers: Mapping[str, str], body: bytes, events: list[InboundEvent]
    ) -> list[EventOutcome]:
        """One transaction; without savepoints first, since almost every event applies cleanly.
        A refused order rolls it all back and the event is stored again, flagged, in a second
        one with a savepoint around the order (the ledger ends as if that ran first)."""

        def store(isolate: bool) -> list[EventOutcome]:
            return self.ledger.call(
                receive_events, kind=self.kind, channel=self.channel, headers=headers, body=body,
                events=events, isolate=isolate,
            )  # fmt: skip

        try:
            return store(isolate=False)
        except IsolationNeededError:
            return store(isolate=True)

    def _store_unreadable(self, headers: dict[str, str], body: bytes, error: str) -> JSONResponse:
        topic = next((v for k, v in headers.items() if k.endswith("-topic")), "")
        try:
            outcome = self.ledger.call(
                receive_unreadable, kind=self.kind, channel=self.channel, headers=headers,
                body=body, topic=topic, error=error,
            )  # fmt: skip
        except NotFoundError as exc:
            return self._refused(404, str(exc))
        except _LEDGER_DOWN:
            return self._unavailable()
        return self._accepted([outcome])

    def _accepted(self, outcomes: list[EventOutcome]) -> JSONResponse:
        for outcome in outcomes:
            self.counters.inc(self.kind, self.channel, outcome.status.value)
            if outcome.error:
                log.info("channel %s event %s %s: %s", self.channel, outcome.event_id,
                         outcome.status.value, outcome.error)  # fmt: skip
        # The shape of WebhookAnswer (the documented response model), built without validating
        # again what the ledger made.
        return JSONResponse({"channel": self.channel, "events": [o.to_dict() for o in outcomes]})

    def _refused(self, status: int, detail: str) -> JSONResponse:
        self.counters.inc(self.kind, self.channel, {401: "unauthorized", 404: "unknown"}[status])
        return _answer(status, detail)

    def _unavailable(self) -> JSONResponse:
        log.warning("ledger unavailable; channel %s will send again", self.channel)
        self.counters.inc(self.kind, self.channel, "unavailable")
        return _answer(503, "the ledger is unavailable; send the event again later")


def _answer(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


def _unsigned_ping(kind: str, headers: Mapping[str, str]) -> bool:
    """WooCommerce pings a new webhook unsigned; with no secret, only such a body may pass."""
    return kind == "woocommerce" and "x-wc-webhook-signature" not in headers


async def _read_limited(request: Request, limit: int, drain: int) -> tuple[bytes | None, bool]:
    """(the raw body, or None when it is over ``limit`` bytes; whether it was read to its end).

    A body over the limit is read on and dropped, up to ``drain`` bytes past the limit and for
    :data:`DRAIN_TIMEOUT_S`: a server that closes a connection with unread data in it resets it,
    and a sender still writing then never reads the answer. One declared larger than that is not
    read at all.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit + drain:
        return None, False
    chunks, size = [], 0
    stream = aiter(request.stream())
    async for chunk in stream:
        size += len(chunk)
        if size > limit:
            break
        chunks.append(chunk)
    else:
        return b"".join(chunks), True
    with anyio.move_on_after(DRAIN_TIMEOUT_S):
        async for chunk in stream:
            size += len(chunk)
            if size > limit + drain:
                return None, False
        return None, True
    return None, False
