"""``stocksync serve``: the webhook receiver under uvicorn."""

from __future__ import annotations

import typer


def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="TCP port to listen on."),
    workers: int = typer.Option(
        1, min=1, help="Receiver processes sharing the port (each with its own ledger pool)."
    ),
) -> None:
    """Receive channel webhooks at POST /webhooks/{kind}/{channel} (OpenAPI at /docs).

    Each channel's secret comes from STOCKSYNC_<CHANNEL>_WEBHOOK_SECRET; the ledger from
    STOCKSYNC_DATABASE_URL. Several workers are safe: every webhook is one ledger transaction,
    and copies of one event racing in two processes are settled by the inbox's unique key.
    """
    import uvicorn

    uvicorn.run(
        "stocksync.receiver.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
    )
