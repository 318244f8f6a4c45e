"""One way to run any channel emulator on loopback: for tests, the CLI, benchmarks and the demo.

``start_emulator("shopify", "shopify-main", {"TEAL-MUG-350ML": 3})`` serves a stocked emulator in a
thread and returns a ``RunningEmulator``: its base URL, connectors configured with the right
credentials and webhook secret, its listings as the ledger stores them, what it shows shoppers,
a shopper checkout and a customer's cancel over its HTTP endpoints, faults under uniform names,
call counts, and ``stop()``.
Channel-specific tests still reach ``state`` for what only one emulator has.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

import httpx

from stocksync.channels.base import ChannelConnector
from stocksync.sandbox.emulators import FAULTS, KINDS, Emulator, connector_from_fields, emulator_for
from stocksync.sandbox.server import serve_in_thread

__all__ = [
    "FAULTS",
    "KINDS",
    "RunningEmulator",
    "SandboxClock",
    "ShopperOrder",
    "connector_from_fields",
    "start_emulator",
]


class SandboxClock:
    """The emulators' wall clock: real time plus an offset a test or demo can move forward.

    Amazon only lists orders older than two minutes; advancing the clock shows them at once.
    """

    def __init__(self) -> None:
        self._offset = timedelta()
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += timedelta(seconds=seconds)


@dataclass(frozen=True, slots=True)
class ShopperOrder:
    """What the emulator's shopper endpoint answered: refused (409) when stock was short."""

    accepted: bool
    order_id: str | None
    status_code: int
    body: Any


