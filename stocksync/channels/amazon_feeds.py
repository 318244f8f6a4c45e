"""The Amazon connector's bulk paths: ``JSON_LISTINGS_FEED`` pushes and the listings report.

A feed is four steps: ``createFeedDocument``, a PUT of the feed JSON to the returned (presigned)
URL, ``createFeed``, then ``getFeed`` polled (soon at first, then less often) until ``DONE`` and
the processing report fetched through ``getFeedDocument``. Messages the report names with an ERROR are ``REJECTED``, the rest
``APPLIED``. A feed still queued when ``feed_timeout_s`` runs out leaves every push
``RETRY_LATER``: pushing again is harmless, as the last write wins.

Full reads use the ``GET_MERCHANT_LISTINGS_ALL_DATA`` report (``createReport`` → ``getReport``
until ``DONE`` → ``getReportDocument``), a tab-separated file with ``seller-sku`` and ``quantity``;
rows without a quantity (Amazon-fulfilled offers) are left out.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import httpx

from stocksync.channels.base import PushResult, PushStatus, QuantityPush
from stocksync.channels.errors import ChannelRejectedError, TransientChannelError
from stocksync.domain.messages import ChannelQuantity

if TYPE_CHECKING:
    from stocksync.channels.amazon import AmazonConnector

__all__ = ["push_by_feed", "read_all_quantities"]

CONTENT_TYPE = "application/json; charset=UTF-8"
FINISHED = frozenset({"DONE", "FATAL", "CANCELLED"})
POLL_FRACTION = 1 / 8
"""Each wait between polls is this share of the time waited so far (within the config's bounds)."""


MESSAGE = (
    '{"messageId":%d,"sku":%s,"operationType":"PATCH","productType":"PRODUCT","patches":[{'
    '"op":"replace","path":"/attributes/fulfillment_availability",'
    '"value":[{"fulfillment_channel_code":"DEFAULT","quantity":%d}]}]}'
)
"""One feed message as JSON text: filled in per push, as building and dumping nested dicts for
25,000 messages costs several times more CPU than the HTTP calls of the whole feed."""


def feed_document(seller_id: str, pushes: Sequence[QuantityPush]) -> bytes:
    """The JSON_LISTINGS_FEED body (schema v2): one PATCH message per push, ids from 1."""
    header = json.dumps({"sellerId": seller_id, "version": "2.0", "issueLocale": "en_US"})
    messages = ",".join(
        MESSAGE % (n, json.dumps(push.sku or push.listing_id), push.quantity)
        for n, push in enumerate(pushes, start=1)
    )
    return f'{{"header":{header},"messages":[{messages}]}}'.encode()


def results_from_report(pushes: Sequence[QuantityPush], report: dict[str, Any]) -> list[PushResult]:
    """Match the processing report's ERROR issues to pushes by ``messageId``."""
    errors: dict[int, list[str]] = {}
    for found in report.get("issues") or []:
        if found.get("severity", "ERROR") == "ERROR":
            errors.setdefault(int(found.get("messageId") or 0), []).append(
                f"{found.get('code')}: {found.get('message')}"
            )
    feed_id = (report.get("header") or {}).get("feedId")
    return [
        PushResult(p.listing_id, PushStatus.REJECTED, message="; ".join(errors[n]))
        if n in errors
        else PushResult(p.listing_id, PushStatus.APPLIED, message=f"processed in feed {feed_id}")
        for n, p in enumerate(pushes, start=1)
    ]


def _download(connector: AmazonConnector, document: dict[str, Any]) -> bytes:
    """A document's bytes from its presigned URL, un-gzipped when Amazon says so."""
    try:
        answer = connector._client.get(str(document["url"]))
    except httpx.TransportError as exc:
        raise TransientChannelError(
            connector.name, f"document download: {type(exc).__name__}"
        ) from exc
    if answer.status_code != 200:
        raise TransientChannelError(
            connector.name, f"document download → {answer.status_code}", status=answer.status_code
        )
    content = answer.content
    return gzip.decompress(content) if document.get("compressionAlgorithm") == "GZIP" else content


def _wait_until_finished(connector: AmazonConnector, operation: str, path: str) -> dict[str, Any]:
    """Poll a feed or report until it finishes; TransientChannelError when it takes too long.

    The waits grow with the time already waited (``POLL_FRACTION`` of it, from
    ``feed_first_poll_s`` up to ``feed_poll_s``): a job that takes seconds is seen done within
    about an eighth of its time more; one that takes half an hour costs about 110 polls, some
    0.06 a second against getFeed's 2 per second.
    """
    config, waited = connector.config, 0.0
    while True:
        pause = min(config.feed_poll_s, max(config.feed_first_poll_s, waited * POLL_FRACTION))
        connector._sleep(pause)  # a job just created is never done yet
        waited += pause
        job: dict[str, Any] = connector._json(connector._call(operation, "GET", path))
        if job.get("processingStatus") in FINISHED:
            return job
        if waited >= config.feed_timeout_s:
            raise TransientChannelError(connector.name, f"{path} still {job.get('processingStatus')}",
                                        retry_after=config.feed_poll_s)  # fmt: skip


def push_by_feed(connector: AmazonConnector, pushes: Sequence[QuantityPush]) -> list[PushResult]:
    """Send ``pushes`` as one JSON_LISTINGS_FEED and read its processing report."""
    config = connector.config
    try:
        document = connector._json(connector._call(
            "createFeedDocument", "POST", "/feeds/2021-06-30/documents", json={"contentType": CONTENT_TYPE}))  # fmt: skip
        upload = connector._client.put(str(document["url"]), headers={"Content-Type": CONTENT_TYPE},
                                       content=feed_document(config.seller_id, pushes))  # fmt: skip
        if upload.status_code != 200:
            raise TransientChannelError(
                connector.name, f"feed upload → {upload.status_code}", status=upload.status_code
            )
        created = connector._json(connector._call("createFeed", "POST", "/feeds/2021-06-30/feeds", json={
            "feedType": "JSON_LISTINGS_FEED", "marketplaceIds": [config.marketplace_id],
            "inputFeedDocumentId": document["feedDocumentId"]}))  # fmt: skip
        feed = _wait_until_finished(
            connector, "getFeed", f"/feeds/2021-06-30/feeds/{created['feedId']}"
        )
        if feed["processingStatus"] != "DONE":
            raise ChannelRejectedError(
                connector.name,
                f"feed {created['feedId']} ended {feed['processingStatus']}",
                body=feed,
            )
        result = connector._json(connector._call(
            "getFeedDocument", "GET", f"/feeds/2021-06-30/documents/{feed['resultFeedDocumentId']}"))  # fmt: skip
        report = json.loads(_download(connector, result))
    except (TransientChannelError, httpx.TransportError) as exc:
        retry = getattr(exc, "retry_after", None)
        return [
            PushResult(p.listing_id, PushStatus.RETRY_LATER, message=str(exc), retry_after=retry)
            for p in pushes
        ]
    except ChannelRejectedError as exc:
        return [PushResult(p.listing_id, PushStatus.REJECTED, message=str(exc)) for p in pushes]
    return results_from_report(pushes, report)


def parse_listings_report(content: bytes) -> list[ChannelQuantity]:
    """Rows of GET_MERCHANT_LISTINGS_ALL_DATA that carry a merchant quantity."""
    text = content.decode("utf-8-sig", errors="replace")
    rows = csv.DictReader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE)
    return [
        ChannelQuantity(row["seller-sku"], row["seller-sku"], int(row["quantity"]))
        for row in rows
        if row.get("seller-sku") and (row.get("quantity") or "").strip().isdigit()
    ]


def read_all_quantities(connector: AmazonConnector) -> list[ChannelQuantity]:
    """Every merchant listing's quantity from a fresh GET_MERCHANT_LISTINGS_ALL_DATA report."""
    body = {
        "reportType": "GET_MERCHANT_LISTINGS_ALL_DATA",
        "marketplaceIds": [connector.config.marketplace_id],
    }
    created = connector._json(
        connector._call("createReport", "POST", "/reports/2021-06-30/reports", json=body)
    )
    report = _wait_until_finished(
        connector, "getReport", f"/reports/2021-06-30/reports/{created['reportId']}"
    )
    if report["processingStatus"] != "DONE":
        raise ChannelRejectedError(
            connector.name,
            f"report {created['reportId']} ended {report['processingStatus']}",
            body=report,
        )
    document = connector._json(connector._call(
        "getReportDocument", "GET", f"/reports/2021-06-30/documents/{report['reportDocumentId']}"))  # fmt: skip
    return parse_listings_report(_download(connector, document))
