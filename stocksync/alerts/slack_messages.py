"""Block Kit messages for low stock, oversold lines and the daily digest.

Each message carries a plain ``text`` too: Slack shows it in notifications and to clients that
cannot render blocks. A message holds at most ``MAX_ITEMS`` SKUs; longer lists are split.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from stocksync.alerts.low_stock import LowStock
from stocksync.alerts.oversold import OversoldLine
from stocksync.ledger.held_listings import HeldListing
from stocksync.ledger.oversold_orders import OrderRef

__all__ = [
    "SlackMessage",
    "digest_messages",
    "held_message",
    "low_stock_messages",
    "oversold_message",
]

MAX_ITEMS = 20
"""SKUs per message: two blocks each keeps a message well under Slack's 50-block limit."""

Block = dict[str, Any]


@dataclass(frozen=True, slots=True)
class SlackMessage:
    text: str
    blocks: list[Block]


def low_stock_messages(items: Sequence[LowStock]) -> list[SlackMessage]:
    """One alert per ``MAX_ITEMS`` SKUs that reached their reorder point."""
    return [
        SlackMessage(
            f"Low stock: {_names(chunk)}",
            [_header(f":warning: Low stock ({len(items)} SKU{_s(len(items))})")]
            + [b for item in chunk for b in _sku_blocks(item)],
        )
        for chunk in _chunks(items)
    ]


def digest_messages(items: Sequence[LowStock], *, total_skus: int) -> list[SlackMessage]:
    """The daily digest: every SKU at or below its reorder point, or a line saying there are none."""
    if not items:
        return [
            SlackMessage(
                f"Stock digest: all {total_skus} SKUs above their reorder points",
                [
                    _header("Daily stock digest"),
                    _text(f"All {total_skus} SKUs are above their reorder points."),
                ],
            )
        ]
    summary = f"{len(items)} of {total_skus} SKUs at or below their reorder points"
    return [
        SlackMessage(
            f"Stock digest: {summary}",
            [_header("Daily stock digest"), _text(summary)]
            + [b for item in chunk for b in _sku_blocks(item)],
        )
        for chunk in _chunks(items)
    ]


def oversold_message(lines: Sequence[OversoldLine]) -> SlackMessage:
    """Sent at once: each oversold line, the orders involved, and the one the policy cancels."""
    blocks: list[Block] = [
        _header(f":rotating_light: Oversold ({len(lines)} line{_s(len(lines))})")
    ]
    for line in lines[:MAX_ITEMS]:
        rivals = ", ".join(_order(r) for r in line.competitors) or "none still committed"
        blocks.append(
            _text(
                f"*{line.sku}*: {line.short} unit{_s(line.short)} short on {_order(line.order)}\n"
                f"Orders holding this stock: {rivals}\n"
                f"*Cancel:* {_order(line.cancel)} (placed later)"
            )
        )
        blocks.append({"type": "divider"})
    names = ", ".join(sorted({ln.sku for ln in lines}))
    return SlackMessage(f"Oversold: {names}", blocks)


def held_message(held: Sequence[HeldListing]) -> SlackMessage:
    """Sent once per listing: the pipeline will not push it until a person acts, and why."""
    blocks: list[Block] = [_header(f":no_entry: Not syncing ({len(held)} listing{_s(len(held))})")]
    for h in held[:MAX_ITEMS]:
        if h.state == "mismatched":
            fix = (
                f"Give it the right id: `stocksync channel map {h.channel}` proposes one, or "
                "correct the catalog and import it again."
            )
        else:
            fix = f"Fix it on the channel, then `stocksync listing retry {h.channel} {h.sku}`."
        blocks.append(
            _text(f"*{h.sku}* on {h.channel} (id `{h.external_id}`): {h.describe()}\n{fix}")
        )
    names = ", ".join(sorted({f"{h.channel}/{h.sku}" for h in held}))
    return SlackMessage(f"Not syncing: {names}", blocks)


def _sku_blocks(item: LowStock) -> list[Block]:
    advice = item.advice
    cover = "no recent sales" if advice.days_of_cover is None else f"{advice.days_of_cover:g} days"
    places = ", ".join(f"{name} {units}" for name, units in item.by_location.items()) or "no stock"
    title = f" — {item.title}" if item.title else ""
    return [
        _text(f"*{item.sku}*{title}"),
        {
            "type": "section",
            "fields": [
                _field(f"*Available:* {item.available} (reorder point {item.reorder_point})"),
                _field(f"*By location:* {places}"),
                _field(f"*Days of cover:* {cover}"),
                _field(
                    f"*Suggested reorder:* {advice.suggested_qty} units "
                    f"({advice.daily_velocity:g}/day, lead time {item.lead_time_days} d)"
                ),
            ],
        },
    ]


def _order(ref: OrderRef) -> str:
    return f"{ref.channel} #{ref.external_id} ({ref.quantity} ordered {ref.placed_at:%Y-%m-%d %H:%M:%S})"


def _header(text: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": text[:150], "emoji": True}}


def _text(markdown: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": markdown[:3000]}}


def _field(markdown: str) -> Block:
    return {"type": "mrkdwn", "text": markdown[:2000]}


def _chunks(items: Sequence[LowStock]) -> list[Sequence[LowStock]]:
    return [items[i : i + MAX_ITEMS] for i in range(0, len(items), MAX_ITEMS)]


def _names(items: Sequence[LowStock]) -> str:
    return ", ".join(f"{i.sku} ({i.available} left)" for i in items)


def _s(n: int) -> str:
    return "" if n == 1 else "s"
