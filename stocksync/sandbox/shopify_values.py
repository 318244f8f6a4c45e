"""The small values every part of the Shopify emulator writes: global ids, timestamps, JSON."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

__all__ = ["Json", "gid", "gid_number", "now"]

Json = dict[str, Any]


def gid(kind: str, number: int) -> str:
    """The global id Shopify gives object ``number`` of ``kind``."""
    return f"gid://shopify/{kind}/{number}"


def gid_number(value: Any) -> int | None:
    """The numeric id inside a gid (``gid://shopify/Kind/N``), or None when it is not one."""
    match = re.fullmatch(r"gid://shopify/\w+/(\d+)(\?.*)?", str(value or ""))
    return int(match.group(1)) if match else None


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)
