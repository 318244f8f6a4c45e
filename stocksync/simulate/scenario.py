"""A scenario: the shop (catalog, stock, channels) and its day (arrivals, bursts, adversity).

``load_scenario(path)`` reads one YAML file into :class:`Scenario`; every field is documented in
``scenarios/README.md``. Times in a scenario are scenario seconds, hours or minutes as named.
A file that does not describe a scenario raises :class:`ScenarioError` naming the field, so a
seller describing their own shop learns which line to fix.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from stocksync.domain.model import ChannelPolicy
from stocksync.simulate.scenario_checks import ScenarioError, check_scenario

__all__ = [
    "Adversity",
    "Bundle",
    "Burst",
    "CatalogSpec",
    "ChannelSpec",
    "Outage",
    "Scenario",
    "ScenarioError",
    "load_scenario",
    "scenario_from_dict",
]

T = TypeVar("T")


@dataclass(frozen=True, kw_only=True)
class ChannelSpec:
    """One selling channel and its listing rules (the ledger's ``ChannelPolicy`` fields)."""

    name: str
    kind: str
    """``shopify``, ``amazon``, ``woocommerce`` or ``custom``."""
    priority: int = 0
    share_of_orders: float = 1.0
    """Relative weight of this channel in the shopper stream."""
    buffer: int = 0
    last_units: int = 0
    last_seconds: float = 0.0
    guard_max: int | None = None

    def policy(self) -> ChannelPolicy:
        """The ledger's listing rules for this channel, as a sync would apply them."""
        return ChannelPolicy(
            buffer=self.buffer,
            last_units=self.last_units,
            last_seconds=self.last_seconds,
            guard_max=self.guard_max,
        )


@dataclass(frozen=True, kw_only=True)
class Bundle:
    sku: str
    components: tuple[tuple[str, int], ...]
    """(component SKU, units per bundle); a YAML mapping ``{SKU: units}`` in a scenario file."""
    share_of_orders: float = 0.05
    """Share of checkouts that buy this bundle instead of a plain SKU (drawn per order line)."""


@dataclass(frozen=True, kw_only=True)
class CatalogSpec:
    """A long-tail catalog: ``skus`` SKUs whose popularity falls off as a Zipf law."""

    skus: int = 200
    prefix: str = "SIM"
    zipf_s: float = 1.1
    """Popularity exponent: SKU of rank k is bought in proportion to 1 / k**zipf_s."""
    stock_days: float = 14.0
    """Each SKU starts with this many days of its expected sales (at least ``min_stock``)."""
    min_stock: int = 3
    scarce: int = 5
    """How many of the most popular SKUs start scarce: ``scarce_days`` of sales instead."""
    scarce_days: float = 0.3
    bundles: tuple[Bundle, ...] = ()
    units_per_line_max: int = 1
    """Units a shopper buys per line: 1 to this, uniformly."""
    two_lines_share: float = 0.15
    """Share of checkouts with a second line (a different SKU); the rest have one line."""

    def sku_names(self) -> tuple[str, ...]:
        """The plain SKUs by popularity rank: ``SIM-0001`` is the most popular."""
        width = max(4, len(str(self.skus)))
        return tuple(f"{self.prefix}-{rank:0{width}d}" for rank in range(1, self.skus + 1))


@dataclass(frozen=True, kw_only=True)
class Burst:
    """A flash sale: the arrival rate × ``factor`` from ``start_h`` for ``minutes``.

    ``skus`` (names or ``top:N`` for the N most popular) take ``sku_share`` of its checkouts.
    """

    start_h: float
    minutes: float
    factor: float
    skus: tuple[str, ...] = ()
    sku_share: float = 0.0

    def active(self, t: float) -> bool:
        """Whether the burst is on at scenario second ``t``."""
        start = self.start_h * 3600.0
        return start <= t < start + self.minutes * 60.0


@dataclass(frozen=True, kw_only=True)
class Outage:
    channel: str
    start_h: float
    minutes: float
    """The channel's API answers 5xx for this long (its shop keeps selling what it shows)."""

    def active(self, t: float) -> bool:
        """Whether the channel's API is down at scenario second ``t``."""
        start = self.start_h * 3600.0
        return start <= t < start + self.minutes * 60.0


@dataclass(frozen=True, kw_only=True)
class Adversity:
    busy_processes: int = 0
    """CPU-bound processes the simulator keeps running beside the pipeline (``stocksync`` mode)."""
    latency_ms: int = 0
    """Every channel API call's latency..."""
    jitter_ms: int = 0
    """...plus up to this much more, uniformly."""
    webhook_delay_ms: int = 0
    """Every order webhook is delivered this much later (up to twice as much, uniformly)."""
    outages: tuple[Outage, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Scenario:
    name: str
    description: str = ""
    seed: int = 1
    hours: float = 24.0
    start_hour: float = 0.0
    """Hour of the day the scenario starts at (0 to 24), for the daily curve."""
    orders_per_day: float = 2000.0
    """Mean checkouts per day before the daily curve and bursts."""
    daily_curve: tuple[float, ...] = (1.0,) * 24
    """24 relative weights, one per hour of the day (normalised to a mean of 1)."""
    bursts: tuple[Burst, ...] = ()
    cancel_rate: float = 0.02
    """Share of accepted orders the customer cancels, ``cancel_after_min`` later on average."""
    cancel_after_min: float = 30.0
    return_rate: float = 0.05
    """Share of accepted orders partly or wholly returned, ``return_after_h`` later on average."""
    return_after_h: float = 6.0
    catalog: CatalogSpec = field(default_factory=CatalogSpec)
    channels: tuple[ChannelSpec, ...] = ()
    location: str = "main-dc"
    adversity: Adversity = field(default_factory=Adversity)
    manual_every_h: float = 8.0
    """``manual`` mode: a person corrects every channel from the ledger this often."""
    poll_every_min: float = 15.0
    """``poll`` mode: orders pulled and stock pushed this often."""
    compression: float = 600.0
    """``stocksync`` mode: scenario seconds per real second (a 24 h day in 144 s at 600)."""

    @property
    def end_t(self) -> float:
        """The scenario's length in scenario seconds."""
        return self.hours * 3600.0


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario YAML file; ScenarioError (a ValueError) names the field that is wrong."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ScenarioError("", f"{path} is not YAML: {exc}") from exc
    return scenario_from_dict(raw)


def scenario_from_dict(raw: object) -> Scenario:
    """A scenario from plain data (what ``yaml.safe_load`` gives), types and values checked."""
    scenario = _build(Scenario, raw, "")
    check_scenario(scenario)
    return scenario


def _build(cls: type[T], raw: object, where: str) -> T:
    if not isinstance(raw, Mapping):
        raise ScenarioError(where, f"expected a mapping, got {_kind(raw)}")
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in fields:
            known = ", ".join(sorted(fields))
            raise ScenarioError(_at(where, str(key)), f"unknown field (known: {known})")
    values: dict[str, Any] = {}
    for name, spec in fields.items():
        if name in raw:
            values[name] = _convert(hints[name], raw[name], _at(where, name))
        elif spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
            raise ScenarioError(_at(where, name), "required")
    return cls(**values)


def _convert(hint: Any, value: object, where: str) -> Any:
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _build(hint, value, where)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _convert(inner, value, where)
    if origin is tuple:
        return _tuple(args, value, where)
    return _scalar(hint, value, where)


def _tuple(args: tuple[Any, ...], value: object, where: str) -> tuple[Any, ...]:
    if len(args) == 2 and args[1] is Ellipsis:
        item = args[0]
        if isinstance(value, Mapping) and typing.get_origin(item) is tuple:
            value = [list(pair) for pair in value.items()]  # {SKU: units} for (SKU, units) pairs
        if not isinstance(value, list | tuple):
            raise ScenarioError(where, f"expected a list, got {_kind(value)}")
        return tuple(_convert(item, v, f"{where}[{i}]") for i, v in enumerate(value))
    if not isinstance(value, list | tuple) or len(value) != len(args):
        raise ScenarioError(where, f"expected a list of {len(args)}, got {_kind(value)}")
    return tuple(
        _convert(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value, strict=True))
    )


def _scalar(hint: Any, value: object, where: str) -> Any:
    if hint is bool and isinstance(value, bool):
        return value
    if hint is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if hint is float and isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise ScenarioError(where, "must be a finite number")
        return float(value)
    if hint is str and isinstance(value, str):
        return value
    wanted = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}
    raise ScenarioError(where, f"expected {wanted.get(hint, hint)}, got {_kind(value)}")


def _at(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _kind(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return f"a list of {len(value)}"
    return f"{type(value).__name__} {value!r}"
