"""The simulator's ``stocksync`` mode: the shopper stream replayed against the real pipeline.

Everything a deployed shop runs is stood up for one run: a Prefect server (unless
``PREFECT_API_URL`` names one), an emulator per scenario channel listing every SKU and bundle, a
scratch ledger holding the scenario's catalog and channel rules, the webhook receiver and the
sync worker in their own processes. Once the initial push has converged, the stream is replayed
on a compressed clock (``scenario.compression`` scenario seconds per real second;
:mod:`deployments.bench.simulate_replay`) with the scenario's adversity applied: busy processes
on the host, jittered channel latency, late webhooks, outages. The gap sampler of ``stocksync
bench sync`` (``stocksync.bench.sync_metrics.GapSampler``) records what every channel shows and
each accepted order's sync gap meanwhile. After the replay the channels get a bounded time to
converge; then the workers stop first, and everything else after them.

Times in the :class:`LiveRun` are scenario seconds (the gaps also in real seconds), so the
accounting treats this mode as it treats the simulated ones.
"""

from __future__ import annotations

import csv
import io
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deployments.bench.prefect_server import prefect_server
from deployments.bench.simulate_replay import CompressedClock, LiveReplay
from deployments.bench.workers import WorkerProcess, stop_all
from stocksync.bench.contention import busy_processes
from stocksync.bench.fleet import Fleet, start_fleet
from stocksync.bench.sale_run import wait_converged
from stocksync.bench.scratch import scratch_ledger_url
from stocksync.bench.sync_metrics import GapSampler, oversold
from stocksync.ledger.channel_listings import channel_listings
from stocksync.ledger.config import ChannelInfo
from stocksync.ledger.sale_figures import orders_after
from stocksync.simulate.catalog import SimCatalog
from stocksync.simulate.records import ModeRun, Shown, StreamEvent
from stocksync.simulate.scenario import Adversity, Scenario

__all__ = ["LiveRun", "channel_infos", "live_catalog", "run_live"]

SAMPLE_S = 0.15
"""How often the sampler reads every channel's counts and the ledger (real seconds)."""
SETTLE_S = 120.0
"""The longest the channels get to converge after the replay (real seconds)."""
SHOPPERS = 16
"""Shopper threads: a slow checkout delays only its own thread."""


@dataclass(kw_only=True)
class LiveRun(ModeRun):
    """A ``stocksync`` mode run, with what only a real pipeline can fail at."""

    converged: bool = False
    """Every channel showed the ledger's desired quantity of every listing within the bound."""
    mismatches: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)
    """Channel → listing → (shown, desired) where it had not converged."""
    unsynced_orders: int = 0
    """Accepted orders the sampler never saw reflected on every other channel."""
    initial_push_s: float = 0.0
    placed: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Stream ref → (channel, the channel's order id) of every accepted checkout."""
    orders_missing: int = 0
    """Accepted checkouts the ledger never recorded (their webhook lost, or refused)."""


def live_catalog(scenario: Scenario, catalog: SimCatalog) -> str:
    """The ledger's catalog CSV: every plain SKU at the scenario's location, every bundle by its
    components (``SKU*QTY;…``, no location), all listed on every channel."""
    names = [c.name for c in scenario.channels]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["sku", "location", "on_hand", "components", *(f"listing:{n}" for n in names)])
    for sku in catalog.skus:
        writer.writerow([sku, scenario.location, catalog.stock[sku], "", *("x" for _ in names)])
    for bundle, parts in catalog.bundles.items():
        recipe = ";".join(f"{part}*{units}" for part, units in parts.items())
        writer.writerow([bundle, "", "", recipe, *("x" for _ in names)])
    return out.getvalue()


def channel_infos(scenario: Scenario) -> tuple[ChannelInfo, ...]:
    """The scenario's channels as the ledger configures them: kind, priority and listing rules."""
    return tuple(ChannelInfo(c.name, c.kind, c.priority, c.policy()) for c in scenario.channels)


