"""The shopper stream played against running emulators on a compressed clock.

Each event happens at its real due time, ``t / compression`` seconds after the replay starts:
a checkout from a pool of shopper threads through the channel's shopper endpoint (a slow one
delays only its own thread), a customer's cancel through the channel's cancel endpoint (once
its checkout has been answered, and only if it was accepted), a return through the ledger as
the seller's warehouse records it (the returned lines shipped, then restocked, under keys of
their own so a rerun changes nothing). Outages switch the channel's API to answering 5xx for
their span. What happened goes into the run in scenario seconds of when it happened.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from stocksync.bench.fleet import Fleet
from stocksync.bench.shoppers import Placed
from stocksync.bench.sync_metrics import GapSampler
from stocksync.domain.errors import NotFoundError
from stocksync.ledger.results import OrderResult
from stocksync.simulate.records import Answered, Cancel, Checkout, ModeRun, Return, StreamEvent
from stocksync.simulate.scenario import Outage
from stocksync.simulate.stream import event_key

__all__ = ["CompressedClock", "LiveReplay"]

LEDGER_WAIT_S = 60.0
"""How long a return waits for its order to reach the ledger (real seconds)."""


class CompressedClock:
    """Scenario seconds ↔ ``time.monotonic()``, from :meth:`start` on."""

    def __init__(self, compression: float) -> None:
        self.compression = compression
        self.started = time.monotonic()

    def start(self) -> None:
        self.started = time.monotonic()

    def due(self, t: float) -> float:
        """The monotonic time scenario second ``t`` happens at."""
        return self.started + t / self.compression

    def t_of(self, moment: float) -> float:
        """The scenario second of monotonic time ``moment``."""
        return (moment - self.started) * self.compression

    def now(self) -> float:
        return self.t_of(time.monotonic())


class LiveReplay:
    """Plays one stream into ``run`` (answers, cancels and returns that took effect)."""

    def __init__(
        self,
        fleet: Fleet,
        clock: CompressedClock,
        run: ModeRun,
        sampler: GapSampler,
        *,
        threads: int,
        say: Callable[[str], Any],
    ) -> None:
        self.fleet, self.clock, self.run, self.sampler = fleet, clock, run, sampler
        self.threads, self.say = threads, say
        self.notes: list[str] = []
        self.placed: dict[str, tuple[str, str]] = {}
        """Stream ref → (channel, the channel's order id) of every accepted checkout."""
        self._lock = threading.Lock()
        self._errors: list[str] = []
        self._late_s = 0.0

    def play(self, stream: Sequence[StreamEvent], outages: Sequence[Outage] = ()) -> None:
        """Every event at its due time, outages switched on and off between them; returns once
        every event has been handled."""
        steps = sorted(
            [(event_key(e), n, e) for n, e in enumerate(stream)]
            + [((o.start_h * 3600.0, -1), -1, (o, 1.0)) for o in outages]
            + [((o.start_h * 3600.0 + o.minutes * 60.0, -1), -1, (o, 0.0)) for o in outages],
            key=lambda step: (step[0], step[1]),
        )
        checkouts: dict[str, Future[Answered | None]] = {}
        progress = _Progress(self, len(stream))
        self.clock.start()
        with ThreadPoolExecutor(self.threads, thread_name_prefix="shopper") as pool:
            for (t, _), _, step in steps:
                self._wait_until(t)
                if isinstance(step, tuple):
                    self._switch(*step)
                elif isinstance(step, Checkout):
                    checkouts[step.ref] = pool.submit(self._checkout, step)
                elif isinstance(step, Cancel):
                    pool.submit(self._cancel, step, checkouts.get(step.ref))
                else:
                    pool.submit(self._return, step, checkouts.get(step.ref))
                progress.tick(t)
        self._summarise()

    def _wait_until(self, t: float) -> None:
        delay = self.clock.due(t) - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            self._late_s = max(self._late_s, -delay)

    def _switch(self, outage: Outage, error_rate: float) -> None:
        self.fleet.emulators[outage.channel].set_faults(error_rate=error_rate)
        state = "down" if error_rate else "back"
        self.say(f"{outage.channel}: API {state} at scenario hour {self.clock.now() / 3600:.2f}")

    def _checkout(self, checkout: Checkout) -> Answered | None:
        try:
            answer = self.fleet.emulators[checkout.channel].shopper_order(dict(checkout.lines))
        except Exception as exc:  # a shopper endpoint that fails is a finding, not a crash
            self._error(f"checkout {checkout.ref}: {exc!r}")
            return None
        at = time.monotonic()
        answered = Answered(
            t=self.clock.t_of(at), ref=checkout.ref, channel=checkout.channel,
            lines=checkout.lines, accepted=answer.accepted,
        )  # fmt: skip
        if answer.accepted and answer.order_id is not None:
            sku = checkout.lines[0][0]  # the gap is measured on the order's first line
            self.sampler.note(Placed(checkout.channel, sku, True, answer.order_id, at))
            with self._lock:
                self.placed[checkout.ref] = (checkout.channel, answer.order_id)
        with self._lock:
            self.run.answered.append(answered)
        return answered

    def _accepted(
        self, ref: str, checkout: Future[Answered | None] | None
    ) -> tuple[str, str] | None:
        """The channel and order id of ``ref``'s checkout, once answered, if it was accepted."""
        if checkout is None:
            return None
        answered = checkout.result()
        if answered is None or not answered.accepted:
            return None
        with self._lock:
            return self.placed.get(ref)

    def _cancel(self, cancel: Cancel, checkout: Future[Answered | None] | None) -> None:
        placed = self._accepted(cancel.ref, checkout)
        if placed is None:
            return
        channel, order_id = placed
        try:
            done = self.fleet.emulators[channel].shopper_cancel(order_id)
        except Exception as exc:
            self._error(f"cancel {cancel.ref}: {exc!r}")
            return
        if done:
            with self._lock:
                self.run.cancelled.append(Cancel(t=self.clock.now(), ref=cancel.ref))

    def _return(self, back: Return, checkout: Future[Answered | None] | None) -> None:
        placed = self._accepted(back.ref, checkout)
        if placed is None:
            return
        channel, order_id = placed
        try:
            restocked = self._restock(back, channel, order_id)
        except Exception as exc:
            self._error(f"return {back.ref}: {exc!r}")
            return
        if restocked:
            with self._lock:
                self.run.returned.append(Return(t=self.clock.now(), ref=back.ref, lines=back.lines))

    def _restock(self, back: Return, channel: str, order_id: str) -> bool:
        """Ship the returned lines (their committed units; a short unit never left), then put
        back what shipped. False if nothing had shipped to come back."""
        ledger = self.fleet.ledger
        order = self._in_ledger(channel, order_id)
        units = dict(back.lines)
        ship = {
            line.sku: min(units[line.sku], line.committed)
            for line in order.lines
            if line.sku in units and min(units[line.sku], line.committed) > 0
        }
        if not ship:
            return False
        shipped = ledger.ship_order(channel, order_id, quantities=ship, key=f"sim-ship:{back.ref}")
        held = {line.sku: line.shipped - line.returned for line in shipped.lines}
        for sku, qty in ship.items():
            if min(qty, held.get(sku, 0)) > 0:
                ledger.restock_return(
                    channel, order_id, sku, min(qty, held[sku]), key=f"sim-return:{back.ref}:{sku}"
                )
        return True

    def _in_ledger(self, channel: str, order_id: str) -> OrderResult:
        """The order as the ledger holds it, waiting for its webhook to bring it."""
        deadline = time.monotonic() + LEDGER_WAIT_S
        while True:
            try:
                return self.fleet.ledger.order(channel, order_id)
            except NotFoundError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def _error(self, message: str) -> None:
        with self._lock:
            self._errors.append(message)

    def _summarise(self) -> None:
        if self._late_s > 0.05:
            self.notes.append(
                f"the replay fell behind its schedule by up to {self._late_s:.2f} s (real)"
            )
        if self._errors:
            self.notes.append(
                f"{len(self._errors)} shopper or warehouse actions failed, e.g. {self._errors[0]}"
            )


class _Progress:
    """A line every tenth of the stream, so a long replay shows it is alive."""

    def __init__(self, replay: LiveReplay, total: int) -> None:
        self.replay, self.total, self.done, self.next_at = replay, total, 0, max(1, total // 10)

    def tick(self, t: float) -> None:
        self.done += 1
        if self.done >= self.next_at and self.done <= self.total:
            self.next_at += max(1, self.total // 10)
            with self.replay._lock:
                accepted = sum(1 for a in self.replay.run.answered if a.accepted)
                answered = len(self.replay.run.answered)
            self.replay.say(
                f"scenario hour {t / 3600:5.2f}: {answered} checkouts answered, {accepted} accepted"
            )
