"""Ledger.run reruns a whole transaction only when the database says it may."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import errors

from stocksync.ledger.db import make_engine
from stocksync.ledger.service import Ledger


@pytest.fixture
def ledger() -> Ledger:  # type: ignore[misc]
    engine = make_engine("sqlite://")
    yield Ledger(engine, attempts=3)
    engine.dispose()


def flaky(failures: list[Exception]):  # type: ignore[no-untyped-def]
    calls = []

    def work(_session: object) -> str:
        calls.append(1)
        if failures:
            raise failures.pop(0)
        return "done"

    return work, calls


def test_a_deadlock_reruns_the_transaction(ledger: Ledger) -> None:
    work, calls = flaky(
        [errors.DeadlockDetected("deadlock detected"), errors.SerializationFailure("x")]
    )

    assert ledger.run(work) == "done"
    assert len(calls) == 3


def test_a_lost_connection_reruns_the_transaction(ledger: Ledger) -> None:
    work, calls = flaky([psycopg.OperationalError("server closed the connection unexpectedly")])

    assert ledger.run(work) == "done"
    assert len(calls) == 2


def test_a_unique_violation_reruns_so_the_rerun_sees_the_other_writers_row(ledger: Ledger) -> None:
    work, calls = flaky([errors.UniqueViolation("duplicate key value violates unique constraint")])

    assert ledger.run(work) == "done"
    assert len(calls) == 2


def test_other_database_errors_are_not_retried(ledger: Ledger) -> None:
    work, calls = flaky([errors.CheckViolation("ck_stock_committed_within_on_hand")])

    with pytest.raises(errors.CheckViolation):
        ledger.run(work)
    assert len(calls) == 1


def test_retries_stop_after_the_last_attempt(ledger: Ledger) -> None:
    work, calls = flaky([errors.DeadlockDetected("d") for _ in range(5)])

    with pytest.raises(errors.DeadlockDetected):
        ledger.run(work)
    assert len(calls) == 3  # the fixture's ledger makes three attempts