def run_live(
    scenario: Scenario,
    catalog: SimCatalog,
    stream: Sequence[StreamEvent],
    *,
    database_url: str | None,
    prefect_port: int,
    say: Callable[[str], Any],
    settle_s: float = SETTLE_S,
    inspect: Callable[[Fleet, LiveRun], Any] | None = None,
) -> LiveRun:
    """Replay ``stream`` through the whole pipeline (see the module docstring); what it did.

    ``database_url``: a PostgreSQL server for the scratch ledger (default: SQLite in a
    temporary directory). ``real_seconds`` of the run is the replay's own wall time, without the
    start-up and the initial push. ``inspect(fleet, run)`` is called once the run is counted,
    before anything stops (a test looks into the ledger there)."""
    run = LiveRun(mode="stocksync", compression=scenario.compression)
    with (
        tempfile.TemporaryDirectory(prefix="stocksync-simulate-") as tmp,
        scratch_ledger_url(database_url, Path(tmp), label="simulate") as url,
        prefect_server(prefect_port, Path(tmp) / "prefect-server.log") as prefect,
    ):
        say(f"Prefect: {prefect.ui_url}" + ("" if prefect.started_here else " (PREFECT_API_URL)"))
        fleet = start_fleet(
            url, live_catalog(scenario, catalog), Path(tmp), channels=channel_infos(scenario),
            latency_ms=scenario.adversity.latency_ms, receiver_process=True,
        )  # fmt: skip
        try:
            run.notes += _slow_channels(fleet, scenario)
            worker = WorkerProcess(
                fleet.database_url, fleet.channels_file, Path(tmp) / "worker.log",
                worker_id="simulate",
            )  # fmt: skip
            try:
                worker.start()
                _play(run, fleet, scenario, catalog, stream, say, settle_s)
            finally:
                stop_all([worker])
            _count_ledger(run, fleet)
            if inspect is not None:
                inspect(fleet, run)
        finally:
            fleet.stop()
    return run


def _play(
    run: LiveRun,
    fleet: Fleet,
    scenario: Scenario,
    catalog: SimCatalog,
    stream: Sequence[StreamEvent],
    say: Callable[[str], Any],
    settle_s: float,
) -> None:
    """Initial push, the replay under load with the sampler on, convergence, and the counts."""
    listed = list(catalog.all_listed())
    # Amazon checks each listing, then patches it, 5 a second; a slow channel answers each call late
    slow = scenario.adversity.latency_ms + scenario.adversity.jitter_ms
    initial_timeout = 60.0 + len(listed) * (0.5 + 2 * slow / 1000)
    began = time.monotonic()
    left = wait_converged(fleet, initial_timeout)
    if left:
        raise RuntimeError(f"the initial push did not converge in {initial_timeout:.0f} s: {left}")
    run.initial_push_s = time.monotonic() - began
    say(f"initial quantities of {len(listed)} listings pushed in {run.initial_push_s:.1f} s")
    run.notes.append(
        f"the initial push of {len(listed)} listings took {run.initial_push_s:.1f} s (real), "
        "before the replay"
    )
    calls_before = {name: e.api_calls() for name, e in fleet.emulators.items()}
    sampler = GapSampler(fleet, listed, interval_s=SAMPLE_S)
    clock = CompressedClock(scenario.compression)
    run.shown += _snapshot(fleet, listed, 0.0)
    with busy_processes(scenario.adversity.busy_processes) as busy:
        if busy:
            run.notes.append(f"{len(busy)} busy processes kept the host loaded during the replay")
        sampler.start()
        try:
            replay = LiveReplay(fleet, clock, run, sampler, threads=SHOPPERS, say=say)
            replay.play(stream, scenario.adversity.outages)
            ended = time.monotonic()
            run.real_seconds = ended - clock.started
            mismatches = wait_converged(fleet, settle_s)
            settled = time.monotonic() - ended
        finally:
            sampler.stop()
    sampler.sample_once()
    run.api_calls = {n: e.api_calls() - calls_before[n] for n, e in fleet.emulators.items()}
    run.notes += replay.notes
    run.placed = dict(replay.placed)
    _measures(run, sampler, clock, mismatches)
    run.notes.append(
        f"converged {settled:.1f} s (real) after the replay"
        if run.converged
        else f"NOT converged {settle_s:.0f} s (real) after the replay: "
        + "; ".join(_behind(fleet, mismatches))
    )


