"""The fastest any client could push N changes into an emulator, from the limits it enforces.

Every floor assumes one call in flight at a time (the connectors send sequentially) and that an
answer leaves the emulator the moment the call is admitted: the emulators sleep the latency
*before* admitting a call, so each call costs the latency once and the server's own work is
left out. A bucket (Shopify's cost bucket, an Amazon token bucket) starts full and refills at its
rate up to its size; a call waits until it holds the call's cost. Waiting never helps, so
admitting every call as early as the bucket allows gives the floor (``admit``).

The numbers are read from the emulator that runs the benchmark: its bucket size and restore
rate, its cost function, batch caps, rate plans, feed processing and apply delays.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from stocksync.sandbox.shopify_graphql import Call
from stocksync.sandbox.shopify_inventory import MAX_INPUT_SIZE, set_quantities_cost
from stocksync.sandbox.woocommerce_products import BATCH_LIMIT

__all__ = ["FEED_MESSAGES", "Floor", "admit", "floor_for"]

FEED_MESSAGES = 25_000
"""Amazon's cap on messages per JSON_LISTINGS_FEED (the emulator does not enforce one)."""


@dataclass(frozen=True, slots=True)
class Floor:
    seconds: float
    how: str
    """One line: the arithmetic behind ``seconds``."""


class Bucket:
    """A leaky/token bucket as the floor sees it: full at time 0, ``rate`` per second, ``size``."""

    def __init__(self, size: float, rate: float) -> None:
        self.size, self.rate = size, rate
        self.level, self.at = size, 0.0

    def admit(self, cost: float, arrives: float) -> float:
        """When a call of ``cost`` arriving at ``arrives`` is admitted; spends its cost."""
        level = min(self.size, self.level + (arrives - self.at) * self.rate)
        admitted = arrives if level >= cost else arrives + (cost - level) / self.rate
        self.level = min(self.size, level + (admitted - arrives) * self.rate) - cost
        self.at = admitted
        return admitted


def admit(costs: Iterable[float], latency_s: float, size: float, rate: float) -> float:
    """When the last of sequential calls is admitted (each sent when the previous one answers)."""
    bucket, t = Bucket(size, rate), 0.0
    for cost in costs:
        t = bucket.admit(cost, t + latency_s)
    return t


def floor_for(running: Any, changes: int, latency_ms: int) -> Floor:
    """The floor for ``changes`` pushes to the emulator ``running`` (a ``RunningEmulator``)."""
    latency = latency_ms / 1000
    if running.kind == "shopify":
        return shopify_floor(running.state, changes, latency)
    if running.kind == "woocommerce":
        return batches_floor(changes, BATCH_LIMIT, latency, "POST products/batch")
    if running.kind == "amazon":
        return amazon_floor(running.state, changes, latency)
    batch = int(running.connector_fields()["push"]["batch_size"])
    return batches_floor(changes, batch, latency, "push calls (config batch_size)")


def batches_floor(changes: int, batch: int, latency: float, what: str) -> Floor:
    """No rate limit: ceil(N / batch) sequential calls, each paying the latency."""
    calls = math.ceil(changes / batch)
    how = f"{calls} {what} of <={batch} x {latency * 1000:.0f} ms latency, sequential"
    return Floor(calls * latency, how)


def shopify_floor(state: Any, changes: int, latency: float) -> Floor:
    """inventorySetQuantities of <=250, each costing what the emulator's cost function says."""
    sizes = [min(MAX_INPUT_SIZE, changes - start) for start in range(0, changes, MAX_INPUT_SIZE)]
    costs = [
        set_quantities_cost(Call("2026-01", "", {"input": {"quantities": [{}] * n}})) for n in sizes
    ]
    size, rate = float(state.bucket.size), float(state.bucket.restore_rate)
    seconds = admit(costs, latency, size, rate)
    total, calls = sum(costs), len(costs)
    how = (
        f"{calls} inventorySetQuantities of <={MAX_INPUT_SIZE}, each costing 10 + its size "
        f"(total {total}); bucket {size:g} full at start, restoring {rate:g}/s: "
        f"max(({total}-{size:g})/{rate:g} = {max(0.0, (total - size) / rate):.2f}s, "
        f"{calls} x {latency * 1000:g} ms = {calls * latency:.2f}s) -> {seconds:.2f}s"
    )
    return Floor(seconds, how)


def amazon_floor(state: Any, changes: int, latency: float) -> Floor:
    """The cheaper of JSON_LISTINGS_FEEDs and one patchListingsItem per SKU."""
    feed = _feed_seconds(state, changes, latency)
    patches = _patch_seconds(state, changes, latency)
    rate, burst = state.rate_plans["patchListingsItem"]
    feeds = math.ceil(changes / FEED_MESSAGES)
    feed_how = (
        f"{feeds} feed(s): createFeedDocument + upload (no latency) + createFeed, "
        f"processing {state.feed_processing_s:g}s, getFeed that sees DONE, getFeedDocument "
        f"+ download = 3 x {latency * 1000:.0f} ms + {state.feed_processing_s:g}s = {feed:.2f}s"
    )
    patch_how = (
        f"{changes} patches at {rate:g}/s burst {burst} + apply delay "
        f"{state.apply_delay_s:g}s = {patches:.1f}s"
    )
    if feed <= patches:
        return Floor(feed, f"{feed_how}; vs {patch_how}")
    return Floor(patches, f"{patch_how}; vs {feed_how}")


def _feed_seconds(state: Any, changes: int, latency: float) -> float:
    """Sequential feeds, each through every step; the createFeed and getFeed buckets apply."""
    plans = state.rate_plans
    buckets = {op: Bucket(burst, rate) for op, (rate, burst) in plans.items()}
    t = 0.0
    for _ in range(math.ceil(changes / FEED_MESSAGES)):
        t = buckets["createFeedDocument"].admit(1, t + latency)  # the upload has no latency
        created = buckets["createFeed"].admit(1, t + latency)
        # the poll that finds it DONE can be sent a latency ahead of the processing end
        done = buckets["getFeed"].admit(
            1, max(created + latency, created + state.feed_processing_s)
        )
        t = buckets["getFeedDocument"].admit(1, done + latency)  # the download has no latency
    return t


def _patch_seconds(state: Any, changes: int, latency: float) -> float:
    """One patch per SKU through the patch bucket; the last goes live ``apply_delay_s`` later."""
    rate, burst = state.rate_plans["patchListingsItem"]
    return admit([1] * changes, latency, float(burst), float(rate)) + float(state.apply_delay_s)
