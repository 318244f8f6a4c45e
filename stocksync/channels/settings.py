"""Channel configurations without Prefect: a channels file, then ``STOCKSYNC_<NAME>_<FIELD>`` variables.

The CLI and the webhook service run where no Prefect server is, so they read the same fields the
blocks hold from two plain sources. The file (TOML or JSON) is the one ``STOCKSYNC_CHANNELS_FILE``
names, or ``./stocksync-channels.toml``, or ``./stocksync-channels.json``::

    [channels.shopify-main]
    kind = "shopify"
    shop_url = "https://teal-mugs.myshopify.com"
    location_id = "gid://shopify/Location/124656943"

    [channels.b2b-portal]
    kind = "custom"
    spec_file = "b2b-portal.json"      # relative to this file; inline keys override it

Variables override or supply fields: the name upper-cased with ``-`` as ``_``, then the field
(``STOCKSYNC_SHOPIFY_MAIN_ACCESS_TOKEN``, ``STOCKSYNC_SHOPIFY_MAIN_KIND``). Every kind takes its
webhook secret as ``STOCKSYNC_<NAME>_WEBHOOK_SECRET``, the name the webhook receiver reads. A
channel whose kind neither source gives takes the ledger's kind for it, when the caller has one.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stocksync.channels.base import ChannelConnector
from stocksync.channels.registry import ChannelConfigError, build_connector, channel_kind

__all__ = [
    "FILE_VARIABLE",
    "ChannelSettings",
    "channels_file",
    "env_prefix",
    "load_channel",
    "read_channels_file",
]

FILE_VARIABLE = "STOCKSYNC_CHANNELS_FILE"
DEFAULT_FILES = ("stocksync-channels.toml", "stocksync-channels.json")
MASK = "********"
_NESTED_SECRETS = {"auth": "value", "webhook": "secret"}
"""Secrets inside a custom channel's sections."""


@dataclass(frozen=True, slots=True)
class ChannelSettings:
    """One channel's fields, gathered from the file and the environment; ``repr`` masks secrets."""

    name: str
    kind: str
    fields: Mapping[str, Any] = field(repr=False)
    sources: tuple[str, ...] = ()
    """Where the fields came from, for messages: the file's path and/or ``environment``."""

    def __repr__(self) -> str:
        return (
            f"ChannelSettings(name={self.name!r}, kind={self.kind!r}, "
            f"fields={masked(self.kind, self.fields)!r}, sources={self.sources!r})"
        )

    def connector(self) -> ChannelConnector:
        try:
            return build_connector(self.kind, self.name, self.fields)
        except ChannelConfigError as exc:
            where = " and ".join(self.sources) or "nowhere"
            hint = f"set them in the channels file or as {env_prefix(self.name)}<FIELD>"
            raise ChannelConfigError(f"{exc} (read from {where}; {hint})") from None


