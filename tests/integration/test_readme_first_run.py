"""The README's first-run steps, run exactly as written, on a fresh ledger.

Every ``bash`` block under the headings in ``FIRST_RUN`` is read from README.md and run line by
line as a new seller would type it, in a scratch directory holding a copy of the repository's
sample files: each line must exit 0 (a line ending in ``&`` starts a process that runs until the
test ends; the test waits for the file its ``--write-config`` names). A README whose steps break
fails here.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from stocksync.ledger.db import make_engine
from stocksync.ledger.service import Ledger
from stocksync.ledger.tables import ListingRow

ROOT = Path(__file__).parents[2]
FIRST_RUN = ("Using the ledger", "Trying the sync on the emulators")


def readme_steps(heading: str) -> list[str]:
    """The commands of the first ``bash`` block under ``## heading``, continuations joined."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert section, f"README.md has no section {heading!r}"
    block = re.search(r"```bash\n(.*?)```", section.group(1), re.S)
    assert block, f"README.md's {heading!r} has no bash block"
    lines = block.group(1).replace("\\\n", " ").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


@pytest.fixture
def fresh_ledger(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of a ledger with no schema yet (SQLite: no file at all), for ``db upgrade`` to make."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'stocksync.db'}"
        return
    url = request.getfixturevalue("database_url")  # emptied; `db upgrade` finds it up to date
    yield url


def test_the_readme_first_run_works_as_written(fresh_ledger: str, tmp_path: Path) -> None:
    work = tmp_path / "shop"
    shutil.copytree(ROOT / "stocksync" / "samples", work / "stocksync" / "samples")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STOCKSYNC_", "PREFECT_"))}
    env |= {"STOCKSYNC_DATABASE_URL": fresh_ledger, "PYTHONPATH": str(ROOT),
            "COLUMNS": "80", "PATH": f"{Path(sys.executable).parent}:{env.get('PATH', '')}"}  # fmt: skip
    background: list[subprocess.Popen[str]] = []
    try:
        for heading in FIRST_RUN:
            for line in readme_steps(heading):
                _run(line, work, env, background)
    finally:
        for process in background:
            process.send_signal(signal.SIGINT)
            process.communicate(timeout=30)

    ledger = Ledger(make_engine(fresh_ledger))
    try:
        assert ledger.verify() == []
        states = ledger.run(lambda s: set(s.execute(select(ListingRow.state)).scalars()))
        assert states <= {"active", "unverified"}
    finally:
        ledger.engine.dispose()


def _run(
    line: str, cwd: Path, env: dict[str, str], background: list[subprocess.Popen[str]]
) -> None:
    argv = shlex.split(line, comments=True)
    assert argv[0] == "stocksync", f"the README's steps are stocksync commands: {line}"
    command = [sys.executable, "-c", "from stocksync.cli import main; main()", *argv[1:]]
    if argv[-1] == "&":
        command.pop()
        process = subprocess.Popen(
            command, cwd=cwd, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        background.append(process)
        written = cwd / argv[argv.index("--write-config") + 1]
        deadline = time.monotonic() + 60
        while not written.exists():
            assert process.poll() is None, f"{line}: {process.communicate()}"
            assert time.monotonic() < deadline, f"{line}: never wrote {written}"
            time.sleep(0.1)
        return
    done = subprocess.run(command, cwd=cwd, env=env, text=True, capture_output=True, timeout=300)
    assert done.returncode == 0, f"{line}\nexit {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr, f"{line}\n{done.stderr}"
