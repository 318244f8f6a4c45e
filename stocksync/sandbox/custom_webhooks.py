"""The custom channel emulator's order events: built with the config's names and topics, signed
as the config says, and delivered after the answer has gone (dropped, duplicated or delayed on
request; a delayed event waits in its own task, holding back no other).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from fastapi import BackgroundTasks

from stocksync.channels.custom import CustomChannelConfig, build, webhook_signature
from stocksync.domain.messages import EventKind
from stocksync.sandbox.adversity import webhook_delay_s
from stocksync.sandbox.custom_orders import order_json
from stocksync.sandbox.custom_state import CustomState

__all__ = ["schedule_event", "topic_for"]


def topic_for(config: CustomChannelConfig, *kinds: EventKind) -> str:
    """The channel's topic for the first of ``kinds`` its config maps."""
    for kind in kinds:
        for topic, mapped in config.webhook.topics.items():
            if mapped is kind:
                return topic
    return str(kinds[0])


def _event(
    state: CustomState, config: CustomChannelConfig, topic: str, order: dict[str, Any]
) -> bytes:
    hook, event_id, payload = config.webhook, f"evt-{state.next_id()}", order_json(config, order)
    event = build({hook.event_id_field: event_id, hook.topic_field: topic,
                   hook.occurred_at_field: state.now(), hook.order_field: payload})  # fmt: skip
    return json.dumps(event, separators=(",", ":")).encode()


async def _deliver(
    state: CustomState, config: CustomChannelConfig, body: bytes, copies: int, delay_s: float
) -> None:
    """POST the signed event ``copies`` times (0: dropped) after ``delay_s``; every attempt is
    recorded."""
    if delay_s > 0:
        await asyncio.sleep(delay_s)
    if copies == 0 or state.webhook_url is None:
        with state.lock:
            state.deliveries.append(
                {"body": body, "outcome": "dropped" if copies == 0 else "no url"}
            )
        return
    signature = webhook_signature(config.webhook, body)
    headers = {"Content-Type": "application/json", config.webhook.signature_header: signature}
    async with httpx.AsyncClient(timeout=5.0) as client:
        for _ in range(copies):
            try:
                outcome: int | str = (
                    await client.post(state.webhook_url, content=body, headers=headers)
                ).status_code
            except httpx.HTTPError as exc:
                outcome = type(exc).__name__
            with state.lock:
                state.deliveries.append({"body": body, "outcome": outcome})


def schedule_event(
    tasks: BackgroundTasks, state: CustomState, config: CustomChannelConfig, topic: str,
    order: dict[str, Any],
) -> None:  # fmt: skip
    """Build the event now (holding the lock) and deliver it after the answer has gone."""
    faults = state.faults
    copies = 0 if faults.drop_webhooks else 2 if faults.duplicate_webhooks else 1
    delay = webhook_delay_s(faults.webhook_delay_ms, faults.delay_rng)
    tasks.add_task(_deliver, state, config, _event(state, config, topic, order), copies, delay)
