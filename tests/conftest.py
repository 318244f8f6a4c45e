"""Fixtures shared by every test tier.

Ledger tests run once per backend: ``[sqlite]`` on a fresh file and ``[postgres]`` on the server
named by STOCKSYNC_TEST_POSTGRES_URL (default: the local server's ``stocksync_test`` database,
created on first use). A PostgreSQL server that cannot be reached fails the run; it is never
skipped. A developer without PostgreSQL may opt out with STOCKSYNC_TEST_BACKENDS=sqlite.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from stocksync.ledger.db import make_engine
from stocksync.ledger.migrate import upgrade
from stocksync.ledger.service import Ledger
from stocksync.ledger.tables import metadata

# Wall-clock deadlines only measure how busy the machine is; properties are what we test.
settings.register_profile("stocksync", deadline=None, print_blob=True)
settings.load_profile("stocksync")

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/stocksync_test"
BACKENDS = [b for b in os.environ.get("STOCKSYNC_TEST_BACKENDS", "sqlite,postgres").split(",") if b]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        only_pg = metafunc.definition.get_closest_marker("postgres") is not None
        metafunc.parametrize("backend", ["postgres"] if only_pg else BACKENDS)


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's STOCKSYNC_* settings."""
    for name in list(os.environ):
        if name.startswith("STOCKSYNC_") and not name.startswith("STOCKSYNC_TEST_"):
            monkeypatch.delenv(name)
    from stocksync.settings import get_settings

    get_settings.cache_clear()


@pytest.fixture(scope="session")
def pg_url() -> str:
    return os.environ.get("STOCKSYNC_TEST_POSTGRES_URL", DEFAULT_PG_URL)


@pytest.fixture(scope="session")
def pg_engine(pg_url: str) -> Iterator[Engine]:
    """The test database on PostgreSQL, created if missing and migrated from scratch once."""
    _create_database(pg_url)
    engine = make_engine(pg_url, pool_size=20)
    with engine.begin() as conn:
        metadata.drop_all(conn)
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    upgrade(engine)
    yield engine
    engine.dispose()


def _create_database(url: str) -> None:
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": target.database}
            ).scalar()
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    except Exception as exc:
        pytest.fail(
            f"PostgreSQL at {target.render_as_string(hide_password=True)} is required for the "
            f"[postgres] tests and cannot be reached ({exc.__class__.__name__}: {exc}). Start it, or "
            "set STOCKSYNC_TEST_BACKENDS=sqlite to run without it locally.",
            pytrace=False,
        )
    finally:
        admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test copies, so migrations run once per session."""
    path = tmp_path_factory.mktemp("template") / "ledger.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # closing the last connection folds the WAL into the file we copy
    return path


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty, migrated ledger on the test's backend."""
    if backend == "sqlite":
        path = tmp_path / "ledger.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    engine: Engine = request.getfixturevalue("pg_engine")
    # ledger_state keeps its epoch: it only ever grows, so no cached configuration outlives a test
    tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables if t.name != "ledger_state")
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    yield request.getfixturevalue("pg_url")


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url, pool_size=20)
    yield eng
    eng.dispose()


@pytest.fixture
def ledger(engine: Engine) -> Ledger:
    return Ledger(engine)


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    """The only place a Prefect server is started: one temporary server for the whole session,
    used by the directories whose conftest asks for it (flows, e2e), however many of them run."""
    from prefect.testing.utilities import prefect_test_harness  # only sessions that need it

    with prefect_test_harness(server_startup_timeout=60):
        yield
