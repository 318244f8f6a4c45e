"""The JSON description of a custom channel: endpoints, auth, paging and the field names its API
uses, validated up front so a bad config fails with every problem listed, not mid-sync.

Field names are dot paths (``"event.id"``); URL paths are checked for the placeholders they may use.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)

from stocksync.domain.errors import StockSyncError
from stocksync.domain.messages import EventKind

__all__ = [
    "AuthConfig",
    "CursorPaging",
    "CustomChannelConfig",
    "CustomChannelConfigError",
    "FulfillmentConfig",
    "OrderCall",
    "OrderLineFields",
    "OrdersConfig",
    "PagePaging",
    "PushBody",
    "PushConfig",
    "PushResults",
    "ReadConfig",
    "RefundConfig",
    "WebhookConfig",
]


class CustomChannelConfigError(StockSyncError, ValueError):
    """A custom channel configuration that cannot be used; the message lists every problem."""


def _dot_path(value: str) -> str:
    if not value or not all(value.split(".")):
        raise ValueError(f"{value!r} is not a field name or dot path like 'event.id'")
    return value


def _url_path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError(f"path {value!r} must start with '/'")
    return value


def _order_path(value: str) -> str:
    names = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
    if names != {"order_id"}:
        raise ValueError(f"path {value!r} must contain {{order_id}} and no other placeholder")
    return _url_path(value)


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError(f"base_url {value!r} must start with http:// or https://")
    return value.rstrip("/")


DotPath = Annotated[str, AfterValidator(_dot_path)]
UrlPath = Annotated[str, AfterValidator(_url_path)]
OrderPath = Annotated[str, AfterValidator(_order_path)]
Method = Literal["POST", "PUT", "PATCH"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AuthConfig(_Section):
    """One header carries the credential: ``Authorization: Bearer …`` or ``X-Api-Key: …``."""

    header: str = Field(min_length=1)
    value: SecretStr


class PushBody(_Section):
    """``{items_key: [{id_field, quantity_field, expected_field?}, …]}``."""

    items_key: DotPath
    id_field: DotPath
    quantity_field: DotPath
    expected_field: DotPath | None = None
    """Named only for channels that refuse a write when their count is not the expected one."""
    idempotency_header: str | None = None


class PushResults(_Section):
    """Where the per-item answers are and which status values mean what."""

    key: DotPath
    id_field: DotPath
    status_field: DotPath
    ok: tuple[str, ...] = Field(min_length=1)
    conflict: tuple[str, ...] = ()
    rejected: tuple[str, ...] = ()
    message_field: DotPath | None = None
    quantity_field: DotPath | None = None
    """The channel's current count, when it reports one (needed on a conflict)."""

    @model_validator(mode="after")
    def _statuses_are_distinct(self) -> PushResults:
        shared = (set(self.ok) & set(self.conflict)) | (set(self.ok) & set(self.rejected))
        shared |= set(self.conflict) & set(self.rejected)
        if shared:
            raise ValueError(f"status values {sorted(shared)} mean more than one outcome")
        return self


class PushConfig(_Section):
    method: Method = "POST"
    path: UrlPath
    batch_size: int = Field(ge=1, le=1000)
    body: PushBody
    results: PushResults

    @model_validator(mode="after")
    def _conflicts_can_be_told(self) -> PushConfig:
        if self.body.expected_field and not self.results.conflict:
            raise ValueError("body.expected_field needs results.conflict: the status of a conflict")
        return self


class PagePaging(_Section):
    """``?page=N&per_page=M``; the total number of pages in a header (else: stop at a short page)."""

    style: Literal["page"]
    page_param: str = "page"
    per_page_param: str = "per_page"
    per_page: int = Field(100, ge=1)
    total_pages_header: str | None = None


class CursorPaging(_Section):
    """``?cursor=…``; the body names the next cursor, empty on the last page."""

    style: Literal["cursor"]
    cursor_param: str
    next_cursor_field: DotPath
    limit_param: str | None = None
    limit: int = Field(100, ge=1)