def _measures(
    run: LiveRun,
    sampler: GapSampler,
    clock: CompressedClock,
    mismatches: dict[str, dict[str, tuple[int, int]]],
) -> None:
    """What the sampler saw, in scenario seconds (gaps in real ones too), and the caveats."""
    run.shown += [
        Shown(t=max(0.0, clock.t_of(at)), channel=channel, sku=sku, qty=qty)
        for at, channel, sku, qty in sampler.shown_changes
    ]
    run.gaps_real_s = sampler.gaps()
    run.gaps_s = [gap * clock.compression for gap in run.gaps_real_s]
    run.unsynced_orders = sampler.unsynced()
    run.mismatches, run.converged = mismatches, not mismatches
    run.notes.append(
        f"shoppers came {clock.compression:g}× as fast as the scenario says, against the "
        "channels' real API limits and latency: the guard, sized from real sales rates and "
        "real sync gaps, hides more than it would over a real day"
    )
    if run.unsynced_orders:
        run.notes.append(
            f"{run.unsynced_orders} accepted orders never seen reflected on every other channel "
            "(a restock after them can keep a channel above their target); no gap for them"
        )


def _behind(fleet: Fleet, mismatches: dict[str, dict[str, tuple[int, int]]]) -> list[str]:
    """Each listing a channel shows wrongly, with what the ledger believes it shows."""
    found = []
    for channel, per_sku in mismatches.items():
        held = fleet.ledger.call(channel_listings, channel, list(per_sku))
        for sku, (shown, desired) in per_sku.items():
            mine = held.listings.get(sku) if held is not None else None
            belief = (
                "" if mine is None else f", ledger expects {mine.expected}, pushed {mine.pushed}"
            )
            found.append(f"{channel}/{sku} shows {shown}, desired {desired}{belief}")
    return found


def _count_ledger(run: LiveRun, fleet: Fleet) -> None:
    """The ledger's own cross-checks: lines it recorded short, accepted orders it never heard of."""
    run.ledger_short_lines = oversold(fleet).total_lines
    known = {(channel, external) for _, channel, external in fleet.ledger.call(orders_after, 0)}
    run.orders_missing = sum(1 for placed in run.placed.values() if placed not in known)
    if run.orders_missing:
        run.notes.append(f"{run.orders_missing} accepted checkouts never reached the ledger")


def _slow_channels(fleet: Fleet, scenario: Scenario) -> list[str]:
    """Jitter and late webhooks on every emulator, drawn from the scenario's seed; the notes."""
    a: Adversity = scenario.adversity
    faults = {"latency_jitter_ms": a.jitter_ms, "webhook_delay_ms": a.webhook_delay_ms}
    wanted = {name: value for name, value in faults.items() if value}
    for emulator in fleet.emulators.values():
        if wanted:
            seed = {"seed": scenario.seed} if "seed" in emulator.supported_faults else {}
            emulator.set_faults(**wanted, **seed)
    notes = []
    if a.latency_ms or a.jitter_ms:
        notes.append(
            f"every channel API call took {a.latency_ms}–{a.latency_ms + a.jitter_ms} ms (real)"
        )
    if a.webhook_delay_ms:
        notes.append(
            f"every webhook arrived {a.webhook_delay_ms}–{2 * a.webhook_delay_ms} ms (real) late"
        )
    for o in a.outages:
        notes.append(
            f"{o.channel}'s API answered 5xx from hour {o.start_h:g} for {o.minutes:g} min "
            "(scenario time); its shop kept selling what it showed"
        )
    return notes


def _snapshot(fleet: Fleet, listed: Sequence[str], t: float) -> list[Shown]:
    """What every channel shows of every listing now, as of scenario second ``t``."""
    return [
        Shown(t=t, channel=name, sku=sku, qty=emulator.shown(sku))
        for name, emulator in fleet.emulators.items()
        for sku in listed
    ]
