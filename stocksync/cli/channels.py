"""``stocksync channel read``, ``channel push`` and ``channel map``: look at and set a channel's
counts by hand, and take its listing ids from the SKUs it shows.

The commands reach the channel with the configuration from the channels file and
``STOCKSYNC_<NAME>_<FIELD>`` variables (see ``stocksync.channels.settings``), so they work without
a Prefect server. SKUs map to listings through the ledger when it knows the channel, else through
the SKU the channel itself shows.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import psycopg
import typer
from rich.markup import escape
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from stocksync.channels.base import ChannelConnector, PushStatus, QuantityPush
from stocksync.channels.errors import ChannelAuthError, TransientChannelError
from stocksync.channels.settings import channels_file as find_channels_file
from stocksync.channels.settings import load_channel
from stocksync.cli.output import JsonOpt, call, console, err_console, open_ledger, print_json, table
from stocksync.cli.setup import channel_app
from stocksync.domain.errors import NotFoundError, NotUtf8Error, StockSyncError
from stocksync.domain.listing_identity import ListingState, identity_problem
from stocksync.domain.mapping import MapStatus
from stocksync.domain.messages import ChannelQuantity
from stocksync.ledger.channel_listings import ChannelListings, channel_listings
from stocksync.ledger.mapping import ChannelMapping, map_channel
from stocksync.settings import get_settings

__all__ = ["channel_app"]

FileOpt = typer.Option(
    None,
    "--channels-file",
    help="TOML or JSON channels file (default: $STOCKSYNC_CHANNELS_FILE, then "
    "./stocksync-channels.toml or .json); STOCKSYNC_<NAME>_<FIELD> variables override it.",
)


@dataclass(frozen=True, slots=True)
class ListingRead:
    """One listing as the channel shows it, beside what the ledger holds for it."""

    sku: str | None
    listing_id: str
    channel_qty: int | None
    """None: the ledger lists it but the channel does not show it."""
    desired_qty: int | None = None
    expected_qty: int | None = None
    in_ledger: bool = False
    state: str | None = None
    """The ledger listing's state (``ListingRow.state``); None when the ledger has no listing."""
    channel_sku: str | None = None
    """What the channel held under the id when the ledger last checked (see ``state``)."""

    @property
    def drift(self) -> int | None:
        """Channel minus expected: units the channel moved that the ledger has not seen (or lost)."""
        if self.channel_qty is None or self.expected_qty is None:
            return None
        return self.channel_qty - self.expected_qty


READ_HELP = (
    "Show what the channel lists right now, beside the ledger's desired and expected counts."
    "\n\ndrift is the channel's count minus the count the ledger expects it to show: units the "
    "channel moved (or lost) that the ledger has not recorded. state is whether the channel "
    "holds the ledger's SKU under the listing's id: unverified (not checked yet), active, "
    "mismatched (with the SKU the channel holds there) or refused; only the first two are "
    "pushed. SKUs map to listings through the ledger, else through the SKU the channel shows."
)


@channel_app.command("read", help=READ_HELP)
def channel_read(
    name: str = typer.Argument(..., help="The channel, e.g. shopify-main."),
    skus: list[str] = typer.Argument(None, help="SKUs to show (default: every listing)."),
    as_json: bool = JsonOpt,
    channels_file: Path | None = FileOpt,
) -> None:
    """What the channel shows now, per listing (see ``READ_HELP``)."""
    view = _ledger_view(name, skus or None)
    with _channel(name, channels_file, view) as connector, _failures(name):
        rows = _read(connector, view, skus or [])
    if as_json:
        print_json(
            {
                "channel": name,
                "in_ledger": view is not None,
                "listings": [{**asdict(r), "drift": r.drift} for r in rows],
            }
        )
        return
    table(
        f"{name} now",
        ["sku", "listing", "channel_qty", "state", "desired_qty", "expected_qty", "drift"],
        [
            [
                r.sku,
                r.listing_id,
                _shown(r.channel_qty),
                _state(r),
                r.desired_qty,
                r.expected_qty,
                _drift(r.drift),
            ]
            for r in rows
        ],
    )


PUSH_HELP = (
    "Set one listing's quantity on the channel by hand, compare-and-set where the channel has it."
    "\n\nThe channel's count is read first and sent as the expected value, so a sale in between "
    "is a conflict that writes nothing (exit code 1); --force skips that check. The ledger is not "
    "changed: the next sync pushes the ledger's desired quantity again if it differs."
)


