"""ORDER_CHANGE notifications, delivered the way an SQS queue or EventBridge rule hands them on.

Amazon signs nothing: the seller's own relay (an SQS consumer, or an EventBridge API destination)
POSTs each message to stocksync with a shared-secret header. Delivery is at-least-once and
unordered: a failed POST is retried, and faults can drop, duplicate, hold back or delay a message
(a delayed one joins the queue when its delay is over, ``sandbox.adversity``). A duplicate is the
same bytes again, so its ``NotificationId`` is unchanged.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx

from stocksync.sandbox.adversity import Postponer, webhook_delay_s
from stocksync.sandbox.amazon import AmazonState, NotificationTarget

__all__ = ["NotificationDispatcher", "eventbridge_envelope"]

RETRY_PAUSE_S = 0.05


def eventbridge_envelope(state: AmazonState, notification: dict[str, Any]) -> dict[str, Any]:
    """An EventBridge event carrying the notification under ``detail`` **[verify source name]**."""
    metadata = notification["NotificationMetadata"]
    return {
        "version": "0", "id": metadata["NotificationId"],
        "detail-type": notification["NotificationType"],
        "source": f"aws.partner/sellingpartnerapi.amazon.com/{metadata['ApplicationId']}",
        "account": "123456789012", "time": notification["EventTime"].split(".")[0] + "Z",
        "region": "us-east-1", "resources": [], "detail": notification,
    }  # fmt: skip


@dataclass(frozen=True)
class _Message:
    body: bytes
    order_id: str
    copies: int
    drop: bool
    hold: bool


class NotificationDispatcher:
    """Sends queued notifications from one background thread."""

    def __init__(self, state: AmazonState) -> None:
        self.state = state
        self._queue: queue.Queue[_Message | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="amazon-notifications", daemon=True)
        self._late = Postponer("amazon-notification-delay")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Deliver what is queued (delayed ones at once, and a held one), then end the thread."""
        self._late.close()
        self._queue.put(None)
        self._thread.join(timeout=10)

    def enqueue(self, notification: dict[str, Any]) -> None:
        """Queue one notification in the target's form; faults are read now."""
        target, faults = self.state.notifications, self.state.faults
        if target is None:
            return
        payload = notification
        if target.form == "eventbridge":
            payload = eventbridge_envelope(self.state, notification)
        order_id = notification["Payload"]["OrderChangeNotification"]["AmazonOrderId"]
        message = _Message(
            json.dumps(payload).encode(),
            order_id,
            2 if faults.duplicate_notifications else 1,
            faults.drop_notifications,
            faults.reorder_notifications,
        )
        with self.state.lock:
            delay = webhook_delay_s(faults.notification_delay_ms, faults.delay_rng)
        self._late.later(delay, lambda: self._queue.put(message))

    def _run(self) -> None:
        held: _Message | None = None
        with httpx.Client(follow_redirects=False, timeout=5.0) as client:
            while (message := self._queue.get()) is not None:
                if message.drop:
                    self._record(message, "dropped")
                elif message.hold and held is None:
                    held = message
                else:
                    self._send(client, message)
                    if held is not None:
                        self._send(client, held)
                        held = None
            if held is not None:
                self._send(client, held)

    def _send(self, client: httpx.Client, message: _Message) -> None:
        for _ in range(message.copies):
            self._deliver(client, message)

    def _deliver(self, client: httpx.Client, message: _Message) -> None:
        """POST until a 2xx or ``attempts`` run out, pausing a little longer each time."""
        target: NotificationTarget | None = self.state.notifications
        if target is None:
            return
        outcome: int | str = "not sent"
        for attempt in range(target.attempts):
            try:
                answer = client.post(
                    target.url, content=message.body,
                    headers={"Content-Type": "application/json", target.header: target.secret},
                )  # fmt: skip
                outcome = answer.status_code
            except httpx.HTTPError as exc:
                outcome = type(exc).__name__
            if isinstance(outcome, int) and 200 <= outcome < 300:
                break
            time.sleep(RETRY_PAUSE_S * (attempt + 1))
        self._record(message, outcome)

    def _record(self, message: _Message, outcome: int | str) -> None:
        with self.state.lock:
            self.state.deliveries.append({"order_id": message.order_id, "outcome": outcome})
