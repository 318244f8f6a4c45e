"""``stocksync sandbox serve``: emulators stocked from a catalog, a channels file, a clean stop."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx

from stocksync.channels.registry import build_connector
from stocksync.channels.settings import load_channel
from stocksync.cli.sandbox import start_sandbox
from tests.channels.receiver import webhook_receiver

ROOT = Path(__file__).parents[2]
CATALOG = """sku,location,on_hand,components,listing:shopify-main,listing:woo-site
TEAL-MUG-350ML,berlin-dc,2,,gid://shopify/InventoryItem/1,1001
TEAL-MUG-350ML,leeds-3pl,1,,,
OAK-COASTER,berlin-dc,48,,,1002
MUG-GIFT-SET,,,TEAL-MUG-350ML*1;OAK-COASTER*2,gid://shopify/InventoryItem/2,
"""


def wait_for(path: Path, process: subprocess.Popen[str], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the sandbox did not write its channels file"
        time.sleep(0.1)


def test_serve_stocks_the_emulators_from_the_catalog_writes_the_channels_file_and_stops_on_ctrl_c(
    tmp_path: Path,
) -> None:
    catalog, channels = tmp_path / "catalog.csv", tmp_path / "out" / "channels.json"
    catalog.write_text(CATALOG)
    command = [sys.executable, "-c", "from stocksync.cli import main; main()", "sandbox", "serve",
               "--kind", "shopify", "--kind", "woocommerce", "--base-port", "0",
               "--catalog", str(catalog), "--write-config", str(channels)]  # fmt: skip
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        wait_for(channels, process)
        doc = json.loads(channels.read_text())
        shown = {}
        for name, fields in doc["channels"].items():
            settings = load_channel(name, path=channels, environ={})  # as `stocksync channel` does
            connector = build_connector(settings.kind, name, settings.fields)
            shown[name, fields["kind"]] = {q.sku: q.quantity for q in connector.read_quantities()}
            connector.close()
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)

    assert shown == {
        ("shopify-main", "shopify"): {"TEAL-MUG-350ML": 3, "MUG-GIFT-SET": 3},
        ("woo-site", "woocommerce"): {"TEAL-MUG-350ML": 3, "OAK-COASTER": 48},
    }
    assert stat.S_IMODE(channels.stat().st_mode) == 0o600
    assert process.returncode == 0, err
    assert "shopify-main" in out and "woo-site" in out and "stopped" in out


def test_each_channels_webhooks_go_to_its_own_path_under_the_base_url() -> None:
    with webhook_receiver() as (url, inbox):
        base = url.removesuffix("/hooks")
        emulators = start_sandbox(["custom", "woocommerce"], CATALOG, webhook_url_base=base)
        try:
            portal, woo = emulators
            portal.shopper_order({"OAK-COASTER": 1})
            woo.shopper_order({"OAK-COASTER": 1})
            paths = {inbox.get(timeout=5).path for _ in range(2)}
            answers = {httpx.get(f"{e.base_url}/_sandbox/health").status_code for e in emulators}
        finally:
            for emulator in emulators:
                emulator.stop()

    assert (portal.name, woo.name) == ("b2b-portal", "woo-site")
    assert portal.listings().keys() == {"TEAL-MUG-350ML", "OAK-COASTER", "MUG-GIFT-SET"}
    assert paths == {"/webhooks/custom/b2b-portal", "/webhooks/woocommerce/woo-site"}
    assert answers == {200}
