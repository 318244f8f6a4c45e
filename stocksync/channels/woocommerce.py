"""WooCommerce over its REST API v3: Basic auth with consumer key/secret, JSON over httpx.

A listing id is ``"<product_id>"`` for a simple product or ``"<product_id>/<variation_id>"`` for a
variation. WooCommerce has no compare-and-set: a pushed ``stock_quantity`` overwrites whatever the
shop shows, so an order placed between our read and our write is overwritten (last write wins);
the next reconcile corrects it from the order the poll or webhook brings in.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

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
from stocksync.channels.errors import (
    ChannelAuthError,
    ChannelRejectedError,
    SignatureError,
    TransientChannelError,
)
from stocksync.channels.http import response_body, retry_after_seconds
from stocksync.channels.woocommerce_parsing import (
    listing_id_for,
    parse_gmt,
    parse_listing_id,
    parse_order,
    ping_id,
    product_identity,
    product_listing_id,
    push_result,
    quantity_of,
    variation_identity,
    webhook_signature,
)
from stocksync.domain.messages import ChannelQuantity, EventKind, InboundEvent

__all__ = [
    "WooCommerceConfig",
    "WooCommerceConnector",
    "listing_id_for",
    "parse_order",
    "webhook_signature",
]

API_PATH = "/wp-json/wc/v3/"
PER_PAGE = 100
GMT_FORMAT = "%Y-%m-%dT%H:%M:%S"
TRACKING_META_KEY = "_wc_shipment_tracking_items"
"""The meta key of the Shipment Tracking extension, which most tracking plugins read too."""


@dataclass(frozen=True, slots=True)
class WooCommerceConfig:
    """How to reach one WooCommerce shop; the secrets stay out of ``repr``."""

    name: str
    base_url: str
    """The site root, e.g. ``https://shop.example``; the connector adds ``/wp-json/wc/v3``."""
    consumer_key: str
    consumer_secret: str = field(repr=False)
    webhook_secret: str = field(repr=False)
    timeout_s: float = 30.0


# -- errors at the edge --------------------------------------------------------------------------


def _raise_for_status(channel: str, response: httpx.Response) -> None:
    """429/5xx → transient, 401/403 → auth, other 4xx → rejected; each carries the body."""
    if response.status_code < 400:
        return
    body = response_body(response)
    code = body.get("code") if isinstance(body, dict) else None
    what = f"{response.request.method} {response.request.url.path} → {response.status_code}"
    message = f"{what} {code}: {body.get('message')}" if code else what
    status = response.status_code
    if status == 429 or status >= 500:
        raise TransientChannelError(
            channel, message, retry_after=retry_after_seconds(response), status=status, body=body
        )
    if status in (401, 403):
        raise ChannelAuthError(channel, message, status=status, body=body)
    raise ChannelRejectedError(channel, message, status=status, body=body)


# -- the connector -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Batch:
    """Pushes bound for one batch endpoint: ``(position in the call, push, WooCommerce id)``."""

    path: str
    entries: tuple[tuple[int, QuantityPush, int], ...]


