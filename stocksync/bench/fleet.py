"""The flash sale's fleet: channel emulators, the ledger they feed, and the webhook receiver.

Shared by ``stocksync demo`` and ``stocksync bench sync``. This module knows nothing about
Prefect: whoever runs it supplies the sync worker (``deployments/bench/flash_sale.py``).
``start_fleet`` stands up Shopify, Amazon and WooCommerce emulators listing nothing but 0s, a
fresh ledger whose channels and listings use the emulators' own ids, and the webhook receiver
that every emulator delivers its order webhooks to. The shoppers are in
``stocksync.bench.shoppers``.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel import Session

from stocksync.domain.model import ChannelPolicy
from stocksync.ledger.catalog import import_catalog
from stocksync.ledger.config import ChannelInfo, add_channel
from stocksync.ledger.db import make_engine
from stocksync.ledger.listing_refs import set_listing_refs
from stocksync.ledger.migrate import upgrade
from stocksync.ledger.service import Ledger
from stocksync.receiver.app import create_app
from stocksync.sandbox.harness import RunningEmulator, SandboxClock, start_emulator
from stocksync.sandbox.receiver_process import served_receiver
from stocksync.sandbox.server import serve_in_thread

__all__ = [
    "CHANNELS",
    "LAST_SECONDS",
    "LAST_UNITS",
    "Fleet",
    "catalog_with_ids",
    "sample_catalog_text",
    "scarce_catalog",
    "start_fleet",
]

SAMPLE_CATALOG = Path(__file__).parents[1] / "samples" / "catalog.csv"

LAST_UNITS = 5
"""The last-units guard of every demo channel: at or below this many units of a SKU, only the
top-ranked channel (shopify-main) lists it. Two channels can then only sell the same unit if more
than this many units are sold while a push is in flight, i.e. the guard covers a sync gap of
LAST_UNITS / (orders per second of that SKU)."""

LAST_SECONDS = 5.0
"""...and while a SKU sells fast, the guard of Amazon and WooCommerce grows to what it sells in
at least this many seconds (``stocksync.ledger.velocity``): at 12 units/s in a rush, 60 units;
longer where the measured sync gap is longer (a loaded host, a slow channel,
``stocksync.domain.sync_lag``)."""

CHANNELS = (
    ChannelInfo("shopify-main", "shopify", 30, ChannelPolicy(last_units=LAST_UNITS)),
    ChannelInfo(
        "amazon-eu", "amazon", 20,
        ChannelPolicy(buffer=1, last_units=LAST_UNITS, last_seconds=LAST_SECONDS),
    ),
    ChannelInfo(
        "woo-site", "woocommerce", 10,
        ChannelPolicy(buffer=1, last_units=LAST_UNITS, last_seconds=LAST_SECONDS),
    ),
)  # fmt: skip
"""The demo's channels: kind, priority and policy. Amazon and WooCommerce hold one unit back."""

FLEET_LIMITS: dict[str, dict[str, Any]] = {"shopify": {"webhook_workers": 4}}
"""Emulator settings of the fleet: Shopify delivers webhooks in parallel, as the real one does
(no ordering guarantee); one sender falls seconds behind in a rush, because every sale and every
push of ours also sends an inventory_levels/update."""


@dataclass
class Fleet:
    """Running emulators, the ledger they feed, the receiver, and the channels file."""

    database_url: str
    ledger: Ledger
    emulators: dict[str, RunningEmulator]
    receiver_url: str
    channels_file: Path
    skus: list[str]
    """The SKUs every channel lists (the ones shoppers buy)."""
    _stop_receiver: Callable[[], None] | None = None

    def shown(self, channel: str, sku: str) -> int:
        return self.emulators[channel].shown(sku)

    def stop(self) -> None:
        """Webhooks off first (so no delivery hits a stopped receiver), then everything."""
        for emulator in self.emulators.values():
            emulator.set_webhook_url(None)
        for emulator in self.emulators.values():
            emulator.stop()
        if self._stop_receiver is not None:
            self._stop_receiver()
            self._stop_receiver = None
        self.ledger.engine.dispose()