class RunningEmulator:
    """An emulator served on loopback; connectors made by ``connector()`` close when it stops."""

    def __init__(
        self, emulator: Emulator, clock: SandboxClock, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self._emulator, self.clock = emulator, clock
        self.kind, self.name = emulator.kind, emulator.name
        self.base_url, self._stop_server = serve_in_thread(emulator.app(), host=host, port=port)
        self._http = httpx.Client(base_url=self.base_url, timeout=10.0)
        self._connectors: list[ChannelConnector] = []
        self._stopped = False

    @property
    def state(self) -> Any:
        """The emulator's own state object, for channel-specific tests."""
        return self._emulator.state

    @property
    def supported_faults(self) -> frozenset[str]:
        return self._emulator.faults

    @property
    def signs_webhook_body(self) -> bool:
        """False for Amazon: its relay is trusted by a shared secret, so a changed body passes."""
        return self._emulator.signs_body

    def connector_fields(self) -> dict[str, Any]:
        """The connector config as a channel config entry: ``{"kind": ..., <fields>}``."""
        return {"kind": self.kind, **self._emulator.fields(self.base_url)}

    def connector(self, *, webhook_secret: str | None = None, **overrides: Any) -> ChannelConnector:
        """A connector for this emulator; ``overrides`` replace top-level config fields."""
        fields = self.connector_fields() | overrides
        if webhook_secret is not None:
            fields["webhook_secret"] = webhook_secret  # every kind answers to this name
        connector = connector_from_fields(fields)
        self._connectors.append(connector)
        return connector

    def listings(self) -> dict[str, tuple[str, dict[str, str]]]:
        """SKU → (external listing id, refs), as the ledger's channel listings store them."""
        return self._emulator.listings()

    def listing_id(self, sku: str) -> str:
        """The channel's listing id for ``sku`` (KeyError if the channel does not list it)."""
        return self._emulator.listing_id(sku)

    def shown(self, sku: str) -> int:
        """What the channel shows shoppers for ``sku`` now, read from the emulator's state."""
        return self._emulator.shown(self.listing_id(sku))

    def shopper_order(self, lines: Mapping[str, int]) -> ShopperOrder:
        """A shopper checks out SKU → units through the emulator's HTTP endpoint.

        Accepted only if the channel shows enough of every line; a refusal changes nothing.
        """
        body = self._emulator.order_body(lines)
        answer = self._http.post("/_sandbox/shopper/orders", json=body)
        if answer.status_code == 409:
            return ShopperOrder(False, None, 409, answer.json())
        answer.raise_for_status()
        payload = answer.json()
        return ShopperOrder(True, self._emulator.order_id(payload), answer.status_code, payload)

    def shopper_cancel(self, order_id: str) -> bool:
        """The customer cancels unshipped order ``order_id``: the channel puts its units back on
        its own listings and announces the cancellation as the real one does (Shopify
        ``orders/cancelled``, WooCommerce ``order.updated`` with status ``cancelled``, Amazon an
        ``ORDER_CHANGE`` notification, the custom channel its configured topic). False when the
        channel refuses (unknown order, cancelled or shipped already)."""
        answer = self._http.post(self._emulator.cancel_path(order_id))
        if 400 <= answer.status_code < 500:
            return False
        answer.raise_for_status()
        return True

    def set_webhook_url(self, url: str | None) -> None:
        """Deliver the channel's webhooks (Amazon: ORDER_CHANGE notifications) to ``url``."""
        self._emulator.deliver_webhooks_to(url)

    def set_faults(self, **faults: Any) -> None:
        """Change the named faults, keeping the others.

        Names: ``latency_ms``, ``latency_jitter_ms`` (each API call waits ``latency_ms`` plus
        ``uniform(0, jitter)`` ms), ``error_rate`` (share of API calls answered 5xx; 1.0 is an
        outage: every API call fails while the shopper endpoint keeps selling what the channel
        shows), ``seed`` (of the error draw, and of the jitter's and delay's own generators),
        ``timeout_rate`` and ``hang_s`` (calls that hang), ``throttle_next`` (the next N calls get
        a 429), ``drop_webhooks``, ``duplicate_webhooks``, ``reorder_webhooks``,
        ``webhook_delay_ms`` (each webhook, or Amazon notification, goes out ``uniform(d, 2d)``
        ms after its event without holding back the others or the shopper's answer;
        ``stocksync.sandbox.adversity``). A name this emulator cannot inject raises ValueError
        (see ``supported_faults``).
        """
        unknown = set(faults) - self._emulator.faults
        if unknown:
            raise ValueError(
                f"the {self.kind} emulator cannot inject {sorted(unknown)}; "
                f"it supports {sorted(self._emulator.faults)}"
            )
        self._emulator.apply_faults(faults)

    def clear_faults(self) -> None:
        """No faults at all (latency, its jitter and webhook delays included)."""
        off = {"latency_ms": 0, "latency_jitter_ms": 0, "error_rate": 0.0, "timeout_rate": 0.0,
               "throttle_next": 0, "drop_webhooks": False, "duplicate_webhooks": False,
               "reorder_webhooks": False, "webhook_delay_ms": 0}  # fmt: skip
        self._emulator.apply_faults({k: v for k, v in off.items() if k in self._emulator.faults})

    def push_calls(self) -> int:
        """Quantity-setting calls the emulator has received (batches, patches, feeds)."""
        return self._emulator.push_calls()

    def api_calls(self) -> int:
        """Calls the channel's API has received (order reads, quantity writes, read-backs, and
        those answered with an error or a 429); shopper and sandbox endpoints do not count."""
        return self._emulator.api_calls()

    def advance_clock(self, seconds: float) -> None:
        """Move the emulator's wall clock forward (Shopify's order times follow real time)."""
        self.clock.advance(seconds)

    def stop(self) -> None:
        """Close the connectors made here and the server; safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        for connector in self._connectors:
            connector.close()
        self._http.close()
        self._stop_server()

    def __enter__(self) -> RunningEmulator:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return (
            f"RunningEmulator(kind={self.kind!r}, name={self.name!r}, base_url={self.base_url!r})"
        )


def start_emulator(
    kind: str,
    name: str,
    stock: Mapping[str, int],
    *,
    webhook_url: str | None = None,
    latency_ms: int = 0,
    host: str = "127.0.0.1",
    port: int = 0,
    clock: SandboxClock | None = None,
    ids: Mapping[str, str] | None = None,
    **limits: Any,
) -> RunningEmulator:
    """Serve an emulator of ``kind`` ("shopify", "woocommerce", "amazon", "custom") stocked with
    SKU → quantity, on ``host``:``port`` (0: a free port), until ``stop()``.

    ``ids`` (SKU → listing id, as a catalog's ``listing:<channel>`` cells name them) are the
    listing ids to stock those SKUs under: a Shopify inventory item gid, a WooCommerce
    ``PRODUCT`` or ``PRODUCT/VARIATION``, an Amazon seller SKU, a custom channel's listing id.
    The other SKUs get ids of the emulator's own, never one of those. ValueError for an id the
    emulator cannot take (another form, or taken) and for ids of SKUs not in ``stock``.

    ``limits`` go to the emulator's state: e.g. ``bucket_size``/``restore_rate`` (Shopify),
    ``apply_delay_s``/``feed_processing_s``/``rate_plans`` (Amazon), ``order_page_size`` (custom);
    custom also takes ``config`` (a ``CustomChannelConfig``, dict or path; default the sample).
    """
    ids = ids or {}
    stray = sorted(set(ids) - set(stock))
    if stray:
        raise ValueError(f"listing ids for SKUs {name!r} is not stocked with: {', '.join(stray)}")
    clock = clock or SandboxClock()
    emulator = emulator_for(kind, name, clock, **limits)
    given = [sku for sku in stock if sku in ids]
    for sku in [*given, *(sku for sku in stock if sku not in ids)]:
        emulator.stock(sku, stock[sku], ids.get(sku))
    if latency_ms:
        emulator.apply_faults({"latency_ms": latency_ms})
    emulator.deliver_webhooks_to(webhook_url)
    return RunningEmulator(emulator, clock, host=host, port=port)
