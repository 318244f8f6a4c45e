"""listings.state, channel_sku, refusals: ids checked before the first push, refusals bounded

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 09:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # every listing already in the ledger is checked before its next push
    with op.batch_alter_table("listings") as batch:
        batch.add_column(
            sa.Column("state", sa.String(20), nullable=False, server_default="unverified")
        )
        batch.add_column(sa.Column("channel_sku", sa.String(255), nullable=True))
        batch.add_column(sa.Column("refusals", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("listings") as batch:
        batch.drop_column("refusals")
        batch.drop_column("channel_sku")
        batch.drop_column("state")
