"""The WooCommerce emulator's webhooks: one background thread delivering each queued event once
(no retries, as WP-cron would), signed over the exact body bytes, disabling the hook after
repeated failures, with drop/duplicate/reorder faults; a delayed event joins the queue when its
delay is over (``sandbox.adversity``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import queue
import threading
from dataclasses import dataclass
from typing import Any

import httpx

from stocksync.sandbox.adversity import Postponer, webhook_delay_s
from stocksync.sandbox.woocommerce_state import WooState

__all__ = ["USER_AGENT", "WebhookDispatcher", "webhook_signature"]

MAX_DELIVERY_FAILURES = 5
USER_AGENT = "WooCommerce/8.9.1 Hookshot (WordPress/6.5.3)"


def webhook_signature(secret: str, body: bytes) -> str:
    """``base64(HMAC-SHA256(secret, body))``, as WooCommerce signs a delivery."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def _wp_json(payload: Any) -> bytes:
    """``wp_json_encode``: compact, ``\\/`` for slashes and ``\\uXXXX`` for non-ASCII."""
    return json.dumps(payload, separators=(",", ":")).replace("/", "\\/").encode()


@dataclass(frozen=True)
class _Job:
    topic: str
    resource_id: int
    copies: int
    drop: bool
    hold: bool


class WebhookDispatcher:
    """Delivers queued webhooks from one background thread, once each, as WP-cron would."""

    def __init__(self, state: WooState) -> None:
        self.state = state
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="woo-webhooks", daemon=True)
        self._late = Postponer("woo-webhook-delay")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Deliver what is queued (delayed ones at once, and any held), then end the thread."""
        self._late.close()
        self._jobs.put(None)
        self._thread.join(timeout=10)

    def enqueue(self, topic: str, resource_id: int) -> None:
        """Schedule a delivery; faults are read now, the payload is built when it is sent."""
        with self.state.lock:
            faults = self.state.faults
            delay = webhook_delay_s(faults.webhook_delay_ms, faults.delay_rng)
        copies = 2 if faults.duplicate_webhooks else 1
        job = _Job(topic, resource_id, copies, faults.drop_webhooks, faults.reorder_webhooks)
        self._late.later(delay, lambda: self._jobs.put(job))

    def _run(self) -> None:
        held: _Job | None = None
        with httpx.Client(follow_redirects=False) as client:
            while (job := self._jobs.get()) is not None:
                if job.drop:
                    self._record(job, "dropped")
                elif job.hold and held is None:
                    held = job
                else:
                    self._send(client, job)
                    if held is not None:
                        self._send(client, held)
                        held = None
            if held is not None:
                self._send(client, held)

    def _send(self, client: httpx.Client, job: _Job) -> None:
        for _ in range(job.copies):
            self._deliver(client, job)

    def _deliver(self, client: httpx.Client, job: _Job) -> None:
        state, hook = self.state, self.state.webhook
        with state.lock:
            if hook.status != "active" or not hook.delivery_url:
                return
            body = _wp_json(state.orders[job.resource_id])
            url = hook.delivery_url
        try:
            answer = client.post(
                url,
                content=body,
                headers=self._headers(job.topic, body),
                timeout=hook.timeout_s,
            )
            outcome: int | str = answer.status_code
        except httpx.HTTPError as exc:
            outcome = type(exc).__name__
        with state.lock:
            self._count(outcome)
        self._record(job, outcome)

    def _headers(self, topic: str, body: bytes) -> dict[str, str]:
        resource, event = topic.split(".", 1)
        state = self.state
        return {
            "Content-Type": "application/json", "User-Agent": USER_AGENT,
            "X-WC-Webhook-Source": state.site_url, "X-WC-Webhook-Topic": topic,
            "X-WC-Webhook-Resource": resource, "X-WC-Webhook-Event": event,
            "X-WC-Webhook-Signature": webhook_signature(state.webhook_secret, body),
            "X-WC-Webhook-ID": str(state.webhook.id),
            "X-WC-Webhook-Delivery-ID": self.delivery_id(),
        }  # fmt: skip

    def delivery_id(self) -> str:
        """``wp_hash(webhook id . time())``: the same for every delivery within one second."""
        second = int(self.state.clock().timestamp())
        message = f"{self.state.webhook.id}{second}".encode()
        return hmac.new(self.state.site_url.encode(), message, hashlib.md5).hexdigest()

    def _count(self, outcome: int | str) -> None:
        """200–302 resets ``failure_count``; a failure when it is already > 5 disables the hook."""
        hook = self.state.webhook
        if isinstance(outcome, int) and 200 <= outcome < 303:
            hook.failure_count = 0
        elif hook.failure_count > MAX_DELIVERY_FAILURES:
            hook.status = "disabled"
        else:
            hook.failure_count += 1

    def _record(self, job: _Job, outcome: int | str) -> None:
        with self.state.lock:
            self.state.deliveries.append(
                {"topic": job.topic, "resource_id": job.resource_id, "outcome": outcome}
            )
