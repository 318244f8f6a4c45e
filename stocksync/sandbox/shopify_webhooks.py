"""The Shopify emulator's webhook sender: signed over the exact body bytes, retried, with faults.

Deliveries run on a background thread so a mutation answers before its webhooks go out; with
``webhook_workers`` above one, that thread hands them to as many concurrent senders. With the
``webhook_delay_ms`` fault each event joins the queue only when its delay is over
(``sandbox.adversity``); what happens from there is unchanged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import queue
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

from stocksync.sandbox.adversity import Postponer, webhook_delay_s
from stocksync.sandbox.shopify_values import Json, now

if TYPE_CHECKING:
    from stocksync.sandbox.shopify_state import ShopifyState

__all__ = ["Delivery", "WebhookSender"]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One webhook delivery: its last HTTP status (None when the connection failed)."""

    topic: str
    event_id: str
    status: int | None
    attempts: int
    dropped: bool = False


@dataclass(frozen=True, slots=True)
class _Event:
    topic: str
    body: bytes
    event_id: str
    triggered_at: str


class WebhookSender:
    """Delivers webhooks from a background thread: signed, retried, faults applied."""

    def __init__(self, state: ShopifyState) -> None:
        self._state = state
        self._queue: queue.Queue[_Event | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._late = Postponer("shopify-webhook-delay")

    def publish(self, topic: str, payload: Json) -> None:
        """Queue ``payload`` for the configured URL (nothing happens without one)."""
        state = self._state
        if not state.webhook_url:
            return
        event = _Event(topic, json.dumps(payload).encode(), str(uuid.uuid4()), now().isoformat())
        if state.rng.random() < state.faults.drop_webhook_rate:
            state.deliveries.append(Delivery(topic, event.event_id, None, 0, dropped=True))
            return
        self._ensure_thread()
        copies = 2 if state.faults.duplicate_webhooks else 1
        delay = webhook_delay_s(state.faults.webhook_delay_ms, state.delay_rng)
        self._late.later(delay, lambda: self._enqueue(event, copies))

    def _enqueue(self, event: _Event, copies: int) -> None:
        for _ in range(copies):
            self._queue.put(event)

    def _ensure_thread(self) -> None:
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="shopify-webhooks", daemon=True
                )
                self._thread.start()

    def stop(self) -> None:
        """Deliver what is queued (delayed events too, at once), then end the thread."""
        self._late.close()
        with self._start_lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout=10)

    def _run(self) -> None:
        workers = max(1, self._state.webhook_workers)
        with httpx.Client(timeout=self._state.webhook_timeout_s) as client:
            if workers == 1:
                for event in self._ordered_events():
                    self._deliver(client, event)
                return
            with ThreadPoolExecutor(workers, thread_name_prefix="shopify-webhook") as senders:
                for event in self._ordered_events():
                    senders.submit(self._deliver, client, event)

    def _ordered_events(self) -> Iterator[_Event]:
        """Events in delivery order: each one held back behind the next when reordering."""
        held: _Event | None = None
        while True:
            try:
                event = self._queue.get(timeout=0.2 if held else None)
            except queue.Empty:
                event, held = held, None
                if event is not None:
                    yield event
                continue
            if event is None:
                if held is not None:
                    yield held
                return
            if self._state.faults.reorder_webhooks and held is None:
                held = event
                continue
            yield event
            if held is not None:
                yield held
                held = None

    def _deliver(self, client: httpx.Client, event: _Event) -> None:
        state = self._state
        headers = self._headers(event)
        status: int | None = None
        attempt = 0
        for attempt in range(1, state.webhook_attempts + 1):
            try:
                status = client.post(
                    state.webhook_url or "", content=event.body, headers=headers
                ).status_code
            except httpx.HTTPError:
                status = None
            if status is not None and 200 <= status < 300:
                break
            if attempt < state.webhook_attempts:
                time.sleep(state.webhook_backoff_s * 2 ** (attempt - 1))
        state.deliveries.append(Delivery(event.topic, event.event_id, status, attempt))

    def _headers(self, event: _Event) -> dict[str, str]:
        state = self._state
        digest = hmac.new(state.app_secret.encode(), event.body, hashlib.sha256).digest()
        return {
            "Content-Type": "application/json",
            "X-Shopify-Topic": event.topic,
            "X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode(),
            "X-Shopify-Shop-Domain": state.shop_domain,
            "X-Shopify-API-Version": state.webhook_api_version,
            "X-Shopify-Webhook-Id": str(uuid.uuid4()),
            "X-Shopify-Event-Id": event.event_id,
            "X-Shopify-Triggered-At": event.triggered_at,
        }