@channel_app.command("push", help=PUSH_HELP)
def channel_push(
    name: str = typer.Argument(..., help="The channel, e.g. shopify-main."),
    sku: str = typer.Argument(..., help="The SKU whose listing to set."),
    qty: int = typer.Argument(..., min=0, help="The quantity the channel should show."),
    force: bool = typer.Option(
        False, "--force", help="Overwrite whatever the channel shows (no compare-and-set)."
    ),
    channels_file: Path | None = FileOpt,
) -> None:
    """A manual push; the ledger stays as it is (see ``PUSH_HELP``)."""
    view = _ledger_view(name, [sku])
    with _channel(name, channels_file, view) as connector, _failures(name):
        listing_id, refs = _listing_for(connector, view, sku)
        [held] = connector.identify([(listing_id, refs)])
        problem = identity_problem(
            sku, found=held.found, channel_sku=held.sku, problem=held.problem
        )
        if problem is not None:
            raise _fail(
                f"listing {listing_id} is not {sku} on {name}: {problem}; nothing was written"
            )
        found = connector.read_quantities([listing_id])
        current = next((q.quantity for q in found if q.listing_id == listing_id), None)
        if current is None:
            raise _fail(f"listing {listing_id} ({sku}) is not on {name}")
        expected = None if force else current
        push = QuantityPush(listing_id, qty, expected=expected, refs=refs, sku=sku, rebase=False)
        [result] = connector.push_quantities([push])
        checked = connector.compare_and_set and not force
    if result.status is PushStatus.APPLIED:
        how = "compare-and-set" if checked else "overwritten, no compare-and-set"
        console.print(f"{escape(sku)} on {escape(name)}: {current} → {qty} ({how})")
        return
    detail = f": {result.message}" if result.message else ""
    if result.status is PushStatus.CONFLICT:
        seen = "" if result.quantity_seen is None else f" now shows {result.quantity_seen} and"
        raise _fail(
            f"conflict: {name}{seen} no longer shows {current}; nothing was written{detail}", 1
        )
    if result.status is PushStatus.RETRY_LATER:
        after = f" in {result.retry_after:.0f} s" if result.retry_after else " later"
        raise _fail(f"{name} did not take the push now; try again{after}{detail}", 1)
    raise _fail(f"{name} rejected the push{detail}", 1)


MAP_HELP = (
    "Propose each ledger SKU's listing id on the channel from the SKUs the channel shows; with "
    "--apply, write it."
    "\n\nFor every ledger SKU (bundles too) the channel shows under one listing id: new (the "
    "ledger has no listing of it on the channel), change (the ledger's listing has another id) "
    "or ok. A SKU the channel shows under two ids is ambiguous; an id another SKU's listing keeps "
    "in the ledger is a conflict; a ledger listing whose SKU the channel does not show is 'not on "
    "channel'. None of those three is ever applied. --apply writes the new listings and changed "
    "ids in one transaction; each is checked on the channel before its next push."
)


@channel_app.command("map", help=MAP_HELP)
def channel_map(
    name: str = typer.Argument(..., help="The channel, e.g. woo-site."),
    apply: bool = typer.Option(False, "--apply", help="Write the new listings and changed ids."),
    as_json: bool = JsonOpt,
    channels_file: Path | None = FileOpt,
) -> None:
    """Listing ids from the SKUs the channel shows (see ``MAP_HELP``)."""
    view = call(channel_listings, name, ())
    if view is None:
        raise _fail(str(NotFoundError("channel", name)))
    with _channel(name, channels_file, view) as connector, _failures(name):
        shown = connector.read_quantities()
    mapping: ChannelMapping = call(map_channel, name, shown, apply=apply)
    if as_json:
        print_json(
            {
                "channel": name,
                "applied": mapping.applied,
                "proposals": [asdict(p) for p in mapping.proposals],
            }
        )
        return
    table(
        f"{name}: listing ids by the SKUs it shows",
        ["sku", "status", "ledger_id", "channel_id", "note"],
        [
            [p.sku, p.status, p.ledger_id, ", ".join(p.channel_ids), p.note]
            for p in mapping.proposals
        ],
    )
    for line in _map_summary(mapping):
        console.print(escape(line))


def _map_summary(mapping: ChannelMapping) -> list[str]:
    new, change = len(mapping.of(MapStatus.NEW)), len(mapping.of(MapStatus.CHANGE))
    if mapping.applied:
        lines = [
            f"applied: {new} new, {change} changed; each is checked on the channel before its "
            "next push"
        ]
    elif new or change:
        lines = [
            f"nothing written: {new + change} to apply ({new} new, {change} change); "
            "--apply writes them"
        ]
    else:
        lines = ["nothing to apply"]
    conflicts, ambiguous = len(mapping.of(MapStatus.CONFLICT)), len(mapping.of(MapStatus.AMBIGUOUS))
    held = [f"{conflicts} conflict{'' if conflicts == 1 else 's'}"] if conflicts else []
    held += [f"{ambiguous} ambiguous"] if ambiguous else []
    if held:
        lines.append(f"{', '.join(held)}: never applied")
    return lines


# -- helpers -------------------------------------------------------------------------------------


