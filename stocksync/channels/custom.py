"""Custom channels (a B2B portal, an in-house shop) described by configuration, not code.

A ``CustomChannelConfig`` names a channel's endpoints and the JSON field names its API uses; the
``CustomChannelConnector`` speaks that API over httpx. Nested fields are dot paths (``"event.id"``).
Compare-and-set is on exactly when the push body names an expected-quantity field; otherwise a
push overwrites (last write wins).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import string
import uuid
from collections import defaultdict, deque
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import httpx
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)

from stocksync.channels.base import (
    ChannelOrder,
    ChannelOrderLine,
    ChannelQuantity,
    EventKind,
    Fulfillment,
    InboundEvent,
    OrderPage,
    PushResult,
    PushStatus,
    QuantityPush,
    Refund,
)
from stocksync.channels.errors import (
    ChannelAuthError,
    ChannelError,
    ChannelRejectedError,
    SignatureError,
    TransientChannelError,
)
from stocksync.channels.http import response_body, retry_after_seconds
from stocksync.domain.errors import StockSyncError

__all__ = [
    "AuthConfig",
    "CursorPaging",
    "CustomChannelConfig",
    "CustomChannelConfigError",
    "CustomChannelConnector",
    "FulfillmentConfig",
    "OrderLineFields",
    "OrdersConfig",
    "PagePaging",
    "PushBody",
    "PushConfig",
    "PushResults",
    "ReadConfig",
    "RefundConfig",
    "WebhookConfig",
    "build",
    "get_field",
    "parse_order",
    "set_field",
    "webhook_signature",
]

_T = TypeVar("_T")

MAX_PAGES = 10_000
"""A guard against a channel whose paging never ends."""


class CustomChannelConfigError(StockSyncError, ValueError):
    """A custom channel configuration that cannot be used; the message lists every problem."""


# -- dot paths -----------------------------------------------------------------------------------


def get_field(data: Any, path: str | None, default: Any = None) -> Any:
    """The value at dot path ``path`` (``"event.id"``) in nested dicts, or ``default``."""
    if path is None:
        return default
    for part in path.split("."):
        if not isinstance(data, Mapping) or part not in data:
            return default
        data = data[part]
    return data


def set_field(data: dict[str, Any], path: str, value: Any) -> None:
    """Store ``value`` at dot path ``path``, creating the dicts on the way."""
    *parents, last = path.split(".")
    for part in parents:
        data = data.setdefault(part, {})
    data[last] = value


def build(fields: Mapping[str | None, Any]) -> dict[str, Any]:
    """A nested dict from ``{dot path: value}``; pairs without a path or a value are left out."""
    data: dict[str, Any] = {}
    for path, value in fields.items():
        if path is not None and value is not None:
            set_field(data, path, value)
    return data


# -- the configuration ---------------------------------------------------------------------------


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


class _OrderCall(_Section):
    """``method path`` (with ``{order_id}``) carrying ``{lines_key: [{line_id, quantity}]}``."""

    method: Method = "POST"
    path: OrderPath
    lines_key: DotPath
    line_id_field: DotPath
    quantity_field: DotPath
    id_field: DotPath
    """Where the answer carries the id of what was created."""


class FulfillmentConfig(_OrderCall):
    carrier_field: DotPath
    tracking_number_field: DotPath
    tracking_url_field: DotPath | None = None


class RefundConfig(_OrderCall):
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


# -- pure parsing --------------------------------------------------------------------------------


def webhook_signature(config: WebhookConfig, body: bytes) -> str:
    """The header value the channel sends: prefix + HMAC-SHA256 of the raw body, hex or base64."""
    digest = hmac.new(config.secret.get_secret_value().encode(), body, hashlib.sha256).digest()
    encoded = digest.hex() if config.encoding == "hex" else base64.b64encode(digest).decode()
    return config.signature_prefix + encoded


def _time(value: Any) -> datetime:
    """An ISO 8601 string (naive means UTC) or epoch seconds."""
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _line(fields: OrderLineFields, item: Any, cancelled_order: bool) -> ChannelOrderLine:
    quantity = int(get_field(item, fields.quantity_field, 0))
    cancelled = get_field(item, fields.cancelled_field)
    return ChannelOrderLine(
        external_line_id=str(get_field(item, fields.id_field)),
        sku=_text(get_field(item, fields.sku_field)),
        listing_id=_text(get_field(item, fields.listing_id_field)),
        quantity=quantity,
        cancelled=int(cancelled) if cancelled is not None else quantity * cancelled_order,
    )


def parse_order(config: OrdersConfig, channel: str, payload: Any) -> ChannelOrder:
    """Normalise one order; without a cancelled-quantity field a cancelled order cancels every unit."""
    status = str(get_field(payload, config.status_field, ""))
    cancelled = status in config.cancelled_statuses
    created = _time(get_field(payload, config.created_field))
    updated = get_field(payload, config.updated_field)
    return ChannelOrder(
        channel=channel,
        external_id=str(get_field(payload, config.id_field)),
        created_at=created,
        updated_at=_time(updated) if updated is not None else created,
        status=status,
        cancelled=cancelled,
        lines=tuple(
            _line(config.line, item, cancelled)
            for item in get_field(payload, config.lines_key) or []
        ),
    )


def _push_result(config: PushResults, push: QuantityPush, item: Any) -> PushResult:
    """Map one per-item answer onto APPLIED / CONFLICT / REJECTED."""
    if item is None:
        return PushResult(push.listing_id, PushStatus.REJECTED, message="no answer for this item")
    status = str(get_field(item, config.status_field, ""))
    seen = get_field(item, config.quantity_field)
    seen = int(seen) if seen is not None else None
    message = str(get_field(item, config.message_field, ""))
    if status in config.ok:
        return PushResult(push.listing_id, PushStatus.APPLIED, quantity_seen=seen, message=message)
    if status in config.conflict:
        return PushResult(push.listing_id, PushStatus.CONFLICT, quantity_seen=seen, message=message)
    message = message or f"status {status!r}"
    return PushResult(push.listing_id, PushStatus.REJECTED, quantity_seen=seen, message=message)


# -- errors at the edge --------------------------------------------------------------------------


def _raise_for_status(channel: str, response: httpx.Response) -> None:
    """429/5xx → transient, 401/403 → auth, other 4xx → rejected; each carries the body."""
    status = response.status_code
    if status < 400:
        return
    body = response_body(response)
    message = f"{response.request.method} {response.request.url.path} → {status}"
    if status == 429 or status >= 500:
        retry_after = retry_after_seconds(response)
        raise TransientChannelError(
            channel, message, retry_after=retry_after, status=status, body=body
        )
    if status in (401, 403):
        raise ChannelAuthError(channel, message, status=status, body=body)
    raise ChannelRejectedError(channel, message, status=status, body=body)


# -- the connector -------------------------------------------------------------------------------


class CustomChannelConnector:
    """``ChannelConnector`` for any channel a ``CustomChannelConfig`` describes.

    Pushes go out in batches of ``push.batch_size``. A whole-call failure on the first batch
    raises; once a batch has been applied, a transient failure marks that batch and the rest
    ``RETRY_LATER`` so the applied ones are not reported as failed.
    """

    def __init__(
        self, config: CustomChannelConfig, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.config = config
        self.name = config.name
        self.compare_and_set = config.push.body.expected_field is not None
        self.max_batch = config.push.batch_size
        self._client = httpx.Client(
            base_url=config.base_url,
            timeout=config.timeout_s,
            transport=transport,
            headers={config.auth.header: config.auth.value.get_secret_value(),
                     "Accept": "application/json"},
        )  # fmt: skip

    def close(self) -> None:
        self._client.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request, its failures translated into the ``ChannelError`` tree."""
        try:
            response = self._client.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise TransientChannelError(self.name, f"{method} {path}: {exc!r}") from exc
        _raise_for_status(self.name, response)
        return response

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One request; the JSON answer (None for an empty body)."""
        response = self._request(method, path, **kwargs)
        return self._json(response) if response.content else None

    def _json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            message = "the channel answered without JSON"
            raise TransientChannelError(self.name, message, body=response.text) from exc

    # quantities

    def push_quantities(self, pushes: Sequence[QuantityPush]) -> list[PushResult]:
        """Send every push in batches; results come back in the order given."""
        size = self.max_batch
        batches = [pushes[start : start + size] for start in range(0, len(pushes), size)]
        results: list[PushResult] = []
        for n, batch in enumerate(batches):
            try:
                results.extend(self._push_batch(batch))
            except TransientChannelError as exc:
                if n == 0:
                    raise
                rest = [push for later in batches[n:] for push in later]
                results.extend(_retry_later(push, exc) for push in rest)
                break
        return results

    def _push_batch(self, batch: Sequence[QuantityPush]) -> list[PushResult]:
        push = self.config.push
        fields = push.body
        # A fresh key per call: a proxy's duplicate is dropped, a later push is never mistaken for it.
        headers = build({fields.idempotency_header: str(uuid.uuid4())})
        items = [
            build({fields.id_field: p.listing_id, fields.quantity_field: p.quantity,
                   fields.expected_field: p.expected})
            for p in batch
        ]  # fmt: skip
        answer = self._call(
            push.method, push.path, json=build({fields.items_key: items}), headers=headers
        )
        answers: defaultdict[str, deque[Any]] = defaultdict(deque)
        for item in get_field(answer, push.results.key) or []:
            answers[str(get_field(item, push.results.id_field))].append(item)
        return [
            _push_result(push.results, p, (answers[p.listing_id] or deque([None])).popleft())
            for p in batch
        ]

    def read_quantities(self, listing_ids: Sequence[str] | None = None) -> list[ChannelQuantity]:
        """Every listing the channel shows (page by page); with ``listing_ids``, only those."""
        read, wanted = self.config.read, set(listing_ids) if listing_ids is not None else None
        found = [
            ChannelQuantity(
                listing_id=str(get_field(item, read.id_field)),
                sku=_text(get_field(item, read.sku_field)),
                quantity=int(get_field(item, read.quantity_field, 0)),
            )
            for item in self._read_items()
        ]
        return [q for q in found if wanted is None or q.listing_id in wanted]

    def _read_items(self) -> Iterator[Any]:
        paging = self.config.read.paging
        if isinstance(paging, PagePaging):
            yield from self._read_by_page(paging)
        else:
            yield from self._read_by_cursor(paging)

    def _read_by_page(self, paging: PagePaging) -> Iterator[Any]:
        """Pages 1, 2, … until the total-pages header says so (or a short or empty page)."""
        read = self.config.read
        for page in range(1, MAX_PAGES):
            params = {paging.page_param: page, paging.per_page_param: paging.per_page}
            response = self._request("GET", read.path, params=params)
            items = get_field(self._json(response), read.list_key) or []
            yield from items
            total = response.headers.get(paging.total_pages_header or "", "")
            if not items or (page >= int(total) if total else len(items) < paging.per_page):
                return

    def _read_by_cursor(self, paging: CursorPaging) -> Iterator[Any]:
        """Follow the next cursor until it is empty (or repeats)."""
        read, cursor = self.config.read, None
        for _ in range(MAX_PAGES):
            params: dict[str, Any] = (
                {paging.limit_param: paging.limit} if paging.limit_param else {}
            )
            params |= {paging.cursor_param: cursor} if cursor else {}
            answer = self._call("GET", read.path, params=params)
            yield from get_field(answer, read.list_key) or []
            following = _text(get_field(answer, paging.next_cursor_field))
            if following is None or following == cursor:
                return
            cursor = following

    # orders

    def orders_since(self, cursor: str | None) -> OrderPage:
        """One page of orders changed after ``cursor``; the channel's next cursor comes back."""
        orders = self.config.orders
        params = {orders.since_param: cursor} if cursor else {}
        answer = self._call("GET", orders.path, params=params)
        following = _text(get_field(answer, orders.next_cursor_field))
        more = bool(get_field(answer, orders.more_field, False))
        found = tuple(self._order(o) for o in get_field(answer, orders.list_key) or [])
        return OrderPage(orders=found, cursor=following or cursor, more=more)

    def _order(self, payload: Any) -> ChannelOrder:
        """``parse_order``; an order that does not fit the configured fields is rejected whole."""
        try:
            return parse_order(self.config.orders, self.name, payload)
        except (TypeError, ValueError) as exc:
            message = f"an order does not fit the configured fields: {exc}"
            raise ChannelRejectedError(self.name, message, body=payload) from exc

    # webhooks

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[InboundEvent]:
        """Verify the signature on the raw body (before anything is parsed), then read one event."""
        hook = self.config.webhook
        lowered = {k.lower(): v for k, v in headers.items()}
        given = lowered.get(hook.signature_header.lower(), "")
        expected = webhook_signature(hook, body)
        if hook.encoding == "hex":
            given, expected = given.lower(), expected.lower()
        if not given or not hmac.compare_digest(given.encode(), expected.encode()):
            raise SignatureError(self.name, f"{hook.signature_header} missing or wrong")
        try:
            payload = json.loads(body)
        except ValueError as exc:
            raise ChannelRejectedError(self.name, "webhook body is not JSON", body=body) from exc
        return [self._event(payload)]

    def _event(self, payload: Any) -> InboundEvent:
        hook = self.config.webhook
        event_id, topic = (
            get_field(payload, hook.event_id_field),
            get_field(payload, hook.topic_field),
        )
        if event_id is None:
            raise ChannelRejectedError(
                self.name, f"webhook has no {hook.event_id_field}", body=payload
            )
        occurred = get_field(payload, hook.occurred_at_field)
        raw_order = get_field(payload, hook.order_field)
        order = self._order(raw_order) if raw_order else None
        kind = hook.topics.get(str(topic), EventKind.UNKNOWN)
        if kind is EventKind.ORDER_UPDATED and order is not None and order.cancelled:
            kind = EventKind.ORDER_CANCELLED
        return InboundEvent(
            event_id=str(event_id), topic=str(topic), kind=kind, payload=payload, order=order,
            occurred_at=_time(occurred) if occurred is not None else None,
        )  # fmt: skip

    # fulfilment and refunds

    def create_fulfillment(self, fulfillment: Fulfillment) -> str:
        """Post the shipped lines with carrier and tracking; returns the channel's id for it."""
        config = self._section(self.config.fulfillment, "fulfillment")
        extra = {
            config.carrier_field: fulfillment.carrier,
            config.tracking_number_field: fulfillment.tracking_number,
            config.tracking_url_field: fulfillment.tracking_url,
        }
        return self._order_call(config, fulfillment.order_id, fulfillment.lines, extra, None)

    def create_refund(self, refund: Refund) -> str:
        """Post the refunded lines; ``refund.key`` goes in the idempotency header when configured."""
        config = self._section(self.config.refund, "refund")
        extra = {config.restock_field: refund.restock, config.reason_field: refund.reason}
        key = (config.idempotency_header, refund.key)
        return self._order_call(config, refund.order_id, refund.lines, extra, key)

    def _order_call(
        self, config: _OrderCall, order_id: str, lines: Mapping[str, int],
        extra: Mapping[str | None, Any], key: tuple[str | None, str | None] | None,
    ) -> str:  # fmt: skip
        """Send a lines body (plus ``extra`` fields) for one order; the new object's id."""
        items = [
            build({config.line_id_field: line, config.quantity_field: units})
            for line, units in lines.items()
        ]
        body = build({config.lines_key: items, **extra})
        headers = build(dict([key])) if key else {}
        path = config.path.format(order_id=order_id)
        answer = self._call(config.method, path, json=body, headers=headers)
        found = get_field(answer, config.id_field)
        if found is None:
            raise ChannelError(self.name, f"the answer has no {config.id_field}", body=answer)
        return str(found)

    def _section(self, section: _T | None, what: str) -> _T:
        if section is None:
            raise ChannelRejectedError(self.name, f"no {what} endpoint is configured")
        return section


def _retry_later(push: QuantityPush, exc: TransientChannelError) -> PushResult:
    return PushResult(
        push.listing_id, PushStatus.RETRY_LATER, message=str(exc), retry_after=exc.retry_after
    )
