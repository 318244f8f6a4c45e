"""``stocksync listing``: the listings the sync holds back for a person, and sending one back."""

from __future__ import annotations

import typer

from stocksync.cli.output import JsonOpt, call, console, print_json, table
from stocksync.ledger.held_listings import held_listings, retry_listing

__all__ = ["listing_app"]

listing_app = typer.Typer(
    help="Listings the sync holds back: a wrong id, or pushes the channel refused for good.",
    no_args_is_help=True,
)


@listing_app.command("held")
def listing_held(as_json: bool = JsonOpt) -> None:
    """Every listing the sync will not push until a person acts, and why; exit 1 if any."""
    held = call(held_listings)
    if as_json:
        print_json(
            [
                {
                    "channel": h.channel,
                    "sku": h.sku,
                    "external_id": h.external_id,
                    "state": h.state.value,
                    "channel_sku": h.channel_sku,
                    "error": h.error,
                }
                for h in held
            ]  # fmt: skip
        )
    elif held:
        table(
            "Held back from the sync",
            ["channel", "sku", "id", "state", "why"],
            [[h.channel, h.sku, h.external_id, h.state.value, h.error] for h in held],
        )
    else:
        console.print("no listing is held back: every listing syncs")
    if held:
        raise typer.Exit(1)


@listing_app.command("retry")
def listing_retry(
    channel: str = typer.Argument(..., help="The channel's name."),
    sku: str = typer.Argument(..., help="The listing's SKU."),
) -> None:
    """Send a held-back listing to the sync again, once it is fixed on the channel.

    Its id is checked on the channel first, then its quantity is pushed."""
    before = call(retry_listing, channel, sku)
    console.print(
        f"{channel}/{sku} was {before.value}; its id is checked on the channel before the next push"
    )
