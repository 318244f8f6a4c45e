"""Register stocksync's block types with the Prefect server (``python -m deployments.register_blocks``).

With ``--from-env`` it also saves a ``ledger`` block document from STOCKSYNC_DATABASE_URL.
"""

from __future__ import annotations

import argparse

from pydantic import SecretStr

from blocks.channels import (
    AmazonSPAPICredentials,
    CustomChannel,
    ShopifyCredentials,
    WooCommerceCredentials,
)
from blocks.ledger import LedgerDatabase
from blocks.slack import SlackAlerts

BLOCK_TYPES = [
    LedgerDatabase,
    ShopifyCredentials,
    AmazonSPAPICredentials,
    WooCommerceCredentials,
    CustomChannel,
    SlackAlerts,
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--from-env", action="store_true", help="also save the 'ledger' block document"
    )
    args = parser.parse_args()
    for block in BLOCK_TYPES:
        block.register_type_and_schema()
    if args.from_env:
        from stocksync.settings import get_settings

        LedgerDatabase(url=SecretStr(get_settings().database_url)).save("ledger", overwrite=True)


if __name__ == "__main__":
    main()
