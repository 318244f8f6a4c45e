"""channels.last_seconds: a last-units guard that grows with the sales rate; movements by SKU and time

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 09:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("channels") as batch:
        batch.add_column(sa.Column("last_seconds", sa.Float(), nullable=False, server_default="0"))
    op.create_index("ix_movements_sku_created_at", "movements", ["sku_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_movements_sku_created_at", table_name="movements")
    with op.batch_alter_table("channels") as batch:
        batch.drop_column("last_seconds")
