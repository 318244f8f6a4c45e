"""The scenario loader: YAML into the dataclasses, and every mistake named by its field path."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from stocksync.simulate.scenario import (
    Bundle,
    ChannelSpec,
    Scenario,
    ScenarioError,
    load_scenario,
    scenario_from_dict,
)

VALID: dict[str, Any] = {
    "name": "two-channel-shop",
    "seed": 7,
    "hours": 6,
    "daily_curve": [1] * 12 + [2] * 12,
    "catalog": {
        "skus": 20,
        "bundles": [{"sku": "GIFT-BOX", "components": {"SIM-0001": 1, "SIM-0002": 2}}],
    },
    "bursts": [
        {"start_h": 1, "minutes": 30, "factor": 4, "skus": ["top:2", "GIFT-BOX"], "sku_share": 0.5}
    ],  # fmt: skip
    "channels": [
        {"name": "shopify-main", "kind": "shopify", "priority": 30, "last_units": 5},
        {"name": "amazon-eu", "kind": "amazon", "buffer": 1, "guard_max": None},
    ],
    "adversity": {
        "latency_ms": 300,
        "outages": [{"channel": "amazon-eu", "start_h": 2, "minutes": 10}],
    },  # fmt: skip
}


def with_change(path: str, value: object) -> dict[str, Any]:
    """VALID with the field at ``path`` (``channels.1.buffer``) set to ``value``."""
    raw = copy.deepcopy(VALID)
    *parents, last = path.split(".")
    node: Any = raw
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return raw


def test_a_valid_file_loads_into_the_dataclasses_with_tuples_for_sequences(tmp_path: Path) -> None:
    import yaml

    path = tmp_path / "shop.yaml"
    path.write_text(yaml.safe_dump(VALID), encoding="utf-8")
    scenario = load_scenario(str(path))
    assert isinstance(scenario, Scenario)
    assert scenario.hours == 6.0 and isinstance(scenario.hours, float)
    assert scenario.daily_curve == (1.0,) * 12 + (2.0,) * 12
    assert scenario.channels[0] == ChannelSpec(
        name="shopify-main", kind="shopify", priority=30, last_units=5
    )
    assert scenario.channels[1].guard_max is None
    assert scenario.catalog.bundles == (
        Bundle(sku="GIFT-BOX", components=(("SIM-0001", 1), ("SIM-0002", 2))),
    )
    assert scenario.bursts[0].skus == ("top:2", "GIFT-BOX")
    assert scenario.adversity.outages[0].channel == "amazon-eu"
    assert scenario.cancel_rate == 0.02  # a default
    assert load_scenario(path) == scenario  # a Path works as well as a str


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (with_change("channels.1.buffer", -1), "channels[1].buffer: must be >= 0"),
        (with_change("colour", "blue"), "colour: unknown field"),
        (with_change("catalog.skuz", 3), "catalog.skuz: unknown field"),
        (with_change("channels.0.fee", 3), "channels[0].fee: unknown field"),
        (with_change("seed", "seven"), "seed: expected an integer, got str 'seven'"),
        (with_change("seed", 7.5), "seed: expected an integer"),
        (with_change("hours", True), "hours: expected a number"),
        (with_change("hours", 0), "hours: must be > 0"),
        (with_change("orders_per_day", -5), "orders_per_day: must be >= 0"),
        (with_change("cancel_rate", -0.1), "cancel_rate: must be between 0 and 1"),
        (with_change("return_rate", 1.5), "return_rate: must be between 0 and 1"),
        (with_change("daily_curve", [1] * 23), "daily_curve: must have 24 entries, got 23"),
        (with_change("daily_curve", [1] * 23 + [-1]), "daily_curve[23]: must be >= 0"),
        (with_change("daily_curve", "flat"), "daily_curve: expected a list"),
        (with_change("catalog", [1]), "catalog: expected a mapping"),
        (
            with_change("channels.1.name", "shopify-main"),
            "channels[1].name: duplicate channel name 'shopify-main'",
        ),  # fmt: skip
        (
            with_change("channels.1.kind", "ebay"),
            "channels[1].kind: must be one of amazon, custom, shopify, woocommerce",
        ),  # fmt: skip
        (with_change("channels.0.last_seconds", -1), "channels[0].last_seconds: must be >= 0"),
        (with_change("channels.0.guard_max", -2), "channels[0].guard_max: must be >= 0"),
        (with_change("channels", []), "channels: needs at least one channel"),
        (
            with_change("adversity.outages.0.channel", "woo-site"),
            "adversity.outages[0].channel: names no channel of this scenario: 'woo-site'",
        ),  # fmt: skip
        (with_change("adversity.jitter_ms", -1), "adversity.jitter_ms: must be >= 0"),
        (
            with_change("bursts.0.skus", ["SIM-0099"]),
            "bursts[0].skus[0]: names no SKU of the catalog: 'SIM-0099'",
        ),  # fmt: skip
        (with_change("bursts.0.skus", ["top:21"]), "bursts[0].skus[0]: top:N needs N from 1 to 20"),
        (with_change("bursts.0.factor", 0), "bursts[0].factor: must be > 0"),
        (
            with_change("catalog.bundles.0.components", {"SIM-0001": 0}),
            "catalog.bundles[0].components[0]: must be >= 1",
        ),  # fmt: skip
        (
            with_change("catalog.bundles.0.components", {"NOPE": 1}),
            "catalog.bundles[0].components[0]: names no SKU of the catalog: 'NOPE'",
        ),  # fmt: skip
        (with_change("catalog.bundles.0.sku", "SIM-0003"), "catalog.bundles[0].sku: must be a new"),
        (with_change("catalog.scarce", 21), "catalog.scarce: must be between 0 and catalog.skus"),
    ],
)
def test_a_mistake_is_refused_with_its_field_path(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        scenario_from_dict(raw)
    assert str(caught.value).startswith(message)


def test_a_missing_required_field_is_named() -> None:
    raw = copy.deepcopy(VALID)
    del raw["channels"][0]["kind"]
    with pytest.raises(ScenarioError, match=r"^channels\[0\]\.kind: required$"):
        scenario_from_dict(raw)


def test_the_scenario_error_is_a_value_error_carrying_the_path() -> None:
    with pytest.raises(ValueError) as caught:
        scenario_from_dict(with_change("channels.1.buffer", -1))
    assert isinstance(caught.value, ScenarioError)
    assert caught.value.path == "channels[1].buffer"


def test_a_file_that_is_not_yaml_or_not_a_mapping_is_refused(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="is not YAML"):
        load_scenario(broken)
    listed = tmp_path / "list.yaml"
    listed.write_text("- name: x\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="expected a mapping"):
        load_scenario(listed)
