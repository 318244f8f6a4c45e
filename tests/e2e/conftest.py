"""End-to-end fixtures: the stack of ``tests/e2e/stack.py`` on each ledger backend, a receiver the
emulators deliver to, and a sync worker running real Prefect flows on the session's server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from stocksync.ledger.service import Ledger
from tasks.sync import close_all
from tests.e2e.stack import Stack, ThreadWorker, running_receiver, running_stack, worker_options

SOCKET_NOISE = (
    "ignore:Exception ignored in. <socket.socket:pytest.PytestUnraisableExceptionWarning",
    "ignore:unclosed <socket.socket:ResourceWarning",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Emulator and receiver threads stop while clients still hold sockets; that is not a bug."""
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            for noise in SOCKET_NOISE:
                item.add_marker(pytest.mark.filterwarnings(noise))


@pytest.fixture(autouse=True)
def _prefect(prefect_server: None) -> None:
    """Every flow here runs against the session's one Prefect server (``tests/conftest.py``)."""


@pytest.fixture
def stack(ledger: Ledger, database_url: str, tmp_path: Path) -> Iterator[Stack]:
    """Shopify, WooCommerce and Amazon emulators listed in the ledger, each delivering its
    webhooks to one receiver; the channels start at 0 until a worker pushes the catalog."""
    with running_stack(ledger, database_url, tmp_path) as running:
        with running_receiver(ledger, running.shops) as receiver:
            running.receivers.append(receiver)
            running.point_webhooks(receiver)
            yield running
            for shop in running.shops.values():
                shop.set_webhook_url(None)
        close_all()  # the connector registry points at these emulators


@pytest.fixture
def worker(stack: Stack) -> Iterator[ThreadWorker]:
    """One sync worker (in a thread of this process), already past the catalog's first push."""
    running = ThreadWorker(worker_options(stack, "w-e2e"))
    try:
        stack.wait_converged(timeout_s=30)
        yield running
    finally:
        running.stop()