def _read(
    connector: ChannelConnector, view: ChannelListings | None, skus: Sequence[str]
) -> list[ListingRead]:
    known = view.listings if view else {}
    if not skus:
        by_listing = {listing.external_id: listing for listing in known.values()}
        rows = []
        for q in connector.read_quantities():
            listing = by_listing.pop(q.listing_id, None)
            rows.append(_row(q.listing_id, q.quantity, listing.sku if listing else q.sku, view))
        rows += [_row(x.external_id, None, x.sku, view) for x in by_listing.values()]
        return rows
    mapped = [known[s].external_id for s in skus if s in known]
    seen = {q.listing_id: q.quantity for q in connector.read_quantities(mapped)} if mapped else {}
    unmapped = _by_channel_sku(connector, [s for s in skus if s not in known])
    rows = []
    for sku in skus:
        if sku in known:
            rows.append(_row(known[sku].external_id, seen.get(known[sku].external_id), sku, view))
        else:
            rows.append(_row(unmapped[sku].listing_id, unmapped[sku].quantity, sku, view))
    return rows


def _row(
    listing_id: str, qty: int | None, sku: str | None, view: ChannelListings | None
) -> ListingRead:
    listing = view.listings.get(sku) if view and sku else None
    if listing is None or listing.external_id != listing_id:
        return ListingRead(sku, listing_id, qty)
    return ListingRead(
        sku, listing_id, qty, listing.desired, listing.expected, in_ledger=True,
        state=listing.state, channel_sku=listing.channel_sku,
    )  # fmt: skip


def _by_channel_sku(connector: ChannelConnector, skus: Sequence[str]) -> dict[str, ChannelQuantity]:
    """The channel's listing for each SKU, found by the SKU the channel shows."""
    if not skus:
        return {}
    found: dict[str, ChannelQuantity] = {}
    for q in connector.read_quantities():
        if q.sku is not None and q.sku in skus and q.sku not in found:
            found[q.sku] = q
    missing = [s for s in skus if s not in found]
    if missing:
        raise _fail(
            f"no listing for {', '.join(missing)} on {connector.name}: "
            "neither the ledger nor the channel maps it"
        )
    return found


def _listing_for(
    connector: ChannelConnector, view: ChannelListings | None, sku: str
) -> tuple[str, dict[str, str]]:
    """The listing id and channel refs ``sku`` is pushed to."""
    if view and sku in view.listings:
        return view.listings[sku].external_id, view.listings[sku].refs
    return _by_channel_sku(connector, [sku])[sku].listing_id, {}


def _ledger_view(name: str, skus: Sequence[str] | None) -> ChannelListings | None:
    """The ledger's record of the channel, or None when there is no ledger or it lacks the channel."""
    url = make_url(get_settings().database_url)
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").is_file():
        return None
    try:
        ledger = open_ledger()
        if not ledger.has_schema():
            return None
        return ledger.call(channel_listings, name, skus)
    except (SQLAlchemyError, psycopg.Error) as exc:
        err_console.print(
            f"warning: the ledger cannot be read ({exc.__class__.__name__}); "
            "showing the channel alone"
        )
        return None


@contextmanager
def _channel(
    name: str, channels_file: Path | None, view: ChannelListings | None
) -> Iterator[ChannelConnector]:
    """The channel's connector, closed afterwards; configuration errors end the command."""
    try:
        _check_utf8(find_channels_file(channels_file))
        settings = load_channel(name, path=channels_file, ledger_kind=view.kind if view else None)
        connector = settings.connector()
    except StockSyncError as exc:
        raise _fail(str(exc)) from None
    except UnicodeDecodeError as exc:  # a file the channels file names (a custom spec_file)
        where = "a file the channel's configuration names"
        raise _fail(str(NotUtf8Error(where, exc.object, exc.start))) from None
    try:
        yield connector
    finally:
        connector.close()


@contextmanager
def _failures(name: str) -> Iterator[None]:
    """A channel that refuses us or is down: one line, exit code 2."""
    try:
        yield
    except ChannelAuthError as exc:
        raise _fail(f"{name} refused the credentials ({exc}); check its access token") from None
    except TransientChannelError as exc:
        raise _fail(f"{name} is down or busy ({exc}); try again later") from None
    except StockSyncError as exc:
        raise _fail(str(exc)) from None


def _check_utf8(path: Path | None) -> None:
    """Refuse a channels file that is not UTF-8 in one line naming the byte (NotUtf8Error)."""
    if path is None:
        return
    try:
        data = path.read_bytes()
    except OSError:
        return  # reading it again says what is wrong, in the channel settings' words
    NotUtf8Error.decode(data, str(path))


def _fail(message: str, code: int = 2) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {escape(message)}")
    return typer.Exit(code)


def _state(row: ListingRead) -> str:
    if row.state == ListingState.MISMATCHED and row.channel_sku:
        return f"mismatched: {row.channel_sku}"
    return row.state or ""


def _shown(qty: int | None) -> str:
    return "not listed" if qty is None else str(qty)


def _drift(drift: int | None) -> str:
    return "" if not drift else f"{drift:+d} !"
