"""Today's two ways of keeping channels' counts, on a simulated clock: by hand, and by polling.

``manual``: a person corrects every channel from the ledger every ``manual_every_h`` hours.
``poll``: a hub pulls the channels' orders and pushes every listing every ``poll_every_min``
minutes, as the polling hubs do (Sellbrite 15 min, Linnworks ~10 min;
``../shared/reference/anchors.md`` §0, §1.2). Both set each listing to what stocksync's own rules
give (:func:`stocksync.domain.allocation.sellable_quantities`), so the baselines differ from
stocksync only in when they sync.

Each channel is modelled on its own: it shows a count per listing (a bundle is a listing of its
own; the channel knows nothing of components), accepts a checkout only if it shows every line's
units, then takes them off that count; a customer's cancel puts them back. The warehouse is a
:class:`PhysicalStock` that accepted orders fill, or go short on, at the moment they are
accepted. The hub learns of them at its next sync; it then knows everything up to then.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

from stocksync.domain.allocation import Claim, sellable_quantities
from stocksync.simulate.catalog import SimCatalog
from stocksync.simulate.physical import PhysicalStock
from stocksync.simulate.records import (
    Answered,
    Cancel,
    Checkout,
    ModeRun,
    Return,
    Shown,
    StreamEvent,
)
from stocksync.simulate.scenario import ChannelSpec, Scenario
from stocksync.simulate.stream import event_key

__all__ = ["MODES", "ORDER_PAGE", "WRITE_BATCH", "run_baseline"]

MODES = ("manual", "poll")
_LOCATIONS = frozenset({1})
"""One shared location: every channel sells the same stock."""

# Orders read per call (../shared/reference/channel-apis.md): Shopify connections take first ≤ 250
# (A5, A6); Amazon getOrders MaxResultsPerPage ≤ 100 (B5); WooCommerce per_page ≤ 100 (C2, C3);
# the custom connector's per_page defaults to 100 (stocksync/channels/custom_config.py).
ORDER_PAGE = {"shopify": 250, "amazon": 100, "woocommerce": 100, "custom": 100}
# Listings written per call: Shopify inventorySetQuantities ≤ 250 quantities (A3); Amazon
# patchListingsItem is one SKU per call (B3); WooCommerce POST /products/batch ≤ 100 objects (C2);
# custom: batches of 100.
WRITE_BATCH = {"shopify": 250, "amazon": 1, "woocommerce": 100, "custom": 100}


def run_baseline(
    scenario: Scenario, catalog: SimCatalog, stream: Sequence[StreamEvent], mode: str
) -> ModeRun:
    """Replay ``stream`` through one baseline; everything it did, for the accounting."""
    if mode == "manual":
        period = scenario.manual_every_h * 3600.0
    elif mode == "poll":
        period = scenario.poll_every_min * 60.0
    else:
        raise ValueError(f"no baseline mode {mode!r}; the baselines are {', '.join(MODES)}")
    started = time.perf_counter()
    hub = _Hub(scenario, catalog, mode, period)
    hub.sync(0.0)
    events = sorted(stream, key=event_key)
    i = 0
    for k in range(1, math.floor(scenario.end_t / period + 1e-9) + 1):
        at = k * period
        while i < len(events) and events[i].t <= at:
            hub.handle(events[i])
            i += 1
        hub.sync(at)
    for event in events[i:]:
        hub.handle(event)
    hub.run.real_seconds = time.perf_counter() - started
    return hub.run


class _Hub:
    """The channels' counts, the warehouse, and the hub that syncs them every ``period``."""

    def __init__(self, scenario: Scenario, catalog: SimCatalog, mode: str, period: float) -> None:
        self.scenario = scenario
        self.channels = scenario.channels
        self.policies = {c.name: c.policy() for c in self.channels}
        self.listed = catalog.all_listed()
        self.period = period
        self.next_k = 0
        """The next sync is at ``next_k × period``."""
        self.physical = PhysicalStock(catalog.stock, catalog.bundles)
        self.counts: dict[str, dict[str, int]] = {c.name: {} for c in self.channels}
        self.accepted: dict[str, Checkout] = {}
        self.cancelled: set[str] = set()
        self.unread: dict[str, set[str]] = {c.name: set() for c in self.channels}
        """Orders changed on each channel since the hub last read it (new, cancelled, returned)."""
        self.targets: dict[int, dict[str, int]] = {}
        """Pool → what each channel lists (the rules depend on nothing else here)."""
        self.run = ModeRun(mode=mode, api_calls={c.name: 0 for c in self.channels})
        self.counted = mode == "poll"
        if mode == "manual":
            self.run.notes.append(
                "manual: a person sets the counts in each channel's admin, so no API calls count"
            )
        a = scenario.adversity
        if a.busy_processes or a.latency_ms or a.jitter_ms or a.webhook_delay_ms:
            self.run.notes.append(
                f"{mode}: host load, channel latency and late webhooks change nothing on a"
                " simulated clock whose cycle is minutes or hours long"
            )
        if a.outages:
            self.run.notes.append(
                f"{mode}: during an outage the hub cannot write to that channel, which keeps its"
                " counts until the first sync after the outage"
            )

    def handle(self, event: StreamEvent) -> None:
        if isinstance(event, Checkout):
            self._checkout(event)
        elif isinstance(event, Cancel):
            self._cancel(event)
        else:
            self._return(event)

    def _checkout(self, order: Checkout) -> None:
        if order.channel not in self.counts:
            raise ValueError(f"checkout {order.ref!r} names no channel: {order.channel!r}")
        counts = self.counts[order.channel]
        ok = all(counts.get(sku, 0) >= units for sku, units in order.lines)
        self.run.answered.append(
            Answered(
                t=order.t, ref=order.ref, channel=order.channel, lines=order.lines, accepted=ok
            )
        )
        if not ok:
            return
        for sku, units in order.lines:
            self._show(order.t, order.channel, sku, counts[sku] - units)
        self.physical.fill(order.ref, order.lines)
        self.accepted[order.ref] = order
        self.unread[order.channel].add(order.ref)
        self.run.gaps_s.append(self._next_sync_reaching_all_but(order.channel) - order.t)

    def _cancel(self, cancel: Cancel) -> None:
        order = self.accepted.get(cancel.ref)
        if order is None or cancel.ref in self.cancelled:
            return
        self.cancelled.add(cancel.ref)
        counts = self.counts[order.channel]
        for sku, units in order.lines:  # Shopify and WooCommerce restock their own count
            self._show(cancel.t, order.channel, sku, counts[sku] + units)
        self.physical.cancel(cancel.ref)
        self.run.cancelled.append(cancel)
        self.unread[order.channel].add(cancel.ref)

    def _return(self, back: Return) -> None:
        order = self.accepted.get(back.ref)
        if order is None or back.ref in self.cancelled:
            return
        lines = self.physical.returned(back.ref, back.lines)
        if not lines:
            return
        self.physical.restock(lines)
        self.run.returned.append(Return(t=back.t, ref=back.ref, lines=lines))
        self.unread[order.channel].add(back.ref)

    def sync(self, at: float) -> None:
        """Read every reachable channel's orders, then set each of its listings to the rules'."""
        self.next_k += 1
        for channel in self.channels:
            if self._down(channel.name, at):
                continue
            written = 0
            for sku in self.listed:
                qty = self._target(self.physical.available(sku))[channel.name]
                if self.counts[channel.name].get(sku) != qty:
                    self._show(at, channel.name, sku, qty)
                    written += 1
            if self.counted:
                self.run.api_calls[channel.name] += _calls(
                    channel, len(self.unread[channel.name]), written
                )
            self.unread[channel.name].clear()

    def _target(self, pool: int) -> dict[str, int]:
        found = self.targets.get(pool)
        if found is None:
            claims = [
                Claim(c.name, c.priority, pool, self.policies[c.name], _LOCATIONS)
                for c in self.channels
            ]
            found = self.targets[pool] = sellable_quantities(claims)
        return found

    def _show(self, t: float, channel: str, sku: str, qty: int) -> None:
        self.counts[channel][sku] = qty
        self.run.shown.append(Shown(t=t, channel=channel, sku=sku, qty=qty))

    def _down(self, channel: str, t: float) -> bool:
        return any(o.channel == channel and o.active(t) for o in self.scenario.adversity.outages)

    def _next_sync_reaching_all_but(self, channel: str) -> float:
        """When the next sync that writes to every other channel happens (outages skip some)."""
        others = [c.name for c in self.channels if c.name != channel]
        k = self.next_k
        while any(self._down(other, k * self.period) for other in others):
            k += 1
        return k * self.period


def _calls(channel: ChannelSpec, orders: int, written: int) -> int:
    """API calls of one sync of one channel: its changed orders in pages (at least one call to
    learn there are none), and the changed listings in the kind's write batches."""
    reads = max(1, math.ceil(orders / ORDER_PAGE[channel.kind]))
    return reads + math.ceil(written / WRITE_BATCH[channel.kind])
