"""The webhook receiver over real loopback HTTP: emulators' signed webhooks and crafted requests."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select, update

from stocksync.channels.amazon import SECRET_HEADER
from stocksync.channels.custom import CustomChannelConfig, webhook_signature
from stocksync.channels.woocommerce import webhook_signature as woo_signature
from stocksync.ledger.db import make_engine
from stocksync.ledger.queries import stock_report
from stocksync.ledger.service import Ledger
from stocksync.ledger.tables import InboxEventRow, ListingRow, OrderRow
from stocksync.receiver.app import create_app
from stocksync.receiver.secrets import env_secret, secret_env_name
from stocksync.sandbox import shopify as shopify_sandbox
from stocksync.sandbox import woocommerce as woo_sandbox
from stocksync.sandbox.server import serve_in_thread
from tests.factories import channel, shop_with

SAMPLES = Path("/work/shared/samples")
ROOT = Path(__file__).resolve().parents[2]
CUSTOM_CONFIG = ROOT / "stocksync/samples/custom-channel.example.json"
SECRETS = {
    "shopify-main": "shopify-app-secret",
    "woo-site": "wh-secret-teal-mugs",
    "amazon-eu": "relay-shared-secret",
    "b2b-portal": "portal-webhook-secret",
    "shopify-ghost": "ghost-secret",
}
CHANNELS = (
    ("shopify-main", "shopify", 30),
    ("amazon-eu", "amazon", 20),
    ("woo-site", "woocommerce", 10),
    channel("b2b-portal", "custom", 5),
)
PINK = "IPOD2008PINK"


@dataclass
class Receiver:
    url: str
    ledger: Ledger

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        return httpx.post(f"{self.url}{path}", content=body, headers=headers, timeout=10)

    def metric(self, kind: str, channel: str, outcome: str) -> int:
        text = httpx.get(f"{self.url}/metrics", timeout=5).text
        label = f'stocksync_webhooks_total{{kind="{kind}",channel="{channel}",outcome="{outcome}"}}'
        return next((int(ln.split()[-1]) for ln in text.splitlines() if ln.startswith(label)), 0)

    def inbox(self) -> list[tuple[str, str]]:
        rows = self.ledger.run(
            lambda s: s.execute(
                select(InboxEventRow.topic, InboxEventRow.status).order_by(InboxEventRow.id)
            ).all()
        )
        return [(r[0], r[1]) for r in rows]

    def stock(self, sku: str) -> tuple[int, int]:
        [report] = self.ledger.run(lambda s: stock_report(s, [sku]))
        return sum(x.on_hand for x in report.locations), sum(x.committed for x in report.locations)


def serve(ledger: Ledger, **options: Any) -> Iterator[Receiver]:
    custom = CustomChannelConfig.load(CUSTOM_CONFIG)
    app = create_app(
        ledger,
        secrets=SECRETS.get,
        custom_configs=lambda name: custom if name == "b2b-portal" else None,
        **options,
    )
    url, stop = serve_in_thread(app)
    try:
        yield Receiver(url, ledger)
    finally:
        stop()


@pytest.fixture
def receiver(ledger: Ledger) -> Iterator[Receiver]:
    shop_with(ledger, {PINK: {"berlin": 5}, "SellerSKUID1": {"berlin": 12}}, channels=CHANNELS)
    yield from serve(ledger)


def shopify_headers(topic: str, body: bytes, event_id: str, secret: str) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode(),
        "X-Shopify-Event-Id": event_id,
    }


def live_order(sku: str = PINK) -> bytes:
    """The orders/create sample as a live (not cancelled) order of two units of ``sku``."""
    order = json.loads((SAMPLES / "shopify-orders-create.json").read_text())
    order |= {"cancelled_at": None, "financial_status": "paid"}
    for line in order["line_items"]:
        line["sku"] = sku
    return json.dumps(order).encode()


def wait_until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


# -- from the emulators ---------------------------------------------------------------------------


def test_a_shopper_order_on_the_shopify_emulator_reaches_the_ledger_signed(
    receiver: Receiver,
) -> None:
    state = shopify_sandbox.ShopifyState(app_secret=SECRETS["shopify-main"])
    item = state.stock(PINK, 5)
    receiver.ledger.run(
        lambda s: s.execute(
            update(ListingRow)
            .where(ListingRow.external_id == f"shopify-main-{PINK}")
            .values(external_id=item, pushed_qty=5, expected_qty=5, dirty=False)
        )
    )
    state.webhook_url = f"{receiver.url}/webhooks/shopify/shopify-main"
    shop_url, stop = serve_in_thread(shopify_sandbox.create_app(state))
    try:
        body = {
            "lines": [{"inventory_item_id": item, "quantity": 2}],
            "location_id": shopify_sandbox.DEFAULT_LOCATION,
        }
        placed = httpx.post(f"{shop_url}/_sandbox/shopper/orders", json=body, timeout=5)
        assert placed.status_code == 201
        wait_until(lambda: len(state.deliveries) == 2)
    finally:
        stop()

    assert [(d.topic, d.status, d.attempts) for d in state.deliveries] == [
        ("orders/create", 200, 1),
        ("inventory_levels/update", 200, 1),
    ]
    assert receiver.stock(PINK) == (5, 2)
    # the count Shopify announces (3) is what its own sale left: expected, nothing to push
    assert receiver.inbox() == [("orders/create", "applied"), ("inventory_levels/update", "stored")]


def test_the_woocommerce_emulator_pings_then_delivers_a_signed_order(receiver: Receiver) -> None:
    state = woo_sandbox.WooState(webhook_secret=SECRETS["woo-site"])
    product = state.add_product(PINK, 4)
    receiver.ledger.run(
        lambda s: s.execute(
            update(ListingRow)
            .where(ListingRow.external_id == f"woo-site-{PINK}")
            .values(external_id=str(product.id))
        )
    )
    shop_url, stop = serve_in_thread(woo_sandbox.create_app(state))
    try:
        hook = {"delivery_url": f"{receiver.url}/webhooks/woocommerce/woo-site"}
        httpx.post(f"{shop_url}/_sandbox/webhook", json=hook, timeout=5).raise_for_status()
        wait_until(lambda: len(receiver.inbox()) == 1)
        line = {"product_id": product.id, "variation_id": 0, "quantity": 3}
        placed = httpx.post(
            f"{shop_url}/_sandbox/shopper/orders", json={"lines": [line]}, timeout=5
        )
        assert placed.status_code == 201
        wait_until(lambda: len(receiver.inbox()) == 2)
    finally:
        stop()

    assert receiver.inbox() == [("ping", "stored"), ("order.created", "applied")]
    assert receiver.stock(PINK) == (5, 3)


# -- crafted requests ------------------------------------------------------------------------------


def test_a_bad_signature_is_401_and_stores_nothing_but_a_counter(receiver: Receiver) -> None:
    body = live_order()
    headers = shopify_headers("orders/create", body, "ev-1", "not-the-secret")

    answer = receiver.post("/webhooks/shopify/shopify-main", body, headers)

    assert answer.status_code == 401
    assert receiver.inbox() == []
    assert receiver.metric("shopify", "shopify-main", "unauthorized") == 1


def test_a_body_over_the_limit_is_413(ledger: Ledger) -> None:
    shop_with(ledger, {PINK: {"berlin": 5}}, channels=CHANNELS)
    for small in serve(ledger, max_body_bytes=4096):
        body = live_order()
        assert len(body) > 4096
        headers = shopify_headers("orders/create", body, "ev-big", SECRETS["shopify-main"])

        answer = small.post("/webhooks/shopify/shopify-main", body, headers)

        assert answer.status_code == 413
        assert small.inbox() == []


def test_the_default_limit_is_one_mebibyte(receiver: Receiver) -> None:
    body = b"{" + b" " * (1024 * 1024) + b"}"
    headers = shopify_headers("orders/create", body, "ev-huge", SECRETS["shopify-main"])
    assert receiver.post("/webhooks/shopify/shopify-main", body, headers).status_code == 413


def test_a_signed_order_is_applied_and_its_duplicate_acknowledged_once(receiver: Receiver) -> None:
    body = live_order()
    headers = shopify_headers("orders/create", body, "ev-dup", SECRETS["shopify-main"])

    first = receiver.post("/webhooks/shopify/shopify-main", body, headers)
    second = receiver.post("/webhooks/shopify/shopify-main", body, headers)

    assert (first.status_code, second.status_code) == (200, 200)
    assert first.json()["events"][0]["status"] == "applied"
    assert first.json()["events"][0]["order"]["order_id"] == "820982911946154508"
    assert first.headers["server-timing"].startswith("app;dur=")  # the receiver's own time
    assert second.json()["events"][0]["status"] == "duplicate"
    assert receiver.inbox() == [("orders/create", "applied")]
    assert receiver.stock(PINK) == (5, 2)


def test_webhooks_beyond_the_concurrency_limit_wait_their_turn(ledger: Ledger) -> None:
    shop_with(ledger, {PINK: {"berlin": 20}}, channels=CHANNELS)
    receiver = next(one_at_a_time := serve(ledger, max_concurrent=1))

    def post(n: int) -> httpx.Response:
        body = json.dumps(json.loads(live_order()) | {"id": 1000 + n}).encode()
        headers = shopify_headers("orders/create", body, f"ev-{n}", SECRETS["shopify-main"])
        return receiver.post("/webhooks/shopify/shopify-main", body, headers)

    try:
        with ThreadPoolExecutor(max_workers=6) as pool:
            answers = list(pool.map(post, range(6)))
    finally:
        one_at_a_time.close()

    assert [a.status_code for a in answers] == [200] * 6
    assert {a.json()["events"][0]["status"] for a in answers} == {"applied"}
    assert receiver.stock(PINK) == (20, 12)


def test_an_unknown_sku_is_stored_flagged_and_answered_200(receiver: Receiver) -> None:
    body = live_order("IPOD2008GOLD")
    headers = shopify_headers("orders/create", body, "ev-gold", SECRETS["shopify-main"])

    answer = receiver.post("/webhooks/shopify/shopify-main", body, headers)

    assert answer.status_code == 200
    [event] = answer.json()["events"]
    assert event["status"] == "flagged"
    assert "866550311766439020" in event["error"] and "IPOD2008GOLD" in event["error"]
    assert receiver.inbox() == [("orders/create", "flagged")]
    assert receiver.metric("shopify", "shopify-main", "flagged") == 1
    assert receiver.ledger.run(lambda s: s.execute(select(func.count(OrderRow.id))).scalar()) == 0


def test_a_signed_body_that_is_not_json_is_stored_flagged(receiver: Receiver) -> None:
    body = b'{"id": 820982911946154508, "line_items": ['
    headers = shopify_headers("orders/create", body, "ev-broken", SECRETS["shopify-main"])

    answer = receiver.post("/webhooks/shopify/shopify-main", body, headers)

    assert answer.status_code == 200
    [event] = answer.json()["events"]
    assert event["status"] == "flagged" and "not JSON" in event["error"]
    assert receiver.inbox() == [("orders/create", "flagged")]


def test_woocommerce_unsigned_ping_is_answered_200(receiver: Receiver) -> None:
    answer = receiver.post(
        "/webhooks/woocommerce/woo-site",
        b"webhook_id=7",
        {"Content-Type": "application/x-www-form-urlencoded"},
    )

    assert answer.status_code == 200
    assert answer.json()["events"][0]["status"] == "stored"
    assert receiver.inbox() == [("ping", "stored")]


def test_a_signed_woocommerce_sample_order_is_applied(receiver: Receiver) -> None:
    sample = json.loads((SAMPLES / "woocommerce-order-created.json").read_text())
    for line in sample["line_items"]:
        line["sku"] = PINK
    body = json.dumps(sample).encode()
    headers = {
        "X-WC-Webhook-Topic": "order.created",
        "X-WC-Webhook-Signature": woo_signature(SECRETS["woo-site"], body),
        "X-WC-Webhook-Delivery-ID": "d41d8cd98f00b204",
    }

    answer = receiver.post("/webhooks/woocommerce/woo-site", body, headers)

    assert answer.json()["events"][0]["status"] == "applied"
    assert receiver.stock(PINK) == (5, 3)


def test_an_amazon_notification_from_the_relay_needs_its_shared_secret(receiver: Receiver) -> None:
    body = (SAMPLES / "amazon-order-change-notification.json").read_bytes()

    refused = receiver.post("/webhooks/amazon/amazon-eu", body, {SECRET_HEADER: "guess"})
    accepted = receiver.post(
        "/webhooks/amazon/amazon-eu", body, {SECRET_HEADER: SECRETS["amazon-eu"]}
    )

    assert (refused.status_code, accepted.status_code) == (401, 200)
    assert accepted.json()["events"][0]["status"] == "applied"
    assert receiver.stock("SellerSKUID1") == (12, 10)


def test_a_custom_channel_webhook_is_verified_with_its_configured_header(
    receiver: Receiver,
) -> None:
    payload = {
        "event": {"id": "evt_0001", "type": "order.placed", "created_at": "2026-01-15T10:00:00Z"},
        "data": {"order": {
            "order_number": "B2B-1001", "created_at": "2026-01-15T09:59:00Z", "state": "open",
            "lines": [{"line_id": "1", "sku": PINK, "listing_id": "b2b-portal-IPOD2008PINK", "qty": 4}],
        }},
    }  # fmt: skip
    body = json.dumps(payload).encode()
    config = CustomChannelConfig.load(CUSTOM_CONFIG)
    hook = config.webhook.model_copy(update={"secret": SecretStr(SECRETS["b2b-portal"])})
    headers = {"X-Portal-Signature": webhook_signature(hook, body)}

    answer = receiver.post("/webhooks/custom/b2b-portal", body, headers)

    assert answer.status_code == 200
    assert answer.json()["events"][0]["status"] == "applied"
    assert receiver.stock(PINK) == (5, 4)


def test_an_unknown_channel_or_kind_is_404(receiver: Receiver) -> None:
    body = live_order()
    ghost = shopify_headers("orders/create", body, "ev-ghost", SECRETS["shopify-ghost"])
    woo_as_shopify = shopify_headers("orders/create", body, "ev-woo", SECRETS["woo-site"])

    assert receiver.post("/webhooks/shopify/shopify-ghost", body, ghost).status_code == 404
    assert receiver.post("/webhooks/shopify/woo-site", body, woo_as_shopify).status_code == 404
    assert receiver.post("/webhooks/ebay/shopify-main", body, ghost).status_code == 404
    assert receiver.inbox() == []


def test_a_channel_without_a_secret_is_refused(receiver: Receiver) -> None:
    body = live_order()
    headers = shopify_headers("orders/create", body, "ev-x", "")
    assert receiver.post("/webhooks/shopify/shopify-unset", body, headers).status_code == 401


def test_a_ledger_outage_is_503_so_the_channel_sends_again() -> None:
    down = Ledger(make_engine("postgresql+psycopg://postgres@127.0.0.1:1/stocksync"), attempts=1)
    for receiver in serve(down):
        body = live_order()
        headers = shopify_headers("orders/create", body, "ev-down", SECRETS["shopify-main"])

        answer = receiver.post("/webhooks/shopify/shopify-main", body, headers)

        assert answer.status_code == 503
        assert httpx.get(f"{receiver.url}/healthz", timeout=5).status_code == 503
        assert receiver.metric("shopify", "shopify-main", "unavailable") == 1
    down.engine.dispose()


def test_health_and_the_openapi_document_are_served(receiver: Receiver) -> None:
    assert httpx.get(f"{receiver.url}/healthz", timeout=5).json() == {"status": "ok"}
    spec = httpx.get(f"{receiver.url}/openapi.json", timeout=5).json()
    assert "/webhooks/{kind}/{channel}" in spec["paths"]
    assert httpx.get(f"{receiver.url}/docs", timeout=5).status_code == 200


def test_the_secret_comes_from_the_channels_environment_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert secret_env_name("shopify-main") == "STOCKSYNC_SHOPIFY_MAIN_WEBHOOK_SECRET"
    monkeypatch.setenv("STOCKSYNC_SHOPIFY_MAIN_WEBHOOK_SECRET", "from-env")
    assert env_secret("shopify-main") == "from-env"
    assert env_secret("woo-site") is None


@pytest.mark.parametrize("workers", [1, 2])
def test_stocksync_serve_receives_with_the_secret_from_the_environment(
    receiver: Receiver, database_url: str, workers: int
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("STOCKSYNC_")}
    env |= {
        "PYTHONPATH": str(ROOT),
        "STOCKSYNC_DATABASE_URL": database_url,
        secret_env_name("shopify-main"): "secret-from-env",
    }
    command = "from stocksync.cli import app; app()"
    server = subprocess.Popen(
        [sys.executable, "-c", command, "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: _answers(f"{url}/healthz"), timeout_s=30)
        body = live_order()
        headers = shopify_headers("orders/create", body, "ev-cli", "secret-from-env")

        answers = [
            httpx.post(f"{url}/webhooks/shopify/shopify-main", content=body, headers=headers)
            for _ in range(4)  # each on a new connection: with two workers, any process may answer
        ]

        assert [a.status_code for a in answers] == [200] * 4, answers[0].text
        statuses = [a.json()["events"][0]["status"] for a in answers]
        assert statuses == ["applied", "duplicate", "duplicate", "duplicate"]
        assert receiver.stock(PINK) == (5, 2)
    finally:
        server.terminate()
        server.wait(timeout=10)
        assert server.stderr is not None
        server.stderr.close()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False
