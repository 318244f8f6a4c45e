"""The verify-ledger flow, run for real against a temporary Prefect server."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml
from prefect.client.orchestration import get_client
from prefect.flows import load_flow_from_entrypoint
from sqlalchemy import Engine, text

from flows.verify_ledger import LedgerMismatchError, verify_ledger
from stocksync.ledger.service import Ledger
from tests.factories import shop_with

ROOT = Path(__file__).resolve().parents[2]

# Prefect's client leaves loopback sockets to the garbage collector; that is not ours to fix.
pytestmark = [
    pytest.mark.filterwarnings(
        "ignore:Exception ignored in. <socket.socket:pytest.PytestUnraisableExceptionWarning"
    ),
    pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning"),
]


def test_a_clean_ledger_verifies_and_the_run_completes(ledger: Ledger, database_url: str) -> None:
    shop_with(ledger, {"TEAL-MUG-350ML": {"berlin": 3}})

    assert asyncio.run(verify_ledger(database_url=database_url)) == 0


def test_a_ledger_with_a_mismatch_fails_the_run_and_leaves_an_artifact(
    ledger: Ledger, engine: Engine, database_url: str
) -> None:
    shop_with(ledger, {"TEAL-MUG-350ML": {"berlin": 3}})
    with engine.begin() as conn:
        conn.execute(text("UPDATE stock SET committed = 2"))

    with pytest.raises(LedgerMismatchError, match="mismatches"):
        asyncio.run(verify_ledger(database_url=database_url))

    async def latest_artifact() -> list[dict[str, object]]:
        async with get_client() as client:
            artifact = await client.read_latest_artifacts()
            [found] = [a for a in artifact if a.key == "ledger-mismatches"]
            return found.data  # type: ignore[return-value]

    import json

    data = asyncio.run(latest_artifact())
    rows = json.loads(data) if isinstance(data, str) else data
    assert {
        "kind": "stock",
        "subject": "TEAL-MUG-350ML@berlin",
        "field": "committed",
        "expected": 0,
        "actual": 2,
    } in rows


def test_every_entrypoint_in_prefect_yaml_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    config = yaml.safe_load((ROOT / "prefect.yaml").read_text())

    names = [load_flow_from_entrypoint(d["entrypoint"]).name for d in config["deployments"]]

    assert names == ["verify-ledger", "low-stock-alerts", "low-stock-alerts", "poll-orders"]
