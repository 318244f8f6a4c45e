"""Commands that set the ledger up: schema, locations, channels, catalog files."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import typer

from stocksync.cli.output import (
    JsonOpt,
    call,
    console,
    errors_to_exit,
    open_ledger,
    print_json,
    table,
)
from stocksync.domain.errors import InvalidRequestError, NotUtf8Error
from stocksync.domain.model import MAX_QUANTITY, ChannelPolicy
from stocksync.ledger.catalog import CatalogSummary, export_catalog, import_catalog
from stocksync.ledger.config import (
    ChannelInfo,
    LocationInfo,
    add_channel,
    add_location,
    list_channels,
    list_locations,
)

db_app = typer.Typer(help="The ledger database.", no_args_is_help=True)
location_app = typer.Typer(help="Warehouses, 3PLs and stores.", no_args_is_help=True)
channel_app = typer.Typer(help="Sales channels and how much each one lists.", no_args_is_help=True)
catalog_app = typer.Typer(
    help="SKUs, bundles, stock and listings as one CSV file.", no_args_is_help=True
)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the ledger schema to the latest version."""
    from stocksync.ledger.migrate import upgrade

    ledger = open_ledger()
    upgrade(ledger.engine)
    console.print(
        f"ledger schema is current: {ledger.engine.url.render_as_string(hide_password=True)}"
    )


@location_app.command("add")
def location_add(
    name: str,
    kind: str = typer.Option("warehouse", help="warehouse, 3pl or store."),
    country: str | None = typer.Option(None, help="Two-letter ISO country code."),
    region: str | None = typer.Option(None),
    lat: float | None = typer.Option(None, help="Latitude, with --lon."),
    lon: float | None = typer.Option(None, help="Longitude, with --lat."),
) -> None:
    """Add a location."""
    call(
        add_location,
        LocationInfo(
            name=name, kind=kind, country=country, region=region, latitude=lat, longitude=lon
        ),
    )
    console.print(f"added location {name}")


@location_app.command("list")
def location_list(as_json: bool = JsonOpt) -> None:
    """List locations."""
    rows = call(list_locations)
    if as_json:
        print_json([vars_of(r) for r in rows])
        return
    table(
        "Locations",
        ["name", "kind", "country", "region", "lat", "lon"],
        [[r.name, r.kind, r.country, r.region, r.latitude, r.longitude] for r in rows],
    )


@channel_app.command("add")
def channel_add(
    name: str,
    kind: str = typer.Option(..., help="shopify, amazon, woocommerce or custom."),
    priority: int = typer.Option(
        0,
        min=-MAX_QUANTITY,
        max=MAX_QUANTITY,
        help="Higher numbers win the last units (see --last-units).",
    ),  # fmt: skip
    buffer: int = typer.Option(0, help="Units held back from this channel."),
    max_listed: int | None = typer.Option(None, "--max", help="Never list more than this."),
    share: int = typer.Option(
        100, help="Percentage of the pool this channel may list (rounded down)."
    ),
    zero_below: int = typer.Option(0, help="List 0 when the pool is at or below this."),
    last_units: int = typer.Option(
        0, help="When the pool is at or below this, only the top-priority channel shows stock."
    ),
    last_seconds: float = typer.Option(
        0.0,
        help="Grow --last-units to what the SKU sells in at least this many seconds at its "
        "current rate.",
    ),
    measured_guard: bool = typer.Option(
        True,
        "--measured-guard/--fixed-guard",
        help="Grow the guard to what sells in the measured sync gap (see `stock show`), if longer.",
    ),  # fmt: skip
    guard_max: int | None = typer.Option(
        None, help="The guard never grows past this many units (it stays at least --last-units)."
    ),
    locations: str = typer.Option(
        "", help="Comma-separated locations that feed the channel (default: all)."
    ),
) -> None:
    """Add a sales channel and its listing rules."""
    with errors_to_exit():
        try:
            policy = ChannelPolicy(
                buffer=buffer, max_listed=max_listed, share_pct=share, zero_below=zero_below,
                last_units=last_units, last_seconds=last_seconds, measured_guard=measured_guard,
                guard_max=guard_max,
            )  # fmt: skip
        except ValueError as exc:
            raise InvalidRequestError(str(exc)) from None
    feeds = tuple(n.strip() for n in locations.split(",") if n.strip())
    call(
        add_channel,
        ChannelInfo(name=name, kind=kind, priority=priority, policy=policy, locations=feeds),
    )
    console.print(f"added channel {name}")