def masked(kind: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """``fields`` with every secret replaced by a mask, nested custom-channel secrets included."""
    try:
        secrets = channel_kind(kind).secrets | {"webhook_secret"}
    except ChannelConfigError:
        secrets = frozenset({"webhook_secret"})
    shown: dict[str, Any] = {}
    for key, value in fields.items():
        if key in secrets:
            shown[key] = MASK
        elif key in _NESTED_SECRETS and isinstance(value, Mapping):
            inner = _NESTED_SECRETS[key]
            shown[key] = {k: MASK if k == inner else v for k, v in value.items()}
        elif key in _NESTED_SECRETS and kind == "custom":
            shown[key] = MASK  # a section given as JSON text may carry its secret
        else:
            shown[key] = value
    return shown


def env_prefix(name: str) -> str:
    """``STOCKSYNC_SHOPIFY_MAIN_`` for channel ``shopify-main``."""
    return f"STOCKSYNC_{name.upper().replace('-', '_')}_"


def channels_file(
    explicit: str | Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Path | None:
    """The channels file to read: the one given, the one the variable names, or a default one."""
    env = os.environ if environ is None else environ
    named = explicit or env.get(FILE_VARIABLE) or None
    if named is not None:
        path = Path(named)
        if not path.is_file():
            raise ChannelConfigError(f"channels file {path} does not exist")
        return path
    here = cwd or Path.cwd()
    return next((here / n for n in DEFAULT_FILES if (here / n).is_file()), None)


def read_channels_file(path: Path) -> dict[str, dict[str, Any]]:
    """Channel name → fields, as the file gives them (custom ``spec_file``s read in)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ChannelConfigError(f"channels file {path}: cannot read it ({exc.strerror})") from None
    try:
        document = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ChannelConfigError(
            f"channels file {path}: not valid {_format(path)}: {exc}"
        ) from None
    channels = document.get("channels") if isinstance(document, dict) else None
    if not isinstance(channels, dict) or not all(isinstance(c, dict) for c in channels.values()):
        raise ChannelConfigError(
            f'channels file {path}: expected {{"channels": {{"<name>": {{"kind": …, …}}}}}}'
        )
    return {name: _with_spec(name, fields, path.parent) for name, fields in channels.items()}


def _format(path: Path) -> str:
    return "TOML" if path.suffix == ".toml" else "JSON"


def _with_spec(name: str, fields: dict[str, Any], base: Path) -> dict[str, Any]:
    """A custom channel's ``spec_file`` (relative to ``base``) under its inline fields."""
    rest = dict(fields)
    spec_file = rest.pop("spec_file", None)
    if spec_file is None:
        return rest
    path = base / str(spec_file)
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ChannelConfigError(
            f"channel {name!r}: cannot read spec_file {path} ({exc.strerror})"
        ) from None
    except json.JSONDecodeError as exc:
        raise ChannelConfigError(f"channel {name!r}: spec_file {path} is not JSON: {exc}") from None
    if not isinstance(spec, dict):
        raise ChannelConfigError(f"channel {name!r}: spec_file {path} must hold a JSON object")
    return {**spec, **rest}


def load_channel(
    name: str,
    *,
    path: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    ledger_kind: str | None = None,
    cwd: Path | None = None,
) -> ChannelSettings:
    """Channel ``name``'s settings: the file's fields, overridden by its variables.

    ``ledger_kind`` is the kind the ledger records for the channel; it is used only when neither
    the file nor ``STOCKSYNC_<NAME>_KIND`` says.
    """
    env = os.environ if environ is None else environ
    file = channels_file(path, environ=env, cwd=cwd)
    from_file = read_channels_file(file).get(name) if file else None
    fields = dict(from_file or {})
    sources = [str(file)] if from_file is not None else []
    prefix = env_prefix(name)
    kind = env.get(prefix + "KIND") or fields.pop("kind", None) or ledger_kind
    fields.pop("kind", None)
    if not kind:
        if from_file is None and not _has_variables(env, prefix):
            where = f" in {file}" if file else ""
            raise ChannelConfigError(
                f"no configuration for channel {name!r}{where}: add it to a channels file "
                f"({FILE_VARIABLE}, ./{DEFAULT_FILES[0]}) or set {prefix}KIND and its fields"
            )
        raise ChannelConfigError(f"channel {name!r}: no kind; set kind in the file or {prefix}KIND")
    entry = channel_kind(str(kind))
    from_env = _variables(env, prefix, [*entry.fields, *entry.aliases, "spec_file"])
    if "spec_file" in from_env:
        spec = _with_spec(name, {"spec_file": from_env.pop("spec_file")}, cwd or Path.cwd())
        fields = {**spec, **fields}
    if from_env:
        sources.append("environment")
    return ChannelSettings(name, entry.kind, {**fields, **from_env}, tuple(sources))


def _variables(env: Mapping[str, str], prefix: str, names: list[str]) -> dict[str, str]:
    """The non-empty ``<prefix><FIELD>`` variables among ``names``."""
    found = {n: env.get(prefix + n.upper()) for n in names}
    return {n: v for n, v in found.items() if v}


def _has_variables(env: Mapping[str, str], prefix: str) -> bool:
    return any(key.startswith(prefix) for key in env)
