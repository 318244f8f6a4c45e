"""Every flow test runs against the session's one temporary Prefect server."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _prefect(prefect_server: None) -> None:
    """Started once per session by ``tests/conftest.py``."""
