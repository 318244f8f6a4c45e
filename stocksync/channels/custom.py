"""Custom channels (a B2B portal, an in-house shop) described by configuration, not code.

A ``CustomChannelConfig`` names a channel's endpoints and the JSON field names its API uses; the
``CustomChannelConnector`` speaks that API over httpx. Nested fields are dot paths (``"event.id"``).
Compare-and-set is on exactly when the push body names an expected-quantity field; otherwise a
push overwrites (last write wins).
"""

from __future__ import annotations

import hmac
import json
import uuid
from collections import defaultdict, deque
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TypeVar

import httpx

from stocksync.channels.base import (
    Fulfillment,
    ListingIdentity,
    OrderPage,
    PushResult,
    PushStatus,
    QuantityPush,
    Refund,
)
from stocksync.channels.custom_config import (
    AuthConfig,
    CursorPaging,
    CustomChannelConfig,
    CustomChannelConfigError,
    FulfillmentConfig,
    OrderCall,
    OrderLineFields,
    OrdersConfig,
    PagePaging,
    PushBody,
    PushConfig,
    PushResults,
    ReadConfig,
    RefundConfig,
    WebhookConfig,
)
from stocksync.channels.custom_parsing import (
    build,
    get_field,
    parse_order,
    parse_time,
    push_result,
    set_field,
    text_or_none,
    webhook_signature,
)
from stocksync.channels.errors import (
    ChannelAuthError,
    ChannelError,
    ChannelRejectedError,
    SignatureError,
    TransientChannelError,
)
from stocksync.channels.http import response_body, retry_after_seconds
from stocksync.domain.messages import ChannelOrder, ChannelQuantity, EventKind, InboundEvent

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
            push_result(push.results, p, (answers[p.listing_id] or deque([None])).popleft())
            for p in batch
        ]

    def read_quantities(self, listing_ids: Sequence[str] | None = None) -> list[ChannelQuantity]:
        """Every listing the channel shows (page by page); with ``listing_ids``, only those."""
        read, wanted = self.config.read, set(listing_ids) if listing_ids is not None else None
        found = [
            ChannelQuantity(
                listing_id=str(get_field(item, read.id_field)),
                sku=text_or_none(get_field(item, read.sku_field)),
                quantity=int(get_field(item, read.quantity_field, 0)),
            )
            for item in self._read_items()
        ]
        return [q for q in found if wanted is None or q.listing_id in wanted]

    def identify(self, listings: Sequence[tuple[str, Mapping[str, str]]]) -> list[ListingIdentity]:
        """What the channel shows under each listing id, from one read of its stock (the
        configured ``read`` endpoint, every page): found when it lists the id, with its
        ``read.sku_field`` (None when the config names none)."""
        if not listings:
            return []
        read, wanted = self.config.read, {listing_id for listing_id, _ in listings}
        shown: dict[str, str | None] = {}
        for item in self._read_items():
            listing_id = str(get_field(item, read.id_field))
            if listing_id in wanted:
                shown[listing_id] = text_or_none(get_field(item, read.sku_field))
        return [
            ListingIdentity(listing_id, True, shown[listing_id])
            if listing_id in shown
            else ListingIdentity(
                listing_id, False, problem=f"no listing {listing_id} on {self.name}"
            )
            for listing_id, _ in listings
        ]

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
            following = text_or_none(get_field(answer, paging.next_cursor_field))
            if following is None or following == cursor:
                return
            cursor = following

    # orders

    def orders_since(self, cursor: str | None) -> OrderPage:
        """One page of orders changed after ``cursor``; the channel's next cursor comes back."""
        orders = self.config.orders
        params = {orders.since_param: cursor} if cursor else {}
        answer = self._call("GET", orders.path, params=params)
        following = text_or_none(get_field(answer, orders.next_cursor_field))
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
            occurred_at=parse_time(occurred) if occurred is not None else None,
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
        self, config: OrderCall, order_id: str, lines: Mapping[str, int],
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
