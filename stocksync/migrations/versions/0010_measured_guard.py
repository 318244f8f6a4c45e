"""channels.measured_guard and guard_max: a guard sized from the measured sync gap; push_timings

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 09:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("channels") as batch:
        batch.add_column(
            # a constant default, so SQLite adds the column in place rather than copying the
            # table every listing and order refers to
            sa.Column("measured_guard", sa.Boolean(), nullable=False, server_default="1")
        )
        batch.add_column(sa.Column("guard_max", sa.Integer(), nullable=True))
    op.create_table(
        "push_timings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("channel_id", sa.Integer(), sa.ForeignKey("channels.id"), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("read_back", sa.Boolean(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_push_timings_channel_at", "push_timings", ["channel_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_push_timings_channel_at", table_name="push_timings")
    op.drop_table("push_timings")
    # ALTER TABLE ... DROP COLUMN in place (SQLite 3.35+): a batch copy of channels would drop
    # the table every listing and order refers to
    op.execute("ALTER TABLE channels DROP COLUMN guard_max")
    op.execute("ALTER TABLE channels DROP COLUMN measured_guard")
