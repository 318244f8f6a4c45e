"""Timing when a push shows on a channel that applies writes late, by reading it back.

Amazon answers a listings patch ACCEPTED and applies it later (minutes on the real channel;
channel-apis.md, "How fast a pushed quantity reaches shoppers"), so the time a push call took says
little about when shoppers see the quantity. After a batch of such a channel is applied, the
drain hands one of its listings to :class:`ShownProbes`: a thread reads that listing back, at a
growing interval, until the channel shows the pushed quantity, and records claim → shown as a
read-back push timing (``stocksync.ledger.sync_lag``). One probe runs at a time per channel and a
new one starts at most every ``PROBE_SPACING_S``, so the read-backs stay a small share of the
channel's read budget (Amazon's getListingsItem: 5 a second).

A read-back that never sees the quantity (a sale on the channel moved it first, a newer push
replaced it) records nothing: it is a missing sample, never a guessed one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from stocksync.channels.base import ChannelConnector
from stocksync.domain.clock import utcnow
from stocksync.domain.sync_lag import LAG_SAMPLE_MAX_S
from stocksync.ledger.service import Ledger
from stocksync.ledger.sync_lag import record_push_timing

__all__ = ["PROBES", "ShownProbes"]

log = logging.getLogger(__name__)

PROBE_SPACING_S = 2.0
"""At least this long between the starts of two probes of one channel."""
FIRST_READ_S = 0.2
"""The first read-back waits this long after the write; each next one waits 1.5× longer..."""
LONGEST_WAIT_S = 10.0
"""...up to this."""


class ShownProbes:
    """The read-back probes of one process, at most one running per channel."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._running: set[int] = set()
        self._started: dict[int, float] = {}

    def start(
        self,
        ledger: Ledger,
        connector: ChannelConnector,
        channel_id: int,
        listing: tuple[str, int],
        claimed_at: float,
    ) -> bool:
        """Read back ``listing`` (external id, pushed quantity), claimed at ``claimed_at``
        (monotonic), unless a probe of the channel runs or started lately; whether it started."""
        now = self._clock()
        with self._lock:
            recent = now - self._started.get(channel_id, -PROBE_SPACING_S) < PROBE_SPACING_S
            if channel_id in self._running or recent:
                return False
            self._running.add(channel_id)
            self._started[channel_id] = now
        thread = threading.Thread(
            target=self._probe, args=(ledger, connector, channel_id, listing, claimed_at),
            name=f"shown-probe-{channel_id}", daemon=True,
        )  # fmt: skip
        thread.start()
        return True

    def running(self, channel_id: int) -> bool:
        with self._lock:
            return channel_id in self._running

    def _probe(
        self,
        ledger: Ledger,
        connector: ChannelConnector,
        channel_id: int,
        listing: tuple[str, int],
        claimed_at: float,
    ) -> None:
        external_id, quantity = listing
        wait, before = FIRST_READ_S, None
        try:
            while self._clock() - claimed_at < LAG_SAMPLE_MAX_S:
                time.sleep(wait)
                shown = connector.read_quantities([external_id])
                if not shown:
                    return  # the channel no longer holds the listing
                if shown[0].quantity == quantity:
                    seconds = self._clock() - claimed_at
                    ledger.call(
                        record_push_timing, channel_id, seconds, read_back=True, now=utcnow()
                    )
                    return
                if before is not None and shown[0].quantity != before:
                    return  # moved by a sale or another push: this sample cannot be taken
                before = shown[0].quantity
                wait = min(LONGEST_WAIT_S, wait * 1.5)
        except Exception as exc:  # a closed connector, an outage: no sample, nothing else
            log.debug("read-back of %s on channel %s stopped: %s", external_id, channel_id, exc)
        finally:
            with self._lock:
                self._running.discard(channel_id)


PROBES = ShownProbes()
"""The process's probes: drains of one channel share them however many drains run."""
