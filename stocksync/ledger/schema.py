"""The ledger's schema as one SQLAlchemy ``MetaData``, for the migrations to compare against.

Importing this module defines every table on it; nothing outside the ledger needs the tables.
"""

from __future__ import annotations

from stocksync.ledger.tables import metadata

__all__ = ["metadata"]
