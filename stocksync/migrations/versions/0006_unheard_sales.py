"""listings.unheard_qty: units a channel sold that the ledger has not heard of yet

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("listings") as batch:
        batch.add_column(sa.Column("unheard_qty", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("unheard_since", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("listings") as batch:
        batch.drop_column("unheard_since")
        batch.drop_column("unheard_qty")
