"""Every channel kind in one table: its configuration, its connector, and how plain fields become both.

Prefect blocks, the channels file and ``STOCKSYNC_<NAME>_<FIELD>`` variables all end up here as a
flat mapping of field names to values, so there is one way to build a connector whatever the
source. Values may be strings (from the environment): they are coerced to the field's type. Errors
name the channel and the fields at fault, never a value, so a secret cannot leak through them.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from stocksync.channels.amazon import AmazonConfig, AmazonConnector
from stocksync.channels.base import ChannelConnector
from stocksync.channels.custom import (
    CustomChannelConfig,
    CustomChannelConfigError,
    CustomChannelConnector,
)
from stocksync.channels.shopify import ShopifyConfig, ShopifyConnector
from stocksync.channels.woocommerce import WooCommerceConfig, WooCommerceConnector
from stocksync.domain.errors import StockSyncError

__all__ = [
    "KINDS",
    "ChannelConfigError",
    "ChannelKind",
    "build_config",
    "build_connector",
    "channel_kind",
]


class ChannelConfigError(StockSyncError, ValueError):
    """A channel's configuration is missing, incomplete or wrong; the message names the fields."""


@dataclass(frozen=True, slots=True)
class ChannelKind:
    """One kind of channel: the fields it takes and how to build its configuration and connector."""

    kind: str
    config_class: type
    connector_class: Callable[[Any], ChannelConnector]
    fields: Mapping[str, Any]
    """Field name → type the value is coerced to (``name`` excluded: it comes from the caller)."""
    required: frozenset[str]
    secrets: frozenset[str]
    """Fields never shown: masked in reprs, left out of messages."""
    aliases: Mapping[str, str] = dataclasses.field(default_factory=dict)
    """Other names a field is known by, so every kind answers to ``webhook_secret``."""

    def config(self, name: str, fields: Mapping[str, Any]) -> Any:
        values = self._checked(name, fields)
        if self.config_class is CustomChannelConfig:
            return _custom_config(name, values)
        return self.config_class(name=name, **values)

    def _checked(self, name: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """``fields`` under their canonical names, coerced; every problem reported at once."""
        values = {self.aliases.get(key, key): value for key, value in fields.items()}
        if values.pop("name", name) != name:
            raise ChannelConfigError(f"channel {name!r}: its configuration names another channel")
        unknown = sorted(set(values) - set(self.fields))
        missing = sorted(self.required - set(values))
        problems = []
        if unknown:
            problems.append(f"unknown field(s) {', '.join(unknown)}")
        if missing:
            problems.append(f"missing field(s) {', '.join(missing)}")
        coerced: dict[str, Any] = {}
        for key, value in values.items():
            if key in self.fields:
                try:
                    coerced[key] = _coerce(value, self.fields[key])
                except (TypeError, ValueError) as exc:
                    problems.append(f"field {key}: {exc}")
        if problems:
            raise ChannelConfigError(f"channel {name!r} ({self.kind}): " + "; ".join(problems))
        return coerced


def _dataclass_kind(
    kind: str,
    config_class: type,
    connector_class: Callable[[Any], ChannelConnector],
    aliases: Mapping[str, str] | None = None,
) -> ChannelKind:
    """The table row of a kind whose configuration is a dataclass; secrets are its repr=False fields."""
    hints = typing.get_type_hints(config_class)
    fields = [f for f in dataclasses.fields(config_class) if f.name != "name"]
    return ChannelKind(
        kind=kind,
        config_class=config_class,
        connector_class=connector_class,
        fields={f.name: hints[f.name] for f in fields},
        required=frozenset(
            f.name
            for f in fields
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        ),
        secrets=frozenset(f.name for f in fields if not f.repr),
        aliases=aliases or {},
    )


def _custom_kind() -> ChannelKind:
    """Custom channels take their specification's sections plus the two secrets as flat fields."""
    sections = {key: Any for key in CustomChannelConfig.model_fields if key != "name"}
    required = {
        key
        for key, info in CustomChannelConfig.model_fields.items()
        if info.is_required() and key != "name"
    }
    return ChannelKind(
        kind="custom",
        config_class=CustomChannelConfig,
        connector_class=CustomChannelConnector,
        fields={**sections, "auth_value": str, "webhook_secret": str},
        required=frozenset(required),
        secrets=frozenset({"auth_value", "webhook_secret"}),
    )


def _custom_config(name: str, values: dict[str, Any]) -> CustomChannelConfig:
    """Sections given as JSON text (from the environment) are parsed; flat secrets are merged in."""
    try:
        data = {key: _json_if_text(value) for key, value in values.items()}
    except ValueError as exc:
        raise ChannelConfigError(f"channel {name!r} (custom): {exc}") from None
    if "auth_value" in data:
        data["auth"] = {**(data.get("auth") or {}), "value": data.pop("auth_value")}
    if "webhook_secret" in data:
        data["webhook"] = {**(data.get("webhook") or {}), "secret": data.pop("webhook_secret")}
    try:
        return CustomChannelConfig.load({**data, "name": name})
    except CustomChannelConfigError as exc:
        raise ChannelConfigError(f"channel {name!r} (custom): {exc}") from None


KINDS: dict[str, ChannelKind] = {
    "shopify": _dataclass_kind("shopify", ShopifyConfig, ShopifyConnector),
    "woocommerce": _dataclass_kind("woocommerce", WooCommerceConfig, WooCommerceConnector),
    "amazon": _dataclass_kind(
        "amazon", AmazonConfig, AmazonConnector, aliases={"webhook_secret": "notification_secret"}
    ),
    "custom": _custom_kind(),
}


def channel_kind(kind: str) -> ChannelKind:
    try:
        return KINDS[kind.strip().lower()]
    except KeyError:
        known = ", ".join(KINDS)
        raise ChannelConfigError(f"unknown channel kind {kind!r} (known: {known})") from None


def build_config(kind: str, name: str, fields: Mapping[str, Any]) -> Any:
    """The connector configuration of channel ``name``, from plain (possibly string) fields."""
    return channel_kind(kind).config(name, fields)


def build_connector(kind: str, name: str, fields: Mapping[str, Any]) -> ChannelConnector:
    """A connector for channel ``name`` of ``kind`` (shopify, woocommerce, amazon or custom)."""
    entry = channel_kind(kind)
    return entry.connector_class(entry.config(name, fields))


# -- coercion ------------------------------------------------------------------------------------

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _coerce(value: Any, target: Any) -> Any:
    """``value`` as ``target`` (str, int, float, bool, ``X | None``, a mapping); strings are parsed."""
    args = [a for a in typing.get_args(target) if a is not type(None)]
    if typing.get_origin(target) in (typing.Union, _UNION_TYPE):
        if value is None:
            return None
        return _coerce(value, args[0])
    if target is Any:
        return value
    if target is bool:
        return _to_bool(value)
    if target in (int, float):
        return _to_number(value, target)
    if target is str:
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return str(value)
        raise TypeError("expected text")
    origin = typing.get_origin(target)
    if origin is not None and issubclass(origin, Mapping):
        parsed = _json_if_text(value)
        if not isinstance(parsed, Mapping):
            raise TypeError("expected a JSON object")
        return {str(k): _to_pair(v) for k, v in parsed.items()} if args else dict(parsed)
    return value


_UNION_TYPE = type(int | None)


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError("expected true or false")


def _to_number(value: Any, target: type) -> int | float:
    if isinstance(value, bool):
        raise TypeError("expected a number")
    kind = "a whole number" if target is int else "a number"
    if isinstance(value, int | float):
        if target is int and value != int(value):
            raise ValueError(f"expected {kind}")
        return cast(Callable[[Any], int | float], target)(value)
    if isinstance(value, str):
        try:
            return cast(Callable[[Any], int | float], target)(value.strip())
        except ValueError:
            raise ValueError(f"expected {kind}") from None
    raise TypeError(f"expected {kind}")


def _to_pair(value: Any) -> tuple[float, int]:
    """A rate plan ``[rate, burst]``."""
    if isinstance(value, list | tuple) and len(value) == 2:
        return float(value[0]), int(value[1])
    raise ValueError("expected [rate per second, burst] pairs")


def _json_if_text(value: Any) -> Any:
    if isinstance(value, str) and value.lstrip().startswith(("{", "[")):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            raise ValueError("a section given as text must be valid JSON") from None
    return value
