"""The Prefect server a benchmark or the demo reports its flow runs to, and how many it got.

Nothing here imports Prefect at module level: ``PREFECT_API_URL`` must name the server before
Prefect reads its settings, so :func:`prefect_server` runs first and Prefect is imported after.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from deployments.up import Stack, start_prefect

__all__ = ["Orchestration", "flow_runs_since", "prefect_server"]


@dataclass(frozen=True)
class Orchestration:
    api_url: str
    ui_url: str
    started_here: bool


def _free_port(preferred: int) -> int:
    for port in (preferred, 0):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise RuntimeError("no free port")


class _QuietStack(Stack):
    """``stocksync up``'s process stack with the server's output in a log file, so the demo's
    own output (``--json`` above all) stays clean."""

    def __init__(self, log: IO[bytes]) -> None:
        super().__init__()
        self._log = log

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(argv, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        self.processes.append((name, process))
        return process


@contextmanager
def prefect_server(port: int, log_path: Path) -> Iterator[Orchestration]:
    """``PREFECT_API_URL`` if set, else a local ``prefect server`` (stopped on exit) logging to
    ``log_path``. Quiet by default: the worker's flow runs log to the server, not to this terminal.
    """
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    given = os.environ.get("PREFECT_API_URL")
    if given:
        yield Orchestration(given, given.removesuffix("/api"), False)
        return
    with log_path.open("ab") as log:
        stack = _QuietStack(log)
        try:
            api = start_prefect(stack, dict(os.environ), _free_port(port))
            os.environ["PREFECT_API_URL"] = api
            yield Orchestration(api, stack.urls["Prefect UI"], True)
        finally:
            os.environ.pop("PREFECT_API_URL", None)
            stack.stop()


def flow_runs_since(started: datetime) -> dict[str, Any]:
    """How many sync-inventory runs the server holds from ``started`` on, by state type."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowFilter,
        FlowFilterName,
        FlowRunFilter,
        FlowRunFilterStartTime,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    async def count() -> dict[str, Any]:
        flows = FlowFilter(name=FlowFilterName(any_=["sync-inventory"]))
        out: dict[str, Any] = {}
        async with get_client() as client:
            for state in (StateType.COMPLETED, StateType.FAILED, StateType.CRASHED):
                runs = FlowRunFilter(
                    start_time=FlowRunFilterStartTime(after_=started),
                    state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[state])),
                )
                out[state.value.lower()] = await client.count_flow_runs(
                    flow_filter=flows, flow_run_filter=runs
                )
        out["total"] = sum(out.values())
        return out

    return asyncio.run(count())
