"""The dependency rules of STYLE.md, checked by reading imports."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PREFECT_LAYER = {"prefect", "flows", "tasks", "blocks", "deployments"}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("path", modules("stocksync"), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_core_package_never_imports_the_prefect_layer(path: Path) -> None:
    bad = {name for name in imports_of(path) if name.split(".")[0] in PREFECT_LAYER}
    assert not bad


@pytest.mark.parametrize(
    "path", modules("stocksync/domain"), ids=lambda p: str(p.relative_to(ROOT))
)
def test_the_domain_imports_only_the_standard_library_and_itself(path: Path) -> None:
    bad = {
        name
        for name in imports_of(path)
        if name.split(".")[0] not in sys.stdlib_module_names
        and not name.startswith("stocksync.domain")
    }
    assert not bad


@pytest.mark.parametrize(
    "path", modules("tasks") + modules("blocks"), ids=lambda p: str(p.relative_to(ROOT))
)
def test_tasks_and_blocks_never_import_flows(path: Path) -> None:
    assert not {name for name in imports_of(path) if name.split(".")[0] == "flows"}


def test_the_stocksync_command_loads_no_emulator_or_benchmark_until_one_is_asked_for() -> None:
    probe = (
        "import sys, stocksync.cli; "
        "print(sorted(m for m in sys.modules if m.startswith(('stocksync.sandbox', 'stocksync.bench'))))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_there_is_an_emulator_for_every_channel_kind_the_sandbox_command_names() -> None:
    from stocksync.channels.registry import KINDS as CHANNEL_KINDS
    from stocksync.sandbox.emulators import KINDS as EMULATOR_KINDS

    assert set(EMULATOR_KINDS) == set(CHANNEL_KINDS)
