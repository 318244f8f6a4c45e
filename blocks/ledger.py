"""Where the ledger lives, as a Prefect block (the URL may carry a password)."""

from __future__ import annotations

from typing import ClassVar

from prefect.blocks.core import Block
from pydantic import Field, SecretStr

from stocksync.ledger.db import make_engine
from stocksync.ledger.service import Ledger


class LedgerDatabase(Block):
    """The stocksync ledger database that flows read and write."""

    _block_type_name: ClassVar[str] = "Stocksync Ledger Database"
    _block_type_slug: ClassVar[str] = "stocksync-ledger-database"
    _description: ClassVar[str] = (
        "SQLAlchemy URL of the stocksync ledger (SQLite file or PostgreSQL)."
    )

    url: SecretStr = Field(
        default=SecretStr("sqlite:///stocksync.db"),
        description="e.g. postgresql+psycopg://stocksync:…@db.internal/stocksync",
    )
    pool_size: int = Field(default=10, description="Connections kept per process (PostgreSQL).")

    def get_ledger(self) -> Ledger:
        """A ledger on this database; the caller disposes ``ledger.engine`` when done."""
        return Ledger(make_engine(self.url.get_secret_value(), pool_size=self.pool_size))
