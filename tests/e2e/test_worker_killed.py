"""Issue 4, "must show" 5: a sync worker killed mid-drain, and a new one that takes over.

The worker runs as production runs it (``python -m deployments.sync_worker``, its own process,
the session's Prefect server). It is SIGKILLed while WooCommerce is slow, with a push in flight
and its listing leased. The dead worker's call still lands at the channel; the lease outlasts
it, so the new worker only pushes once the lease has expired, and its newer count is the last
one the channel receives: nothing is lost and nothing is pushed out of order.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

from tests.e2e.stack import AMAZON, MUG, STOCK, WOO, Stack, start_process_worker, wait_until

LEASE_S = 4.0
SLOW_CALL_S = 2.5
"""WooCommerce's latency while the worker is killed: shorter than the lease, as it must be."""


def test_a_worker_killed_mid_push_is_replaced_and_the_newest_count_lands_last(
    stack: Stack, tmp_path: Path
) -> None:
    log = tmp_path / "worker.log"
    options = ("--lease-s", str(LEASE_S), "--retry-base-s", "0.25")
    first = start_process_worker(stack, "w-first", log, *options)
    second: subprocess.Popen[bytes] | None = None
    try:
        stack.wait_converged(timeout_s=60)  # Python and Prefect start, the catalog goes out

        stack.shop(WOO).set_faults(latency_ms=int(SLOW_CALL_S * 1000))
        assert stack.shop(AMAZON).shopper_order({MUG: 2}).accepted
        wait_until(lambda: stack.listing(WOO, MUG).lease_owner is not None, 10, log.read_text)
        time.sleep(0.5)  # the push is at WooCommerce now, waiting out the latency
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        killed_at = time.monotonic()

        assert stack.listing(WOO, MUG).lease_owner is not None  # the dead worker's lease
        assert stack.shop(AMAZON).shopper_order({MUG: 1}).accepted
        stack.shop(WOO).clear_faults()
        second = start_process_worker(stack, "w-second", log, *options)

        stack.wait_converged(timeout_s=60)
        # the dead worker's late call (STOCK - 2) must not land after the newer count
        time.sleep(max(0.0, killed_at + SLOW_CALL_S - time.monotonic()) + 0.5)
        assert {n: s.shown(MUG) for n, s in stack.shops.items()} == dict.fromkeys(
            stack.shops, STOCK[MUG] - 3
        )
        assert not stack.behind()
        assert stack.listing(WOO, MUG).lease_owner is None
        assert stack.ledger.verify() == []
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
