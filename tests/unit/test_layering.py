"""The dependency rules of STYLE.md, checked by reading imports."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PREFECT_LAYER = {"prefect", "flows", "tasks", "blocks", "deployments"}
LEDGER_TABLES = "stocksync.ledger.tables"
NOT_PRODUCTION = ("stocksync.sandbox", "stocksync.bench", "deployments.bench")
"""The emulators, the benchmarks and the demo: what production never loads."""
LAZY_COMMANDS = ("stocksync/cli/bench.py", "stocksync/cli/demo.py", "stocksync/cli/sandbox.py")
"""CLI commands that need the emulators or a benchmark: they load them inside the command."""


def imports_of(path: Path, *, at_import_only: bool = False) -> set[str]:
    """Every module ``path`` imports (``from a import b`` counts as ``a`` and ``a.b``); with
    ``at_import_only``, only those loaded when the module is imported: not inside a function, nor
    under ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
        if at_import_only and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        if at_import_only and isinstance(node, ast.If) and _is_type_checking(node.test):
            pending.extend(node.orelse)
            continue
        pending.extend(ast.iter_child_nodes(node))
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _under(path: Path, *places: str) -> bool:
    return any(path.is_relative_to(ROOT / place) for place in places)


def _names(found: set[str], *packages: str) -> set[str]:
    """Those of ``packages`` that ``found`` imports, or imports from."""
    return {p for p in packages if any(n == p or n.startswith(f"{p}.") for n in found)}


OUTSIDE_THE_LEDGER = [
    p
    for package in ("stocksync", "flows", "tasks", "blocks", "deployments")
    for p in modules(package)
    if not _under(p, "stocksync/ledger")
]
PRODUCTION = [
    p
    for p in OUTSIDE_THE_LEDGER + modules("stocksync/ledger")
    if not _under(p, "stocksync/sandbox", "stocksync/bench", "deployments/bench", *LAZY_COMMANDS)
]


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


@pytest.mark.parametrize("path", OUTSIDE_THE_LEDGER, ids=lambda p: str(p.relative_to(ROOT)))
def test_only_the_ledger_reads_and_writes_its_tables(path: Path) -> None:
    bad = _names(imports_of(path), LEDGER_TABLES)
    assert not bad, (
        f"{path.relative_to(ROOT)} imports {sorted(bad)}: use a stocksync.ledger function"
    )


@pytest.mark.parametrize("path", PRODUCTION, ids=lambda p: str(p.relative_to(ROOT)))
def test_production_never_imports_the_emulators_the_benchmarks_or_the_demo(path: Path) -> None:
    bad = _names(imports_of(path), *NOT_PRODUCTION)
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


@pytest.mark.parametrize("name", LAZY_COMMANDS)
def test_the_commands_that_need_an_emulator_or_a_benchmark_load_it_only_when_run(
    name: str,
) -> None:
    bad = _names(imports_of(ROOT / name, at_import_only=True), *NOT_PRODUCTION)
    assert not bad, f"{name} imports {sorted(bad)} when it is loaded, not inside a command"