@channel_app.command("list")
def channel_list(as_json: bool = JsonOpt) -> None:
    """List channels with their rules."""
    rows = [c.to_dict() for c in call(list_channels)]
    if as_json:
        print_json(rows)
        return
    cols = [
        "name",
        "kind",
        "priority",
        "buffer",
        "max_listed",
        "share_pct",
        "zero_below",
        "last_units",
        "last_seconds",
        "measured_guard",
        "guard_max",
        "locations",
    ]
    table(
        "Channels", cols, [[r[c] if c != "locations" else _join(r[c]) for c in cols] for r in rows]
    )


IMPORT_HELP = (
    "Import a catalog CSV; a bad row aborts the whole file."
    "\n\nA file imported again adds what is new (SKUs, stock rows, listings, bundles) and keeps "
    "the counts the ledger holds: rows whose count differs are shown, and set to the file's only "
    "with --set-stock. A location the ledger does not know is an error unless --create-locations "
    "is given. A listing given another id is checked on its channel before its next push."
)


@catalog_app.command("import", help=IMPORT_HELP)
def catalog_import(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True),
    set_stock: bool = typer.Option(
        False, "--set-stock", help="Set the counts the ledger already holds to the file's."
    ),
    create_locations: bool = typer.Option(
        False, "--create-locations", help="Create unknown locations as warehouses."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Import a catalog CSV (see ``IMPORT_HELP``)."""
    text = read_utf8(file)
    summary: CatalogSummary = call(
        import_catalog, text, set_stock=set_stock, create_locations=create_locations
    )
    if as_json:
        print_json(asdict(summary))
        return
    differ = summary.counts_set or summary.counts_kept
    if differ:
        table(
            "Counts that differ from the ledger",
            ["sku", "location", "ledger_on_hand", "file_on_hand"],
            [[d.sku, d.location, d.ledger_on_hand, d.file_on_hand] for d in differ],
        )
    if summary.listing_ids_changed:
        table(
            "Listing ids changed",
            ["channel", "sku", "old_id", "new_id"],
            [[c.channel, c.sku, c.old_id, c.new_id] for c in summary.listing_ids_changed],
        )
    console.print(_imported(summary))
    if summary.counts_kept:
        n = len(summary.counts_kept)
        console.print(
            f"{_count(n, 'count')} {'differs' if n == 1 else 'differ'} from the ledger and "
            f"{'was' if n == 1 else 'were'} kept; --set-stock sets {'it' if n == 1 else 'them'}"
        )
    if summary.counts_set:
        console.print(f"set {_count(len(summary.counts_set), 'count')} to the file's")
    if summary.listing_ids_changed:
        console.print(
            f"{_count(len(summary.listing_ids_changed), 'listing id')} changed: checked on the "
            "channel before their next push"
        )


def _imported(summary: CatalogSummary) -> str:
    line = (
        f"imported {summary.skus} SKUs ({summary.bundles} bundles), {summary.stock_rows} stock "
        f"rows, {summary.listings} listings; added {summary.skus_added} SKUs, "
        f"{summary.stock_rows_added} stock rows, {summary.listings_added} listings"
    )
    if summary.locations_created:
        line += f"; new locations: {', '.join(summary.locations_created)}"
    return line


def read_utf8(path: Path) -> str:
    """The text of a file the command reads; one line naming the first byte that is not UTF-8
    (and exit code 2) if it is not."""
    with errors_to_exit():
        return NotUtf8Error.decode(path.read_bytes(), str(path))


@catalog_app.command("export")
def catalog_export(file: Path) -> None:
    """Write the catalog in the import format."""
    file.write_text(call(export_catalog), encoding="utf-8")
    console.print(f"wrote {file}")


def vars_of(obj: object) -> dict[str, object]:
    return {name: getattr(obj, name) for name in obj.__slots__}  # type: ignore[attr-defined]


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _join(value: object) -> str:
    return ", ".join(value) if isinstance(value, list) else str(value)
