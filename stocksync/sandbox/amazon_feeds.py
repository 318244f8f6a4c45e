"""Feeds 2021-06-30 (``JSON_LISTINGS_FEED``) and Reports 2021-06-30 of the Amazon emulator.

A feed document is created, uploaded with PUT to the returned URL (``/_sandbox/s3/…``, no access
token, like a presigned S3 URL), and submitted; it then moves ``IN_QUEUE → IN_PROGRESS → DONE`` on
the emulator clock (``feed_processing_s``), applying each valid message's quantity when it is
done and writing a processing report (schema v2). A ``FATAL`` feed is one whose document is not
JSON or not a feed. Reports support ``GET_MERCHANT_LISTINGS_ALL_DATA`` only: a tab-separated file
with ``seller-sku`` and ``quantity`` among Amazon's columns **[verify columns]**.

Simplified: documents are never compressed or encrypted and URLs do not expire; only ``PATCH``
messages on ``/attributes/fulfillment_availability`` are understood; no per-region feed quota.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from stocksync.sandbox.amazon import AmazonError, AmazonState, amazon_time, issue, patched_quantity

__all__ = ["FEED_OPERATIONS", "add_feed_routes"]

FEEDS, REPORTS = "/feeds/2021-06-30", "/reports/2021-06-30"
FEED_OPERATIONS: list[tuple[str, re.Pattern[str], str]] = [
    ("POST", re.compile(f"{FEEDS}/documents"), "createFeedDocument"),
    ("POST", re.compile(f"{FEEDS}/feeds"), "createFeed"),
    ("GET", re.compile(f"{FEEDS}/feeds/[^/]+"), "getFeed"),
    ("GET", re.compile(f"{FEEDS}/documents/[^/]+"), "getFeedDocument"),
    ("POST", re.compile(f"{REPORTS}/reports"), "createReport"),
    ("GET", re.compile(f"{REPORTS}/reports/[^/]+"), "getReport"),
    ("GET", re.compile(f"{REPORTS}/documents/[^/]+"), "getReportDocument"),
]
REPORT_COLUMNS = ("item-name", "listing-id", "seller-sku", "price", "quantity", "open-date",
                  "product-id-type", "asin1", "fulfillment-channel", "status")  # fmt: skip


def _status(state: AmazonState, job: dict[str, Any]) -> str:
    """Where a feed or report stands on the emulator clock."""
    elapsed = (state.clock() - job["created"]).total_seconds()
    if job.get("fatal"):
        return "FATAL" if elapsed >= state.feed_processing_s else "IN_QUEUE"
    if elapsed < state.feed_processing_s / 2:
        return "IN_QUEUE"
    return "IN_PROGRESS" if elapsed < state.feed_processing_s else "DONE"


def _document_url(request: Request, document_id: str) -> str:
    return f"{str(request.base_url).rstrip('/')}/_sandbox/s3/{document_id}"


def _process_feed(state: AmazonState, feed: dict[str, Any]) -> None:
    """Apply every valid message and store the processing report (once, when DONE)."""
    messages = feed["body"].get("messages") or []
    issues = [issue for message in messages for issue in _apply_message(state, message)]
    invalid = {i["messageId"] for i in issues}
    report = {
        "header": {"sellerId": state.seller_id, "version": "2.0", "feedId": feed["feedId"]},
        "issues": issues,
        "summary": {"errors": len(issues), "warnings": 0, "messagesProcessed": len(messages),
                    "messagesAccepted": len(messages) - len(invalid), "messagesInvalid": len(invalid)},
    }  # fmt: skip
    document_id = f"amzn1.tortuga.4.na.{state.uuid()}"
    state.documents[document_id] = json.dumps(report).encode()
    feed["resultFeedDocumentId"] = document_id


def _apply_message(state: AmazonState, message: dict[str, Any]) -> list[dict[str, Any]]:
    sku, message_id = str(message.get("sku")), message.get("messageId")
    problems: list[dict[str, Any] | None] = []
    if sku not in state.listings:
        problems.append(issue("NOT_FOUND", f"SKU '{sku}' does not exist.", []))
    elif message.get("operationType") != "PATCH":
        problems.append(issue("INVALID_OPERATION", "Only PATCH messages are emulated.", []))
    else:
        for patch in message.get("patches") or []:
            quantity, problem = patched_quantity(patch)
            problems.append(problem)
            if quantity is not None:
                state.listings[sku].quantity = quantity
    return [{**p, "messageId": message_id, "sku": sku} for p in problems if p]


def _feed_json(state: AmazonState, feed: dict[str, Any]) -> dict[str, Any]:
    status = _status(state, feed)
    if status == "DONE" and "resultFeedDocumentId" not in feed:
        _process_feed(state, feed)
    answer = {k: feed[k] for k in ("feedId", "feedType", "marketplaceIds")}
    answer.update(createdTime=amazon_time(feed["created"]), processingStatus=status)
    if status in ("IN_PROGRESS", "DONE"):
        answer["processingStartTime"] = amazon_time(
            feed["created"] + timedelta(seconds=state.feed_processing_s / 2)
        )
    if status in ("DONE", "FATAL"):
        answer["processingEndTime"] = amazon_time(
            feed["created"] + timedelta(seconds=state.feed_processing_s)
        )
    if "resultFeedDocumentId" in feed:
        answer["resultFeedDocumentId"] = feed["resultFeedDocumentId"]
    return answer


def _listings_report(state: AmazonState) -> bytes:
    state.settle()
    rows = ["\t".join(REPORT_COLUMNS)]
    for n, listing in enumerate(state.listings.values()):
        rows.append("\t".join([listing.item_name, f"0{n:09d}", listing.sku, "10.00", str(listing.quantity),
                               "2024-01-01 00:00:00 UTC", "1", listing.asin, "DEFAULT", "Active"]))  # fmt: skip
    return ("\n".join(rows) + "\n").encode()


def _report_json(state: AmazonState, report: dict[str, Any]) -> dict[str, Any]:
    status = _status(state, report)
    if status == "DONE" and "reportDocumentId" not in report:
        document_id = f"amzn1.spdoc.1.4.na.{state.uuid()}"
        state.documents[document_id] = _listings_report(state)
        report["reportDocumentId"] = document_id
    answer = {k: v for k, v in report.items() if k not in ("created",)}
    return {**answer, "createdTime": amazon_time(report["created"]), "processingStatus": status}


async def _json(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError as exc:
        raise AmazonError(400, "InvalidInput", "The request body is not valid JSON.") from exc
    return body if isinstance(body, dict) else {}


def add_feed_routes(app: FastAPI, state: AmazonState) -> None:
    """Feeds, reports and the document store."""

    @app.post(f"{FEEDS}/documents", status_code=201)
    async def create_feed_document(request: Request) -> dict[str, Any]:
        if not (await _json(request)).get("contentType"):
            raise AmazonError(400, "InvalidInput", "contentType is required.")
        with state.lock:
            document_id = f"amzn1.tortuga.4.na.{state.uuid()}"
            state.documents[document_id] = b""
        return {"feedDocumentId": document_id, "url": _document_url(request, document_id)}

    @app.put("/_sandbox/s3/{document_id}")
    async def upload(document_id: str, request: Request) -> Response:
        body = await request.body()
        with state.lock:
            if document_id not in state.documents:
                return Response(
                    "<Error><Code>NoSuchKey</Code></Error>", 404, media_type="application/xml"
                )
            state.documents[document_id] = body
        return Response(status_code=200)

    @app.get("/_sandbox/s3/{document_id}")
    def download(document_id: str) -> Response:
        with state.lock:
            content = state.documents.get(document_id)
        if content is None:
            return Response(
                "<Error><Code>NoSuchKey</Code></Error>", 404, media_type="application/xml"
            )
        return Response(content, media_type="application/octet-stream")

    @app.post(f"{FEEDS}/feeds", status_code=202)
    async def create_feed(request: Request) -> dict[str, str]:
        body = await _json(request)
        if body.get("feedType") != "JSON_LISTINGS_FEED" or not body.get("marketplaceIds"):
            raise AmazonError(
                400, "InvalidInput", "Only JSON_LISTINGS_FEED with marketplaceIds is emulated."
            )
        with state.lock:
            raw = state.documents.get(str(body.get("inputFeedDocumentId")))
            if raw is None:
                raise AmazonError(400, "InvalidInput", "inputFeedDocumentId does not exist.")
            feed_id = str(50000 + len(state.feeds) + 1)
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = None
            fatal = not isinstance(parsed, dict) or not isinstance(parsed.get("messages"), list)
            state.feeds[feed_id] = {"feedId": feed_id, "feedType": body["feedType"], "created": state.clock(),
                                    "marketplaceIds": body["marketplaceIds"], "body": parsed or {}, "fatal": fatal}  # fmt: skip
        return {"feedId": feed_id}

    @app.get(f"{FEEDS}/feeds/{{feed_id}}")
    def get_feed(feed_id: str) -> dict[str, Any]:
        with state.lock:
            feed = state.feeds.get(feed_id)
            if feed is None:
                raise AmazonError(404, "NotFound", f"Feed {feed_id} was not found.")
            return _feed_json(state, feed)

    @app.get(f"{FEEDS}/documents/{{document_id}}")
    @app.get(f"{REPORTS}/documents/{{document_id}}")
    def get_document(document_id: str, request: Request) -> JSONResponse:
        with state.lock:
            if document_id not in state.documents:
                raise AmazonError(404, "NotFound", f"Document {document_id} was not found.")
        key = "reportDocumentId" if request.url.path.startswith(REPORTS) else "feedDocumentId"
        return JSONResponse({key: document_id, "url": _document_url(request, document_id)})

    @app.post(f"{REPORTS}/reports", status_code=202)
    async def create_report(request: Request) -> dict[str, str]:
        body = await _json(request)
        if body.get("reportType") != "GET_MERCHANT_LISTINGS_ALL_DATA" or not body.get(
            "marketplaceIds"
        ):
            raise AmazonError(
                400, "InvalidInput", "Only GET_MERCHANT_LISTINGS_ALL_DATA is emulated."
            )
        with state.lock:
            report_id = str(70000 + len(state.reports) + 1)
            state.reports[report_id] = {"reportId": report_id, "reportType": body["reportType"],
                                        "marketplaceIds": body["marketplaceIds"], "created": state.clock()}  # fmt: skip
        return {"reportId": report_id}

    @app.get(f"{REPORTS}/reports/{{report_id}}")
    def get_report(report_id: str) -> dict[str, Any]:
        with state.lock:
            report = state.reports.get(report_id)
            if report is None:
                raise AmazonError(404, "NotFound", f"Report {report_id} was not found.")
            return _report_json(state, report)
