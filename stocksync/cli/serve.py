"""``stocksync serve``: the webhook receiver under uvicorn."""

from __future__ import annotations

import typer


def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="TCP port to listen on."),
) -> None:
    """Receive channel webhooks at POST /webhooks/{kind}/{channel} (OpenAPI at /docs).

    Each channel's secret comes from STOCKSYNC_<CHANNEL>_WEBHOOK_SECRET; the ledger from
    STOCKSYNC_DATABASE_URL.
    """
    import uvicorn

    from stocksync.receiver.app import create_app

    uvicorn.run(create_app(), host=host, port=port, proxy_headers=True)
