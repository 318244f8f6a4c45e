"""Slow channels for the emulators: jittered API latency and late webhooks, reproducible by seed.

Every emulator draws the same two faults the same way. ``latency_jitter_ms`` adds
``uniform(0, jitter)`` ms to each API call's ``latency_ms``; ``webhook_delay_ms`` delivers each
webhook (Amazon: each notification) ``uniform(d, 2d)`` ms after the event. Each draw comes from
a generator of the fault's own, seeded from the emulator's fault seed and the fault's name, so
turning one on never shifts the draws of another (the 5xx rate, ids, the other fault).

A late webhook must not hold back the ones behind it, nor the shopper's answer:
:class:`Postponer` keeps every pending delivery on one timer thread and hands each one on when it
is due, so deliveries overtake each other as their draws say, as a real queue's would.
"""

from __future__ import annotations

import heapq
import itertools
import random
import threading
import time
from collections.abc import Callable

__all__ = ["Postponer", "call_delay_s", "fault_rng", "webhook_delay_s"]


def fault_rng(fault: str, seed: object = 0) -> random.Random:
    """The generator of one fault: the same fault and seed always draw the same sequence."""
    return random.Random(f"{fault}:{seed}")


def call_delay_s(latency_ms: float, jitter_ms: float, rng: random.Random) -> float:
    """Seconds one API call waits: ``latency_ms`` plus ``uniform(0, jitter_ms)``."""
    extra = rng.uniform(0.0, jitter_ms) if jitter_ms > 0 else 0.0
    return max(0.0, latency_ms + extra) / 1000.0


def webhook_delay_s(delay_ms: float, rng: random.Random) -> float:
    """Seconds one webhook waits before it goes out: ``uniform(delay_ms, 2 × delay_ms)``."""
    return rng.uniform(delay_ms, 2.0 * delay_ms) / 1000.0 if delay_ms > 0 else 0.0


class Postponer:
    """Runs callbacks at their due time, in due order, from one timer thread started on demand.

    A callback should be quick (put a delivery on its sender's queue); a slow one delays only
    those due after it. :meth:`close` runs everything still pending at once (a sender that stops
    delivers what it holds) and ends the thread; a later :meth:`later` starts a new one.
    """

    def __init__(self, name: str) -> None:
        self._name = name
        self._due: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def later(self, delay_s: float, callback: Callable[[], None]) -> None:
        """``callback()`` after ``delay_s`` seconds (now, on this thread, for 0 or less)."""
        if delay_s <= 0:
            callback()
            return
        with self._wake:
            heapq.heappush(self._due, (time.monotonic() + delay_s, next(self._order), callback))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            self._wake.notify()

    def pending(self) -> int:
        with self._wake:
            return len(self._due)

    def close(self) -> None:
        """Run every pending callback now, in due order, and end the timer thread."""
        with self._wake:
            due, self._due = sorted(self._due), []
            thread, self._thread = self._thread, None
            self._wake.notify_all()
        if thread is not None:
            thread.join(timeout=10)
        for _, _, callback in due:
            callback()

    def _run(self) -> None:
        me = threading.current_thread()
        while True:
            with self._wake:
                while not self._due and self._thread is me:
                    self._wake.wait()
                if self._thread is not me:
                    return
                at, _, callback = self._due[0]
                wait = at - time.monotonic()
                if wait > 0:
                    self._wake.wait(wait)
                    continue
                heapq.heappop(self._due)
            callback()
