"""Host CPU contention for benchmarks and the simulator: bounded busy processes.

``busy_processes(2)`` starts two processes that spin on the CPU until the context ends (or, if
this process dies, until their parent is gone), so a benchmark can show what a loaded host does
to the sync gap. Each one checks its parent every tenth of a second and exits without it.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["busy_processes"]


def _spin(parent: int) -> None:
    """Burn CPU until the parent process is gone."""
    while os.getppid() == parent:
        deadline = time.monotonic() + 0.1
        n = 0
        while time.monotonic() < deadline:
            n += 1


@contextmanager
def busy_processes(count: int) -> Iterator[list[int]]:
    """``count`` CPU-bound processes for the duration of the block; their pids."""
    ctx = mp.get_context("spawn")
    procs = [
        ctx.Process(target=_spin, args=(os.getpid(),), name=f"busy-{n}", daemon=True)
        for n in range(count)
    ]
    for proc in procs:
        proc.start()
    try:
        yield [p.pid for p in procs if p.pid is not None]
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.join(timeout=5)