class WooCommerceConnector:
    """``ChannelConnector`` for one WooCommerce shop.

    ``push_quantities`` sends batches of at most 100 updates. A batch that fails as a whole with a
    429, a 5xx or a network error raises ``TransientChannelError`` if it was the first of the call;
    once a batch has been applied, the failed batch and those after it come back as
    ``RETRY_LATER`` instead, so the applied ones are not reported as failed. Per-item errors inside
    a 200 are ``REJECTED`` with WooCommerce's message.
    """

    compare_and_set = False
    max_batch = 100

    def __init__(
        self, config: WooCommerceConfig, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.name = config.name
        self._webhook_secret = config.webhook_secret
        self._client = httpx.Client(
            base_url=config.base_url.rstrip("/") + API_PATH,
            auth=(config.consumer_key, config.consumer_secret),
            timeout=config.timeout_s,
            transport=transport,
            headers={"Accept": "application/json"},
        )

    def close(self) -> None:
        self._client.close()

    # HTTP

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._client.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise TransientChannelError(
                self.name, f"{method} {path}: {type(exc).__name__}: {exc}"
            ) from exc
        _raise_for_status(self.name, response)
        return response

    def _json(self, response: httpx.Response) -> Any:
        """The body as JSON; anything else behind a 2xx is a cache or WAF page, worth a retry."""
        try:
            return response.json()
        except ValueError as exc:
            raise TransientChannelError(
                self.name, "the shop answered without JSON", body=response.text
            ) from exc

    def _pages(
        self, path: str, params: Mapping[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every item of a listing, page by page until ``X-WP-TotalPages`` (or a short page without it)."""
        page = 1
        while True:
            response = self._call(
                "GET", path, params={**(params or {}), "per_page": PER_PAGE, "page": page}
            )
            items = self._json(response)
            yield from items
            total_pages = response.headers.get("x-wp-totalpages")
            more = page < int(total_pages) if total_pages else len(items) == PER_PAGE
            if not (more and items):
                return
            page += 1

    # quantities

    def push_quantities(self, pushes: Sequence[QuantityPush]) -> list[PushResult]:
        """Overwrite each listing's ``stock_quantity``; results come back in the order given."""
        results: dict[int, PushResult] = {}
        batches = self._plan(pushes, results)
        for n, batch in enumerate(batches):
            try:
                answer = self._json(self._call("POST", batch.path, json=self._batch_body(batch)))
            except TransientChannelError as exc:
                if n == 0:
                    raise
                self._retry_later(batches[n:], exc, results)
                break
            self._read_batch_answer(batch, answer, results)
        return [results[i] for i in range(len(pushes))]

    def _plan(self, pushes: Sequence[QuantityPush], results: dict[int, PushResult]) -> list[_Batch]:
        """Group pushes by endpoint in chunks of ``max_batch``; malformed listing ids are rejected."""
        groups: dict[str, list[tuple[int, QuantityPush, int]]] = {}
        for index, push in enumerate(pushes):
            product, _, variation = push.listing_id.partition("/")
            if not product.isdigit() or (variation and not variation.isdigit()):
                results[index] = PushResult(
                    push.listing_id, PushStatus.REJECTED, message="not a WooCommerce listing id"
                )
                continue
            path = f"products/{product}/variations/batch" if variation else "products/batch"
            groups.setdefault(path, []).append((index, push, int(variation or product)))
        return [
            _Batch(path, tuple(entries[start : start + self.max_batch]))
            for path, entries in groups.items()
            for start in range(0, len(entries), self.max_batch)
        ]

    @staticmethod
    def _batch_body(batch: _Batch) -> dict[str, Any]:
        return {
            "update": [
                {"id": woo_id, "stock_quantity": push.quantity} for _, push, woo_id in batch.entries
            ]
        }

    @staticmethod
    def _read_batch_answer(batch: _Batch, answer: Any, results: dict[int, PushResult]) -> None:
        """Match ``update`` answers to pushes by position, as WooCommerce returns them."""
        updates = answer.get("update") if isinstance(answer, dict) else None
        updates = updates if isinstance(updates, list) else []
        for position, (index, push, _) in enumerate(batch.entries):
            item = updates[position] if position < len(updates) else None
            results[index] = push_result(push, item)

    @staticmethod
    def _retry_later(
        batches: Sequence[_Batch], exc: TransientChannelError, results: dict[int, PushResult]
    ) -> None:
        for batch in batches:
            for index, push, _ in batch.entries:
                results[index] = PushResult(
                    push.listing_id,
                    PushStatus.RETRY_LATER,
                    message=str(exc),
                    retry_after=exc.retry_after,
                )

    def read_quantities(self, listing_ids: Sequence[str] | None = None) -> list[ChannelQuantity]:
        """Every listing that manages stock; with ``listing_ids``, only those (and only their parents' variations)."""
        wanted = set(listing_ids) if listing_ids is not None else None
        parents = {lid.partition("/")[0] for lid in wanted or () if "/" in lid}
        found: list[ChannelQuantity] = []
        for product in self._pages("products"):
            found.extend(filter(None, [quantity_of(product, listing_id_for(product["id"]))]))
            if product.get("type") == "variable" and (
                wanted is None or str(product["id"]) in parents
            ):
                for variation in self._pages(f"products/{product['id']}/variations"):
                    found.extend(
                        filter(
                            None,
                            [
                                quantity_of(
                                    variation, listing_id_for(product["id"], variation["id"])
                                )
                            ],
                        )
                    )
        return [q for q in found if wanted is None or q.listing_id in wanted]

    def identify(self, listings: Sequence[tuple[str, Mapping[str, str]]]) -> list[ListingIdentity]:
        """What the shop holds under each listing id, with its ``sku``.

        Products are read 100 at a time with ``GET /products?include=…``, variations per parent
        with ``GET /products/<id>/variations?include=…``. Found means a pushed
        ``stock_quantity`` would take: the product or variation manages its own stock. A variable
        product without stock of its own, a variation that follows its parent's stock and an id
        the shop does not have are ``found=False``, with the reason.
        """
        ids = [parse_listing_id(listing_id) for listing_id, _ in listings]
        products = self._included("products", sorted({i[0] for i in ids if i and not i[1]}))
        wanted: dict[int, set[int]] = {}
        for parsed in ids:
            if parsed and parsed[1]:
                wanted.setdefault(parsed[0], set()).add(parsed[1])
        variations = {p: self._variations_of(p, sorted(v)) for p, v in wanted.items()}
        results = []
        for (listing_id, _), parsed in zip(listings, ids, strict=True):
            if parsed is None:
                problem = (
                    f"{listing_id!r} is not a WooCommerce listing id (PRODUCT or PRODUCT/VARIATION)"
                )
                results.append(ListingIdentity(listing_id, False, problem=problem))
            elif parsed[1]:
                held = variations[parsed[0]]
                variation = held.get(parsed[1]) if held is not None else None
                results.append(
                    variation_identity(self.name, listing_id, parsed, variation, held is not None)
                )
            else:
                product = products.get(parsed[0])
                results.append(product_identity(self.name, listing_id, parsed[0], product))
        return results

    def _variations_of(self, parent: int, ids: Sequence[int]) -> dict[int, dict[str, Any]] | None:
        """Those of ``ids`` that are variations of ``parent``; None when there is no product
        ``parent``."""
        try:
            return self._included(f"products/{parent}/variations", ids)
        except ChannelRejectedError as exc:
            if exc.status == 404:
                return None
            raise

    def _included(self, path: str, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """Id → object of a listing endpoint, for those of ``ids`` it has (``include``, 100 ids
        a call)."""
        found: dict[int, dict[str, Any]] = {}
        for start in range(0, len(ids), PER_PAGE):
            include = ",".join(str(i) for i in ids[start : start + PER_PAGE])
            for item in self._pages(path, {"include": include}):
                if isinstance(item, dict) and isinstance(item.get("id"), int):
                    found[item["id"]] = item
        return found

    # orders

    def orders_since(self, cursor: str | None) -> OrderPage:
        """Orders modified after ``cursor`` (a GMT ``date_modified_gmt``), every page in one call.

        WooCommerce compares ``modified_after`` strictly and to the second, so the query starts one
        second before the cursor: an order changed in the cursor's own second after we read is not
        lost, and orders already seen may come again (the ledger is idempotent on their ids). All
        pages are read because they are sorted by creation, not modification.
        """
        params: dict[str, Any] = {
            "orderby": "date",
            "order": "asc",
            "status": "any",
            "dates_are_gmt": "true",
        }
        if cursor:
            params["modified_after"] = (parse_gmt(cursor) - timedelta(seconds=1)).strftime(
                GMT_FORMAT
            )
        raw = list(self._pages("orders", params))
        orders = tuple(parse_order(self.name, o, self._refunds_of(o)) for o in raw)
        latest = max(
            (str(o["date_modified_gmt"]) for o in raw if o.get("date_modified_gmt")), default=None
        )
        return OrderPage(orders=orders, cursor=max(filter(None, [latest, cursor]), default=None))

    def _refunds_of(self, order: Mapping[str, Any]) -> list[dict[str, Any]] | None:
        """The order's refund objects, fetched only when it has refunds."""
        if not order.get("refunds"):
            return None
        return list(self._pages(f"orders/{order['id']}/refunds"))

    # webhooks

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[InboundEvent]:
        """Answer WooCommerce's unsigned ping; verify every other delivery before parsing it.

        ``event_id`` is topic, resource id and ``date_modified_gmt``: the Delivery-ID alone is the
        same for every delivery of the webhook within one second.
        """
        lowered = {k.lower(): v for k, v in headers.items()}
        signature = lowered.get("x-wc-webhook-signature")
        ping = ping_id(body)
        if signature is None and ping is not None:
            return [
                InboundEvent(
                    event_id=f"ping:{ping}",
                    topic="ping",
                    kind=EventKind.PING,
                    payload={"webhook_id": ping},
                )
            ]
        expected = webhook_signature(self._webhook_secret, body)
        if signature is None or not hmac.compare_digest(signature.encode(), expected.encode()):
            raise SignatureError(self.name, "X-WC-Webhook-Signature missing or wrong")
        try:
            payload = json.loads(body)
        except ValueError as exc:
            raise ChannelRejectedError(self.name, "webhook body is not JSON", body=body) from exc
        return [self._event(lowered.get("x-wc-webhook-topic", ""), payload, lowered)]

    def _event(self, topic: str, payload: Any, headers: Mapping[str, str]) -> InboundEvent:
        payload_map = payload if isinstance(payload, dict) else {}
        modified = payload_map.get("date_modified_gmt")
        stamp = modified or headers.get("x-wc-webhook-delivery-id", "")
        event_id = f"{topic}:{payload_map.get('id')}:{stamp}"
        occurred = parse_gmt(str(modified)) if modified else None
        common: dict[str, Any] = {
            "event_id": event_id,
            "topic": topic,
            "occurred_at": occurred,
            "payload": payload,
        }
        if topic in ("order.created", "order.updated") and "line_items" in payload_map:
            order = parse_order(self.name, payload_map)
            kind = EventKind.ORDER_CREATED if topic == "order.created" else EventKind.ORDER_UPDATED
            if topic == "order.updated" and order.status == "cancelled":
                kind = EventKind.ORDER_CANCELLED
            return InboundEvent(kind=kind, order=order, **common)
        if topic == "product.updated":
            quantity = quantity_of(payload_map, product_listing_id(payload_map))
            return InboundEvent(kind=EventKind.INVENTORY, quantity=quantity, **common)
        return InboundEvent(kind=EventKind.UNKNOWN, **common)

    # fulfilment and refunds

    def create_fulfillment(self, fulfillment: Fulfillment) -> str:
        """Store tracking as Shipment Tracking order meta and complete the order; returns the tracking id.

        WooCommerce has no partial shipments: the whole order is marked ``completed`` and the
        tracking list is replaced by this one entry.
        """
        tracking_id = hashlib.md5(
            f"{fulfillment.carrier}-{fulfillment.tracking_number}".encode()
        ).hexdigest()
        item = {
            "tracking_provider": fulfillment.carrier,
            "custom_tracking_provider": "",
            "custom_tracking_link": fulfillment.tracking_url or "",
            "tracking_number": fulfillment.tracking_number,
            "date_shipped": str(int(datetime.now(UTC).timestamp())),
            "tracking_id": tracking_id,
        }
        body = {"status": "completed", "meta_data": [{"key": TRACKING_META_KEY, "value": [item]}]}
        self._call("PUT", f"orders/{fulfillment.order_id}", json=body)
        return tracking_id

    def create_refund(self, refund: Refund) -> str:
        """A manual refund (``api_refund: false``, no money moved by us) of the given line units."""
        body = {
            "amount": "0.00",
            "reason": refund.reason,
            "api_refund": False,
            "api_restock": refund.restock,
            "line_items": [
                {"id": int(line), "quantity": units, "refund_total": 0}
                for line, units in refund.lines.items()
            ],
        }
        answer = self._json(self._call("POST", f"orders/{refund.order_id}/refunds", json=body))
        return str(answer["id"])