def start_fleet(
    database_url: str,
    catalog_text: str,
    workdir: Path,
    *,
    channels: Sequence[ChannelInfo] = CHANNELS,
    latency_ms: int = 0,
    emulator_limits: Mapping[str, Mapping[str, Any]] | None = None,
    receiver_process: bool = False,
    receiver_workers: int = 1,
) -> Fleet:
    """Emulators showing 0 of every catalog SKU listed on them, a migrated ledger with the
    channels and the catalog (listing ids from the emulators), and the receiver: in a thread, or
    with ``receiver_process`` in its own process (``receiver_workers`` of them behind one port,
    logging to ``workdir``), as deployed.

    ``catalog_text`` is a catalog CSV whose ``listing:<channel>`` cells mark which channel lists
    which SKU (their values are replaced by the emulators' ids). The channels file the sync worker
    reads is written to ``workdir``, readable by its owner only.
    """
    listed = _listed_skus(catalog_text, [c.name for c in channels])
    given = emulator_limits or {}
    limits = {
        kind: {**FLEET_LIMITS.get(kind, {}), **given.get(kind, {})}
        for kind in FLEET_LIMITS.keys() | given.keys()
    }
    clock, running = SandboxClock(), {}
    engine = make_engine(database_url)
    upgrade(engine)
    ledger = Ledger(engine)
    try:
        for info in channels:
            stock = dict.fromkeys(listed[info.name], 0)
            running[info.name] = start_emulator(
                info.kind, info.name, stock, latency_ms=latency_ms, clock=clock,
                **limits.get(info.kind, {}),
            )  # fmt: skip
            ledger.call(add_channel, info)
        ledger.call(import_catalog, catalog_with_ids(catalog_text, running))
        _store_refs(ledger, running)
        if receiver_process:
            secrets = {n: s for n, e in running.items() if (s := _webhook_secret(e))}
            own = ExitStack()
            served = own.enter_context(
                served_receiver(
                    database_url, secrets, workdir / "receiver.log", workers=receiver_workers
                )
            )
            receiver_url, stop_receiver = served.base_url, own.close
        else:
            app = create_app(ledger, secrets=lambda name: _webhook_secret(running.get(name)))
            receiver_url, stop_receiver = serve_in_thread(app)
        for info in channels:
            running[info.name].set_webhook_url(f"{receiver_url}/webhooks/{info.kind}/{info.name}")
    except BaseException:
        for emulator in running.values():
            emulator.stop()
        engine.dispose()
        raise
    common = sorted(set.intersection(*(set(v) for v in listed.values())))
    fleet = Fleet(database_url, ledger, running, receiver_url, workdir / "channels.json", common)
    fleet._stop_receiver = stop_receiver
    _write_channels_file(fleet.channels_file, running)
    return fleet


def catalog_with_ids(catalog_text: str, emulators: Mapping[str, RunningEmulator]) -> str:
    """The catalog with every filled ``listing:<channel>`` cell replaced by that channel's id
    (the same ids again for emulators started with the catalog's own, ``start_emulator(ids=)``)."""
    rows = list(csv.DictReader(io.StringIO(catalog_text)))
    if not rows:
        return catalog_text
    ids = {name: e.listings() for name, e in emulators.items()}
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        for column in row:
            channel = column.removeprefix("listing:")
            if column.startswith("listing:") and (row[column] or "").strip():
                row[column] = ids[channel][row["sku"].strip()][0] if channel in ids else ""
        writer.writerow(row)
    return out.getvalue()


def _listed_skus(catalog_text: str, channels: Sequence[str]) -> dict[str, list[str]]:
    listed: dict[str, list[str]] = {name: [] for name in channels}
    for row in csv.DictReader(io.StringIO(catalog_text)):
        for name in channels:
            cell = (row.get(f"listing:{name}") or "").strip()
            if cell and row["sku"] not in listed[name]:
                listed[name].append(row["sku"].strip())
    return listed


def _store_refs(ledger: Ledger, emulators: Mapping[str, RunningEmulator]) -> None:
    """Each listing's refs (Shopify's location and variant) as the channel names them."""

    def store(session: Session) -> None:
        for name, emulator in emulators.items():
            refs = {sku: r for sku, (_, r) in emulator.listings().items() if r}
            set_listing_refs(session, name, refs)

    ledger.run(store)


def _webhook_secret(emulator: RunningEmulator | None) -> str | None:
    if emulator is None:
        return None
    fields = emulator.connector_fields()
    value = fields.get("webhook_secret") or fields.get("notification_secret")
    return str(value) if value else None


def _write_channels_file(path: Path, emulators: Mapping[str, RunningEmulator]) -> None:
    """The channels file for the sync worker; owner-only, since it holds the credentials."""
    doc = {"channels": {name: e.connector_fields() for name, e in emulators.items()}}
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(doc, handle)


def scarce_catalog(catalog_text: str, scarce: Mapping[str, int]) -> str:
    """The catalog with each scarce SKU's stock set to the given units, all at its first location."""
    rows = list(csv.DictReader(io.StringIO(catalog_text)))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    seen: set[str] = set()
    for row in rows:
        sku = row["sku"].strip()
        if sku in scarce and row.get("location"):
            row["on_hand"] = "0" if sku in seen else str(scarce[sku])
            seen.add(sku)
        writer.writerow(row)
    return out.getvalue()


def sample_catalog_text() -> str:
    return SAMPLE_CATALOG.read_text(encoding="utf-8")
