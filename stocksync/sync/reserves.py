"""Releasing keepers' reserves from the push loop, at most every ``RELEASE_EVERY_S`` seconds.

A push that hides a listing starts the time after which the keeper's reserve for that SKU may
go (``stocksync.ledger.reserve_release``); no order marks that moment, so the drain and the sync
worker look for it themselves between pushes.
"""

from __future__ import annotations

import logging
import threading
import time

from stocksync.ledger.service import Ledger

__all__ = ["RELEASE_EVERY_S", "ReserveReleaser"]

log = logging.getLogger(__name__)

RELEASE_EVERY_S = 0.5
"""How often the settled SKUs are looked for while the drain or the worker runs."""


class ReserveReleaser:
    """Shared by a drain's channel threads: whichever comes by when it is due does the work,
    the others go on at once."""

    def __init__(self, ledger: Ledger, every_s: float = RELEASE_EVERY_S) -> None:
        self._ledger = ledger
        self._every_s = every_s
        self._last = float("-inf")
        self._lock = threading.Lock()

    def maybe(self) -> int:
        """Release what has settled if it is time; the listings changed (0 when not due, or
        when another thread is at it). A failure is logged, never raised: the next order on the
        SKU recomputes it anyway."""
        if time.monotonic() - self._last < self._every_s or not self._lock.acquire(blocking=False):
            return 0
        try:
            self._last = time.monotonic()
            return self._ledger.release_settled_reserves()
        except Exception:
            log.exception("releasing settled reserves failed")
            return 0
        finally:
            self._lock.release()