class ReadConfig(_Section):
    path: UrlPath
    list_key: DotPath
    id_field: DotPath
    sku_field: DotPath | None = None
    quantity_field: DotPath
    paging: PagePaging | CursorPaging = Field(discriminator="style")


class OrderLineFields(_Section):
    id_field: DotPath
    sku_field: DotPath | None = None
    listing_id_field: DotPath | None = None
    quantity_field: DotPath
    cancelled_field: DotPath | None = None

    @model_validator(mode="after")
    def _names_a_product(self) -> OrderLineFields:
        if self.sku_field is None and self.listing_id_field is None:
            raise ValueError("a line needs sku_field or listing_id_field to map it to stock")
        return self


class OrdersConfig(_Section):
    """``GET path?since_param=<cursor>`` lists orders changed after the cursor."""

    path: UrlPath
    since_param: str = Field(min_length=1)
    list_key: DotPath
    next_cursor_field: DotPath
    more_field: DotPath | None = None
    id_field: DotPath
    created_field: DotPath
    updated_field: DotPath | None = None
    status_field: DotPath
    cancelled_statuses: tuple[str, ...] = ()
    lines_key: DotPath
    line: OrderLineFields


class WebhookConfig(_Section):
    """HMAC-SHA256 over the raw body, in ``signature_header`` (after ``signature_prefix``)."""

    signature_header: str = Field(min_length=1)
    algorithm: Literal["hmac-sha256"] = "hmac-sha256"
    encoding: Literal["hex", "base64"]
    signature_prefix: str = ""
    secret: SecretStr
    event_id_field: DotPath
    topic_field: DotPath
    occurred_at_field: DotPath | None = None
    order_field: DotPath
    topics: dict[str, EventKind] = Field(default_factory=dict)


class OrderCall(_Section):
    """``method path`` (with ``{order_id}``) carrying ``{lines_key: [{line_id, quantity}]}``."""

    method: Method = "POST"
    path: OrderPath
    lines_key: DotPath
    line_id_field: DotPath
    quantity_field: DotPath
    id_field: DotPath
    """Where the answer carries the id of what was created."""


class FulfillmentConfig(OrderCall):
    carrier_field: DotPath
    tracking_number_field: DotPath
    tracking_url_field: DotPath | None = None


class RefundConfig(OrderCall):
    restock_field: DotPath
    reason_field: DotPath | None = None
    idempotency_header: str | None = None


class CustomChannelConfig(_Section):
    """Everything the connector (and the sandbox emulator) needs to know about one custom channel."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    base_url: Annotated[str, AfterValidator(_http_url)]
    timeout_s: float = Field(30.0, gt=0)
    auth: AuthConfig
    push: PushConfig
    read: ReadConfig
    orders: OrdersConfig
    webhook: WebhookConfig
    fulfillment: FulfillmentConfig | None = None
    refund: RefundConfig | None = None

    @classmethod
    def load(cls, source: str | Path | Mapping[str, Any]) -> CustomChannelConfig:
        """Validate a JSON file (by path) or a dict; every problem is named in one error."""
        label = str(source) if isinstance(source, str | Path) else "config"
        try:
            if isinstance(source, str | Path):
                return cls.model_validate_json(Path(source).read_bytes())
            return cls.model_validate(source)
        except ValidationError as exc:
            raise CustomChannelConfigError(_describe(label, exc)) from exc
        except OSError as exc:
            raise CustomChannelConfigError(f"{label}: cannot read the file: {exc}") from exc


def _describe(label: str, exc: ValidationError) -> str:
    """``<label>: N problem(s)`` then one ``  where: what`` line per problem."""
    problems = [
        f"  {'.'.join(map(str, error['loc'])) or '(top level)'}: {error['msg']}"
        for error in exc.errors()
    ]
    return "\n".join(
        [f"{label}: {len(problems)} problem(s) in the custom channel config"] + problems
    )
