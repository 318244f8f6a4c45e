"""The emulators' slow-channel draws and the timer that delivers late webhooks."""

from __future__ import annotations

import threading
import time

from stocksync.sandbox.adversity import Postponer, call_delay_s, fault_rng, webhook_delay_s


def test_a_jittered_call_waits_its_latency_plus_at_most_the_jitter() -> None:
    rng = fault_rng("latency_jitter_ms", 3)
    waits = [call_delay_s(300, 200, rng) for _ in range(500)]

    assert all(0.3 <= w <= 0.5 for w in waits)
    assert max(waits) - min(waits) > 0.15  # spread over the range, not one value


def test_the_same_seed_draws_the_same_jitter_and_another_fault_draws_its_own() -> None:
    def draws(fault: str, seed: int) -> list[float]:
        rng = fault_rng(fault, seed)
        return [call_delay_s(10, 50, rng) for _ in range(20)]

    assert draws("latency_jitter_ms", 3) == draws("latency_jitter_ms", 3)
    assert draws("latency_jitter_ms", 3) != draws("latency_jitter_ms", 4)
    assert draws("latency_jitter_ms", 3) != draws("webhook_delay_ms", 3)


def test_no_jitter_is_the_latency_alone() -> None:
    rng = fault_rng("latency_jitter_ms", 0)
    assert call_delay_s(120, 0, rng) == 0.12
    assert call_delay_s(0, 0, rng) == 0.0


def test_a_webhook_delay_falls_between_once_and_twice_the_setting() -> None:
    rng = fault_rng("webhook_delay_ms", 9)
    delays = [webhook_delay_s(500, rng) for _ in range(500)]

    assert all(0.5 <= d <= 1.0 for d in delays)
    assert webhook_delay_s(0, rng) == 0.0


def test_postponed_callbacks_run_in_due_order_not_in_the_order_given() -> None:
    ran: list[str] = []
    done = threading.Event()
    late = Postponer("test-late")

    late.later(0.3, lambda: (ran.append("slow"), done.set()))
    late.later(0.05, lambda: ran.append("quick"))
    late.later(0.15, lambda: ran.append("middle"))
    assert done.wait(5)
    late.close()

    assert ran == ["quick", "middle", "slow"]


def test_a_callback_due_now_runs_at_once_on_the_callers_thread() -> None:
    ran: list[str] = []
    late = Postponer("test-now")

    late.later(0, lambda: ran.append(threading.current_thread().name))

    assert ran == [threading.current_thread().name] and late.pending() == 0


def test_close_runs_what_is_still_pending_at_once_and_a_later_call_starts_again() -> None:
    ran: list[str] = []
    late = Postponer("test-close")
    late.later(30, lambda: ran.append("a"))
    late.later(20, lambda: ran.append("b"))

    started = time.monotonic()
    late.close()
    assert ran == ["b", "a"] and late.pending() == 0
    assert time.monotonic() - started < 10  # did not wait out the delays

    again = threading.Event()
    late.later(0.01, again.set)
    assert again.wait(5)
    late.close()
