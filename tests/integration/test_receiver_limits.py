"""A body over the receiver's limit is answered 413 that a sender over real loopback HTTP reads,
also while it is still writing: the receiver reads on, dropping, up to a bounded size and time
past the limit, and beyond those answers at once and closes the connection."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from stocksync.ledger.service import Ledger
from stocksync.receiver import app as receiver_app
from stocksync.receiver.app import DEFAULT_MAX_BODY, DEFAULT_MAX_DRAIN
from tests.factories import shop_with
from tests.integration.test_receiver import (
    CHANNELS,
    PINK,
    SECRETS,
    Receiver,
    serve,
    shopify_headers,
)

PATH = "/webhooks/shopify/shopify-main"
CHUNK = 64 * 1024


@pytest.fixture
def receiver(ledger: Ledger) -> Iterator[Receiver]:
    shop_with(ledger, {PINK: {"berlin": 5}}, channels=CHANNELS)
    yield from serve(ledger)


def big_body(size: int) -> bytes:
    return b'{"padding": "' + b" " * (size - 15) + b'"}'


def connect(receiver: Receiver) -> socket.socket:
    host, port = receiver.url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def request_head(length: int | None) -> bytes:
    framing = "Transfer-Encoding: chunked" if length is None else f"Content-Length: {length}"
    return f"POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{framing}\r\n\r\n".encode()


def read_until_closed(conn: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (a timeout fails the test)."""
    received = b""
    while chunk := conn.recv(65536):
        received += chunk
    return received


@pytest.mark.parametrize("times", [2, 4])
def test_a_sender_still_writing_a_body_over_the_limit_reads_the_413(
    receiver: Receiver, times: int
) -> None:
    body = big_body(times * DEFAULT_MAX_BODY)
    headers = shopify_headers("orders/create", body, f"ev-big-{times}", SECRETS["shopify-main"])

    for _ in range(3):
        answer = httpx.post(f"{receiver.url}{PATH}", content=body, headers=headers, timeout=30)
        assert answer.status_code == 413
        assert "over 1048576 bytes" in answer.json()["detail"]
    assert receiver.inbox() == []
    assert receiver.metric("shopify", "shopify-main", "too_large") == 3


def test_a_chunked_body_over_the_limit_is_413_and_the_connection_stays_usable(
    receiver: Receiver,
) -> None:
    body = big_body(3 * DEFAULT_MAX_BODY)
    headers = shopify_headers("orders/create", body, "ev-chunked", SECRETS["shopify-main"])

    def chunks() -> Iterator[bytes]:  # no content-length: the limit is found while reading
        for start in range(0, len(body), CHUNK):
            yield body[start : start + CHUNK]

    with httpx.Client(base_url=receiver.url, timeout=30) as client:
        assert client.post(PATH, content=chunks(), headers=headers).status_code == 413
        assert client.get("/healthz").json() == {"status": "ok"}
    assert receiver.inbox() == []


def test_a_body_declared_beyond_what_is_drained_is_answered_at_once_and_not_read(
    receiver: Receiver,
) -> None:
    with connect(receiver) as conn:
        conn.sendall(request_head(DEFAULT_MAX_BODY + DEFAULT_MAX_DRAIN + 1))
        started = time.monotonic()

        answer = read_until_closed(conn)  # not a byte of the body sent, yet the server is done

    assert time.monotonic() - started < 3  # not uvicorn's keep-alive timeout (5 s)
    assert answer.startswith(b"HTTP/1.1 413")
    assert b"connection: close" in answer.lower()


def test_a_body_that_goes_on_past_what_is_drained_is_cut_off(receiver: Receiver) -> None:
    """A chunked body of no declared size: the receiver stops reading after the allowance."""
    chunk = b"%x\r\n" % CHUNK + b" " * CHUNK + b"\r\n"
    sent = 0
    with connect(receiver) as conn:
        conn.sendall(request_head(None))
        with pytest.raises(OSError):  # reset or broken pipe: the server closed the connection
            while sent < 16 * (DEFAULT_MAX_BODY + DEFAULT_MAX_DRAIN):
                conn.sendall(chunk)
                sent += CHUNK
    assert sent < 4 * (DEFAULT_MAX_BODY + DEFAULT_MAX_DRAIN)
    assert receiver.metric("shopify", "shopify-main", "too_large") == 1


def test_a_sender_that_stalls_past_the_limit_gets_the_413_within_the_drain_time(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(receiver_app, "DRAIN_TIMEOUT_S", 0.5)
    with connect(receiver) as conn:
        conn.sendall(request_head(DEFAULT_MAX_BODY + DEFAULT_MAX_DRAIN))
        conn.sendall(b" " * (DEFAULT_MAX_BODY + 1))  # over the limit, then nothing more
        started = time.monotonic()

        answer = read_until_closed(conn)

    assert answer.startswith(b"HTTP/1.1 413")
    assert time.monotonic() - started < 5
