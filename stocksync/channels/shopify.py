"""Shopify over the Admin GraphQL API: compare-and-set pushes, paced to the cost bucket.

A change of a count we know goes out as a delta through ``inventoryAdjustQuantities``: the shop's
own sales cannot make it stale, and ``quantityAfterChange`` less the delta is the count it met. A
count below what we expected is sales not heard of yet (reported as a rebased push: the channel
shows the quantity less those sales); a count above it is someone else's change, reported as a
conflict with the count the delta left. Everything else (a first push, a quantity a person asked
for, a push after a failed attempt whose outcome is unknown, ``delta_pushes=False``) goes through
``inventorySetQuantities`` (2026-01 semantics): every quantity carries ``changeFromQuantity`` (the
count we expect, or null to skip the check). Either way at most 250 per call, each call with an
``@idempotent`` key made once per call, so the connector's own retries apply it once. Shopify
validates a call all-or-nothing, so items it objects to are reported (CONFLICT for a stale count,
REJECTED otherwise) and the rest of the call is sent again without them; a stale count below what
we expected rebases that push on it and sends it again too.

Calls are paced to the leaky bucket the last response described (``extensions.cost``); a THROTTLED
answer is waited out and retried here, because the bucket refills at a known rate. ``identify``
looks listings up with one ``nodes(ids:)`` query per location and 250 inventory items.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
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
    ChannelError,
    ChannelRejectedError,
    TransientChannelError,
)
from stocksync.channels.http import retry_after_seconds
from stocksync.channels.shopify_config import ShopifyConfig
from stocksync.channels.shopify_cost import CostPacer
from stocksync.channels.shopify_parsing import (
    TOPIC_KINDS,
    Json,
    available_of,
    error_text,
    gid_tail,
    is_throttled,
    item_identity,
    json_or_text,
    level_gid,
    order_from_graphql,
    order_from_rest,
    quantity_index,
    refund_order_from_rest,
    time_or_none,
    to_gid,
    verify_signature,
)
from stocksync.channels.shopify_queries import (
    ADJUST_QUANTITIES,
    FULFILLMENT_CREATE,
    FULFILLMENT_ORDERS,
    ITEMS_AT_LOCATION,
    LEVELS_AT_LOCATION,
    LEVELS_BY_ID,
    ORDERS,
    REFUND_CREATE,
    SET_QUANTITIES,
    items_cost,
    orders_cost,
)
from stocksync.domain.messages import ChannelOrder, ChannelQuantity, EventKind, InboundEvent

__all__ = [
    "CostPacer",
    "ShopifyConfig",
    "ShopifyConnector",
    "order_from_rest",
    "refund_order_from_rest",
]


ITEM_GID = "gid://shopify/InventoryItem/"
ITEM_GID_FORM = re.compile(r"gid://shopify/InventoryItem/\d+")
STALE_CODES = frozenset({"CHANGE_FROM_QUANTITY_STALE", "COMPARE_QUANTITY_STALE"})
MAX_REBASES = 2
"""Calls of one batch that may rebase stale pushes on fresh counts before they are reported as
conflicts (a hot SKU selling several times a second can go stale again in the meantime)."""


class ShopifyConnector:
    """``ChannelConnector`` for one Shopify shop and location."""

    compare_and_set = True
    max_batch = 250

    def __init__(
        self,
        config: ShopifyConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.name = config.name
        self._config = config
        self._path = f"/admin/api/{config.api_version}/graphql.json"
        self._pacer = CostPacer(clock, sleep)
        self._sleep = sleep
        self._client = httpx.Client(
            base_url=config.shop_url,
            timeout=httpx.Timeout(config.timeout_s),
            transport=transport,
            headers={"X-Shopify-Access-Token": config.access_token},
        )

    def close(self) -> None:
        self._client.close()

    # -------------------------------------------------------------- transport

    def _graphql(self, query: str, variables: Json, estimate: int) -> Json:
        """``data`` of one call, paced to the bucket; THROTTLED answers are waited out."""
        landed = False
        for _ in range(self._config.max_throttle_retries + 1):
            self._pacer.wait_for(estimate)
            body, landed = self._post_again_if_lost(query, variables, landed)
            cost = (body.get("extensions") or {}).get("cost") or {}
            self._pacer.observe(cost)
            if not is_throttled(body):
                return self._data(body)
            estimate = int(cost.get("requestedQueryCost") or estimate)
        retry = self._pacer.delay_for(estimate)
        raise TransientChannelError(self.name, "throttled", retry_after=retry, body=body)

    def _post_again_if_lost(self, query: str, variables: Json, landed: bool) -> tuple[Json, bool]:
        """A mutation whose answer did not come (5xx, timeout) goes again under the same
        ``@idempotent`` key, ``mutation_replays`` times: Shopify applies it at most once and
        answers the replay with the first result, so its outcome is known after all.

        Once an attempt may have landed, any answer other than a result or THROTTLED is an
        unknown outcome (``TransientChannelError``), never a refusal: a caller that took it for
        one would send the mutation again under another key. ``landed`` says whether an earlier
        attempt may have been applied, and is returned updated (a THROTTLED replay is retried).
        """
        replays = self._config.mutation_replays if "idempotencyKey" in variables else 0
        for n in range(replays + 1):
            if n:
                self._sleep(0.1 * n)
            try:
                body = self._post(query, variables)
            except TransientChannelError as exc:
                landed = landed or exc.status != 429  # a 429 was refused before it ran
                if n == replays:
                    raise
                continue
            except ChannelError as exc:
                if landed:
                    raise _unknown(self.name, exc) from exc
                raise
            if _concurrent_request(body):
                landed = True
                continue
            if landed and (body.get("errors") or body.get("data") is None):
                if not is_throttled(body):
                    raise _unknown(self.name, error_text(body))
            return body, landed
        raise TransientChannelError(self.name, "outcome unknown: the call still runs at Shopify")

    def _post(self, query: str, variables: Json) -> Json:
        try:
            response = self._client.post(self._path, json={"query": query, "variables": variables})
        except httpx.TimeoutException as exc:
            raise TransientChannelError(self.name, f"timed out: {exc!r}") from exc
        except httpx.TransportError as exc:
            raise TransientChannelError(self.name, f"transport failed: {exc!r}") from exc
        body = json_or_text(response)
        status = response.status_code
        if status in (401, 403):
            raise ChannelAuthError(self.name, "credentials refused", status=status, body=body)
        if status == 429 and isinstance(body, dict) and is_throttled(body):
            return body
        if status == 429 or status >= 500:
            retry = retry_after_seconds(response)
            raise TransientChannelError(
                self.name, f"HTTP {status}", retry_after=retry, status=status, body=body
            )
        if status >= 400 or not isinstance(body, dict):
            raise ChannelRejectedError(self.name, f"HTTP {status}", status=status, body=body)
        return body

    def _data(self, body: Json) -> Json:
        if body.get("errors") or body.get("data") is None:
            raise ChannelRejectedError(self.name, error_text(body), body=body)
        data: Json = body["data"]
        return data

    # -------------------------------------------------------------- push

    def push_quantities(self, pushes: Sequence[QuantityPush]) -> list[PushResult]:
        """Set each listing's ``available``; batches of 250, CAS on ``expected``."""
        results: list[PushResult] = []
        for start in range(0, len(pushes), self.max_batch):
            results.extend(self._push_batch(pushes[start : start + self.max_batch]))
        return results

    def _push_batch(self, batch: Sequence[QuantityPush]) -> list[PushResult]:
        """Deltas where they may go (:meth:`_as_delta`), compare-and-set for the rest.

        The sets go first: once a delta has landed nothing may raise, or the caller would
        send it again (a set sent again is harmless, a delta is not).
        """
        deltas = {i: p for i, p in enumerate(batch) if self._as_delta(p)}
        rest = [i for i in range(len(batch)) if i not in deltas]
        outcome: dict[int, PushResult] = {}
        if rest:
            outcome.update(zip(rest, self._set_batch([batch[i] for i in rest]), strict=True))
        if deltas:
            outcome.update(self._adjust_batch(deltas))
        return [outcome[i] for i in range(len(batch))]

    def _as_delta(self, push: QuantityPush) -> bool:
        """A change of a count we trust: known (not a first push), not a person's quantity, and
        no attempt since the count was last confirmed (a timed-out delta may have landed)."""
        return (
            self._config.delta_pushes
            and push.rebase
            and push.expected is not None
            and push.quantity != push.expected
        )

    def _adjust_batch(self, pushes: Mapping[int, QuantityPush]) -> dict[int, PushResult]:
        """One ``inventoryAdjustQuantities`` call for ``pushes`` (sent again without the items
        Shopify objects to); each result says what count the delta met (:meth:`_met`)."""
        targets, outcome = self._targets(pushes)
        pending = [i for i in targets if i not in outcome]
        while pending:
            errors, after = self._adjust_quantities([(pushes[i], targets[i]) for i in pending])
            named = self._failures(errors, pending, pushes, targets)
            if not errors:
                outcome.update(self._adjusted(pushes, targets, pending, after))
                break
            if not named:  # the call was refused as a whole
                message = error_text({"errors": errors})
                outcome.update({i: PushResult(pushes[i].listing_id, PushStatus.REJECTED,
                                              message=message) for i in pending})  # fmt: skip
                break
            outcome.update(named)
            pending = [i for i in pending if i not in named]
        return outcome

    def _adjust_quantities(
        self, sends: list[tuple[QuantityPush, tuple[str, str] | None]]
    ) -> tuple[list[Json], dict[tuple[str, str], int]]:
        """One ``inventoryAdjustQuantities`` call: its userErrors and ``available`` after it."""
        changes = [
            {
                "inventoryItemId": t[0],
                "locationId": t[1],
                "delta": _delta(p),
                "changeFromQuantity": None,
            }
            for p, t in sends
            if t is not None
        ]
        payload = self._mutate(ADJUST_QUANTITIES, "inventoryAdjustQuantities", "changes", changes)
        errors: list[Json] = payload.get("userErrors") or []
        after: dict[tuple[str, str], int] = {}
        for change in (payload.get("inventoryAdjustmentGroup") or {}).get("changes") or []:
            item, location = change.get("item") or {}, change.get("location") or {}
            count = change.get("quantityAfterChange")
            if change.get("name") == "available" and isinstance(count, int):
                after[(str(item.get("id")), str(location.get("id")))] = count
        return errors, after

    def _adjusted(
        self,
        pushes: Mapping[int, QuantityPush],
        targets: Mapping[int, tuple[str, str] | None],
        applied: list[int],
        after: Mapping[tuple[str, str], int],
    ) -> dict[int, PushResult]:
        """Results of applied deltas; a count the answer left out is read back (if that read
        fails, they are reported applied: raising would have the deltas sent again)."""
        unknown = [i for i in applied if targets[i] not in after]
        now: dict[tuple[str, str] | None, int] = {}
        if unknown:
            try:
                now = self._levels_now([targets[i] for i in unknown])
            except ChannelError:
                now = {}
        results = {}
        for i in applied:
            push, target = pushes[i], targets[i]
            count = after.get(target, now.get(target)) if target else None
            if count is None:  # applied, but the count is gone: nothing more to tell
                results[i] = PushResult(push.listing_id, PushStatus.APPLIED)
            else:
                results[i] = self._met(push, count - _delta(push), count)
        return results

    @staticmethod
    def _met(push: QuantityPush, seen: int, count: int) -> PushResult:
        """The result of a delta that met ``seen`` and left ``count``.

        ``seen`` as expected: applied. Below: sales not heard of yet, which the delta took off
        the quantity too (a rebased push, :meth:`QuantityPush.rebased`). Above: someone else's
        change, which the delta kept; a conflict that wrote, with the count it left.
        """
        expected = push.expected or 0
        if seen == expected:
            return PushResult(push.listing_id, PushStatus.APPLIED)
        if seen < expected:
            return PushResult(push.listing_id, PushStatus.APPLIED, quantity_seen=seen,
                              applied_quantity=count)  # fmt: skip
        message = f"the channel held {seen - expected} more than expected; it shows {count} now"
        return PushResult(push.listing_id, PushStatus.CONFLICT, quantity_seen=count,
                          message=message, written=True)  # fmt: skip

    def _set_batch(self, batch: Sequence[QuantityPush]) -> list[PushResult]:
        """Send one batch; items Shopify objects to are reported and the rest sent again.

        A stale count below what we expected is sales we have not heard of: that push is rebased
        on the count (:meth:`QuantityPush.rebased`) and goes again in the same call, up to
        ``MAX_REBASES`` times; otherwise a stale item is reported as a conflict with its count.
        """
        sends = dict(enumerate(batch))
        seen: dict[int, int] = {}
        targets, outcome = self._targets(sends)
        pending = [i for i in targets if i not in outcome]
        rebases = 0
        while pending:
            errors = self._set_quantities([(sends[i], targets[i]) for i in pending])
            failed = self._failures(errors, pending, sends, targets)
            if not failed:
                applied = PushStatus.APPLIED if not errors else PushStatus.REJECTED
                message = "" if not errors else error_text({"errors": errors})
                outcome.update({i: self._applied(sends[i], seen.get(i), applied, message)
                                for i in pending})  # fmt: skip
                break
            if rebases < MAX_REBASES:
                rebases += 1
                for i, result in list(failed.items()):
                    count = result.quantity_seen
                    again = None if count is None else sends[i].rebased(count)
                    if result.status is PushStatus.CONFLICT and again is not None:
                        sends[i], seen[i] = again, count  # type: ignore[assignment]
                        del failed[i]  # still pending: goes again in the next call
            outcome.update(failed)
            pending = [i for i in pending if i not in failed]
        return [outcome[i] for i in range(len(batch))]

    @staticmethod
    def _applied(
        push: QuantityPush, seen: int | None, status: PushStatus, message: str
    ) -> PushResult:
        """The result of a push that went through (rebased on ``seen`` if not None)."""
        if seen is None or status is not PushStatus.APPLIED:
            return PushResult(push.listing_id, status, message=message)
        return PushResult(push.listing_id, status, quantity_seen=seen,
                          applied_quantity=push.quantity)  # fmt: skip

    def _targets(
        self, pushes: Mapping[int, QuantityPush]
    ) -> tuple[dict[int, tuple[str, str] | None], dict[int, PushResult]]:
        """Each push's (item, location) gids, and the pushes rejected for having none."""
        targets = {i: self._target(p) for i, p in pushes.items()}
        message = "no inventory item or location for this listing"
        rejected = {
            i: PushResult(pushes[i].listing_id, PushStatus.REJECTED, message=message)
            for i, target in targets.items()
            if target is None
        }
        return targets, rejected

    def _target(self, push: QuantityPush) -> tuple[str, str] | None:
        """The (inventory item, location) gids a push writes to."""
        item, location = self._item_and_location(push.listing_id, push.refs)
        return (item, location) if item and location else None

    def _item_and_location(
        self, listing_id: str, refs: Mapping[str, str]
    ) -> tuple[str | None, str | None]:
        """The inventory item gid (``refs["inventory_item_id"]``, else an item gid as listing id)
        and the location gid (``refs["location_id"]``, else the connector's) of a listing."""
        item = refs.get("inventory_item_id")
        if item is None and listing_id.startswith(ITEM_GID):
            item = listing_id
        return item, refs.get("location_id") or self._config.location_id

    def _set_quantities(
        self, sends: list[tuple[QuantityPush, tuple[str, str] | None]]
    ) -> list[Json]:
        """One ``inventorySetQuantities`` call; returns its userErrors."""
        quantities = [
            {
                "inventoryItemId": t[0],
                "locationId": t[1],
                "quantity": p.quantity,
                "changeFromQuantity": p.expected,
            }
            for p, t in sends
            if t is not None
        ]
        payload = self._mutate(SET_QUANTITIES, "inventorySetQuantities", "quantities", quantities)
        errors: list[Json] = payload.get("userErrors") or []
        return errors

    def _mutate(self, query: str, field: str, key: str, items: list[Json]) -> Json:
        """One inventory mutation of ``available`` over ``items`` (its input's ``key`` list):
        the payload under ``field``."""
        variables = {
            "input": {
                "name": "available",
                "reason": self._config.reason,
                "referenceDocumentUri": self._config.reference_document_uri,
                key: items,
            },
            # one key per call (kept across the connector's own retries), never derived from the
            # contents: setting 5 -> 4 -> 5 -> 4 would otherwise replay the first "4"
            "idempotencyKey": str(uuid.uuid4()),
        }
        data = self._graphql(query, variables, estimate=10 + len(items))
        payload: Json = data.get(field) or {}
        return payload

    def _failures(
        self,
        errors: list[Json],
        pending: list[int],
        batch: Mapping[int, QuantityPush],
        targets: Mapping[int, tuple[str, str] | None],
    ) -> dict[int, PushResult]:
        """Per-item results for userErrors that name a quantity (conflicts read back)."""
        by_index: dict[int, Json] = {}
        for error in errors:
            index = quantity_index(error)
            if index is not None and index < len(pending):
                by_index.setdefault(pending[index], error)
        stale = [i for i, e in by_index.items() if e.get("code") in STALE_CODES]
        seen = self._levels_now([targets[i] for i in stale]) if stale else {}
        results = {}
        for i, error in by_index.items():
            listing, message = batch[i].listing_id, str(error.get("message") or error.get("code"))
            if i in stale:
                count = seen.get(targets[i])
                results[i] = PushResult(
                    listing, PushStatus.CONFLICT, quantity_seen=count, message=message
                )
            else:
                results[i] = PushResult(
                    listing, PushStatus.REJECTED, message=f"{error.get('code')}: {message}"
                )
        return results

    def _levels_now(
        self, targets: Sequence[tuple[str, str] | None]
    ) -> dict[tuple[str, str] | None, int]:
        """``available`` now at each (item, location), read back after a conflict."""
        ids = {level_gid(t): t for t in targets if t is not None}
        data = self._graphql(LEVELS_BY_ID, {"ids": list(ids)}, estimate=2 * len(ids))
        counts: dict[tuple[str, str] | None, int] = {}
        for node in data.get("nodes") or []:
            if node and node.get("id") in ids:
                counts[ids[node["id"]]] = available_of(node)
        return counts

    # -------------------------------------------------------------- reads

    def read_quantities(self, listing_ids: Sequence[str] | None = None) -> list[ChannelQuantity]:
        """``available`` of every item stocked at the location (listing id = inventory item gid)."""
        wanted = set(listing_ids) if listing_ids is not None else None
        found = []
        for node in self._level_nodes():
            item = node.get("item") or {}
            if wanted is None or item.get("id") in wanted:
                found.append(
                    ChannelQuantity(item["id"], item.get("sku") or None, available_of(node))
                )
        return found

    def identify(self, listings: Sequence[tuple[str, Mapping[str, str]]]) -> list[ListingIdentity]:
        """What the shop holds under each listing: its inventory item (see ``_item_and_location``)
        with its ``sku``, found when the item is stocked at the location a push would set.

        One ``nodes(ids:)`` query per location and 250 items, paced to the bucket like every
        call. An id that is no inventory item gid, an item the shop does not have and one not
        stocked at the location are ``found=False``, with the reason in the shop's terms.
        """
        results: dict[int, ListingIdentity] = {}
        by_location: dict[str, list[tuple[int, str]]] = {}
        for i, (listing_id, refs) in enumerate(listings):
            item, location = self._item_and_location(listing_id, refs)
            if item is None or not ITEM_GID_FORM.fullmatch(item):
                problem = f"{item or listing_id!r} is not a Shopify inventory item gid"
                results[i] = ListingIdentity(listing_id, False, problem=problem)
            elif location is None:
                problem = "no location to push to: neither the listing nor the channel names one"
                results[i] = ListingIdentity(listing_id, False, problem=problem)
            else:
                by_location.setdefault(location, []).append((i, item))
        for location, entries in by_location.items():
            for start in range(0, len(entries), self.max_batch):
                chunk = entries[start : start + self.max_batch]
                nodes = self._items_at(location, sorted({item for _, item in chunk}))
                for i, item in chunk:
                    node = nodes.get(item)
                    results[i] = item_identity(self.name, listings[i][0], item, location, node)
        return [results[i] for i in range(len(listings))]

    def _items_at(self, location: str, items: list[str]) -> dict[str, Json]:
        """Item gid → its ``ITEMS_AT_LOCATION`` node, for the items the shop has."""
        variables = {"ids": items, "location": location}
        data = self._graphql(ITEMS_AT_LOCATION, variables, estimate=items_cost(len(items)))
        return {n["id"]: n for n in data.get("nodes") or [] if n and n.get("id")}

    def _level_nodes(self) -> Iterator[Json]:
        after: str | None = None
        while True:
            variables = {"location": self._config.location_id, "after": after}
            data = self._graphql(LEVELS_AT_LOCATION, variables, estimate=503)
            if data.get("location") is None:
                raise ChannelRejectedError(
                    self.name, f"unknown location {self._config.location_id}"
                )
            levels = data["location"]["inventoryLevels"]
            yield from levels["nodes"]
            if not levels["pageInfo"]["hasNextPage"]:
                return
            after = levels["pageInfo"]["endCursor"]

    def orders_since(self, cursor: str | None) -> OrderPage:
        """Orders updated at or after ``cursor`` (an ISO time), oldest change first.

        The search is ``updated_at:>=cursor``: Shopify's times have whole seconds, so ``>`` would
        lose orders updated in the cursor's second; the overlap comes back again and the ledger
        deduplicates by order id. The returned cursor is the last order's ``updatedAt``.
        """
        search = f"updated_at:>='{cursor}'" if cursor else None
        orders: list[ChannelOrder] = []
        after, more, last = None, False, cursor
        for _ in range(self._config.max_order_pages):
            data = self._graphql(ORDERS, {"query": search, "after": after}, estimate=orders_cost())
            page = data["orders"]
            orders.extend(order_from_graphql(self.name, n) for n in page["nodes"])
            last = page["nodes"][-1]["updatedAt"] if page["nodes"] else last
            more, after = page["pageInfo"]["hasNextPage"], page["pageInfo"]["endCursor"]
            if not more:
                break
        return OrderPage(tuple(orders), last, more)

    # -------------------------------------------------------------- webhooks

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[InboundEvent]:
        """Verify ``X-Shopify-Hmac-Sha256`` over the raw body, then parse the topic's payload."""
        lowered = {k.lower(): v for k, v in headers.items()}
        verify_signature(
            self.name, self._config.webhook_secret, lowered.get("x-shopify-hmac-sha256"), body
        )
        try:
            payload = json.loads(body)
        except ValueError as exc:
            raise ChannelRejectedError(self.name, "webhook body is not JSON") from exc
        topic = lowered.get("x-shopify-topic", "")
        event_id = lowered.get("x-shopify-event-id") or lowered.get("x-shopify-webhook-id")
        kind = TOPIC_KINDS.get(topic, EventKind.UNKNOWN)
        return [
            InboundEvent(
                event_id=event_id or "sha256:" + hashlib.sha256(body).hexdigest(),
                topic=topic,
                kind=kind,
                occurred_at=time_or_none(lowered.get("x-shopify-triggered-at")),
                order=self._event_order(kind, payload),
                quantity=self._event_quantity(kind, payload),
                payload=payload,
            )
        ]

    def _event_order(self, kind: EventKind, payload: Any) -> ChannelOrder | None:
        if kind in (EventKind.ORDER_CREATED, EventKind.ORDER_UPDATED, EventKind.ORDER_CANCELLED):
            return order_from_rest(self.name, payload)
        if kind is EventKind.REFUND:
            return refund_order_from_rest(self.name, payload)
        return None

    def _event_quantity(self, kind: EventKind, payload: Any) -> ChannelQuantity | None:
        """The new count of an ``inventory_levels/update`` at this connector's location."""
        if kind is not EventKind.INVENTORY or not isinstance(payload, dict):
            return None
        location = self._config.location_id
        if location and f"gid://shopify/Location/{payload.get('location_id')}" != location:
            return None
        item = f"{ITEM_GID}{payload['inventory_item_id']}"
        return ChannelQuantity(item, None, int(payload.get("available") or 0))

    # -------------------------------------------------------------- fulfilments and refunds

    def create_fulfillment(self, fulfillment: Fulfillment) -> str:
        """Ship ``fulfillment.lines`` with tracking; returns the fulfillment gid."""
        order_gid = to_gid("Order", fulfillment.order_id)
        data = self._graphql(FULFILLMENT_ORDERS, {"id": order_gid}, estimate=500)
        if data.get("order") is None:
            raise ChannelRejectedError(self.name, f"unknown order {fulfillment.order_id}")
        groups = self._fulfillment_groups(data["order"], fulfillment)
        tracking = {
            "company": fulfillment.carrier,
            "number": fulfillment.tracking_number,
            "url": fulfillment.tracking_url,
        }
        variables = {
            "fulfillment": {
                "lineItemsByFulfillmentOrder": groups,
                "trackingInfo": tracking,
                "notifyCustomer": False,
            }
        }
        result = self._graphql(FULFILLMENT_CREATE, variables, estimate=10)["fulfillmentCreate"]
        return self._created_id(result, "fulfillment")

    def _fulfillment_groups(self, order: Json, fulfillment: Fulfillment) -> list[Json]:
        """``lineItemsByFulfillmentOrder`` for the lines to ship (order line id → units)."""
        where: dict[str, tuple[str, str]] = {}
        for fo in order["fulfillmentOrders"]["nodes"]:
            for fol in fo["lineItems"]["nodes"]:
                if fol["remainingQuantity"] > 0:
                    where.setdefault(gid_tail(fol["lineItem"]["id"]), (fo["id"], fol["id"]))
        groups: dict[str, list[Json]] = {}
        for line_id, qty in fulfillment.lines.items():
            if gid_tail(line_id) not in where:
                raise ChannelRejectedError(self.name, f"line {line_id} has nothing left to fulfil")
            fo_id, fol_id = where[gid_tail(line_id)]
            groups.setdefault(fo_id, []).append({"id": fol_id, "quantity": qty})
        return [
            {"fulfillmentOrderId": k, "fulfillmentOrderLineItems": v} for k, v in groups.items()
        ]

    def create_refund(self, refund: Refund) -> str:
        """Refund ``refund.lines``, restocking at the location when asked; returns the refund gid."""
        restock = "RETURN" if refund.restock else "NO_RESTOCK"
        lines = [
            {"lineItemId": to_gid("LineItem", line_id), "quantity": qty, "restockType": restock}
            | ({"locationId": self._config.location_id} if refund.restock else {})
            for line_id, qty in refund.lines.items()
        ]
        refund_input = {
            "orderId": to_gid("Order", refund.order_id),
            "note": refund.reason,
            "notify": False,
            "refundLineItems": lines,
        }
        variables = {"input": refund_input, "idempotencyKey": refund.key or str(uuid.uuid4())}
        result = self._graphql(REFUND_CREATE, variables, estimate=10)["refundCreate"]
        return self._created_id(result, "refund")

    def _created_id(self, result: Json, name: str) -> str:
        if result.get("userErrors"):
            raise ChannelRejectedError(
                self.name, error_text({"errors": result["userErrors"]}), body=result
            )
        return str(result[name]["id"])


def _delta(push: QuantityPush) -> int:
    """What a delta push adds: the quantity less the count we expect."""
    return push.quantity - (push.expected or 0)


def _concurrent_request(body: Json) -> bool:
    """Shopify is still running an earlier call under the same idempotency key."""
    data = body.get("data") or {}
    return any(
        e.get("code") == "IDEMPOTENCY_CONCURRENT_REQUEST"
        for payload in data.values()
        if isinstance(payload, dict)
        for e in payload.get("userErrors") or []
    )


def _unknown(channel: str, cause: object) -> TransientChannelError:
    return TransientChannelError(channel, f"outcome unknown after a lost answer: {cause}")
