"""The loopback webhook endpoint the contract tests deliver to: answers 200 and queues each POST."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from contextlib import contextmanager

from stocksync.sandbox.webhook_endpoint import Delivered as Received
from stocksync.sandbox.webhook_endpoint import webhook_endpoint

__all__ = ["Received", "webhook_receiver"]


@contextmanager
def webhook_receiver() -> Iterator[tuple[str, queue.Queue[Received]]]:
    """(URL to deliver to, queue of what arrived), served until the block ends."""
    with webhook_endpoint("/hooks") as served:
        yield served
