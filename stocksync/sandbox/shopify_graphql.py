"""What the Shopify emulator's resolvers share: the call and its arguments, request-level
errors, cursor paging and userErrors.

There is no GraphQL parser: arguments are read from ``variables`` or a literal in the query.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stocksync.sandbox.shopify_values import Json

__all__ = ["MAX_PAGE", "USER_ERRORS", "Call", "GraphQLError", "paginate", "user_error"]

MAX_PAGE = 250


class GraphQLError(Exception):
    """A request-level error: top-level ``errors``, no ``data``."""

    def __init__(self, message: str, code: str, **extra: Any) -> None:
        super().__init__(message)
        self.entry: Json = {"message": message, "extensions": {"code": code, **extra}}


@dataclass(frozen=True, slots=True)
class Call:
    version: str
    query: str
    variables: Json

    def arg(self, field_name: str, name: str, default: Any = None) -> Any:
        """Argument ``name`` of ``field_name(...)``: a ``$variable`` or a literal in the query."""
        call = re.search(rf"\b{field_name}\s*\(([^)]*)\)", self.query)
        found = call and re.search(rf"\b{name}\s*:\s*(\$\w+|\"[^\"]*\"|-?\d+|null)", call.group(1))
        if not found:
            return default
        raw = found.group(1)
        if raw.startswith("$"):
            return self.variables.get(raw[1:], default)
        return None if raw == "null" else json.loads(raw)

    def first(self, field_name: str, default: int = 0) -> int:
        return int(self.arg(field_name, "first", default) or default)


def paginate(nodes: list[Json], after: str | None, first: int, key: Callable[[Json], str]) -> Json:
    """Cursor paging over ``nodes`` (already sorted): ``pageInfo`` and the page's nodes."""
    start = 0
    if after:
        marker = base64.b64decode(after).decode()
        start = next((i + 1 for i, n in enumerate(nodes) if key(n) == marker), len(nodes))
    page = nodes[start : start + min(first, MAX_PAGE)]
    end = base64.b64encode(key(page[-1]).encode()).decode() if page else None
    return {
        "pageInfo": {"hasNextPage": start + len(page) < len(nodes), "endCursor": end},
        "nodes": page,
    }


USER_ERRORS = {
    "INVALID_NAME": "Only the 'available' quantity is emulated.",
    "INVALID_QUANTITY_NAME": "Only the 'available' quantity is emulated.",
    "INVALID_REASON": "The reason is invalid.",
    "INVALID_REFERENCE_DOCUMENT": "The reference document URI is invalid.",
    "NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR": "The combination of inventoryItemId and locationId must be unique.",
    "INVALID_INVENTORY_ITEM": "The specified inventory item could not be found.",
    "INVALID_LOCATION": "The specified location could not be found.",
    "ITEM_NOT_STOCKED_AT_LOCATION": "The specified inventory item is not stocked at the location.",
    "INVALID_QUANTITY_TOO_HIGH": "The quantity can't be higher than 1,000,000,000.",
    "INVALID_QUANTITY_TOO_LOW": "The quantity can't be lower than -1,000,000,000.",
    "CHANGE_FROM_QUANTITY_STALE": "The changeFromQuantity argument no longer matches the persisted quantity.",
    "COMPARE_QUANTITY_REQUIRED": "The compareQuantity argument must be given to each quantity or ignored using ignoreCompareQuantity.",
    "COMPARE_QUANTITY_STALE": "The compareQuantity argument no longer matches the persisted quantity.",
    "IDEMPOTENCY_KEY_PARAMETER_MISMATCH": "The same idempotency key was used with different arguments.",
}


def user_error(field_path: list[Any], code: str) -> Json:
    return {"field": [str(p) for p in field_path], "message": USER_ERRORS[code], "code": code}
