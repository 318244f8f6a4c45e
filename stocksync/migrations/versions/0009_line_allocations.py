"""line_allocations: where each order line's units are, filled from the journal

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 09:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# One row per (order, line, SKU, location) an order commit took units from: committed is what
# is still held there, shipped what shipped from there. Returned units count against the
# allocations they shipped from, in location order, however many went back on hand where
# (stocksync.domain.orders.restock_lines); the journal records only where they went.
_FILL = """
WITH alloc AS (
    SELECT order_id, line_no, sku_id, location_id,
           SUM(delta_committed) AS committed,
           -SUM(CASE WHEN reason = 'shipment' THEN delta_on_hand ELSE 0 END) AS shipped
    FROM movements
    WHERE order_id IS NOT NULL
    GROUP BY order_id, line_no, sku_id, location_id
    HAVING SUM(CASE WHEN reason = 'order_commit' THEN 1 ELSE 0 END) > 0
),
back AS (
    SELECT order_id, line_no, sku_id, SUM(delta_on_hand) AS units
    FROM movements
    WHERE reason = 'return_restock'
    GROUP BY order_id, line_no, sku_id
),
walk AS (
    SELECT a.order_id, a.line_no, a.sku_id, a.location_id, a.committed, a.shipped,
           COALESCE(b.units, 0) - (SUM(a.shipped) OVER (
               PARTITION BY a.order_id, a.line_no, a.sku_id ORDER BY a.location_id
           ) - a.shipped) AS left_over
    FROM alloc a
    LEFT JOIN back b
      ON b.order_id = a.order_id AND b.line_no = a.line_no AND b.sku_id = a.sku_id
)
INSERT INTO line_allocations (order_id, line_no, sku_id, location_id, committed, shipped, returned)
SELECT order_id, line_no, sku_id, location_id, committed, shipped,
       CASE WHEN left_over <= 0 THEN 0 WHEN left_over >= shipped THEN shipped ELSE left_over END
FROM walk
"""


def upgrade() -> None:
    op.create_table(
        "line_allocations",
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("sku_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("committed", sa.Integer(), nullable=False),
        sa.Column("shipped", sa.Integer(), nullable=False),
        sa.Column("returned", sa.Integer(), nullable=False),
        sa.CheckConstraint("committed >= 0", name="ck_line_allocations_committed_nonnegative"),
        sa.CheckConstraint(
            "returned >= 0 AND returned <= shipped", name="ck_line_allocations_returned_shipped"
        ),
        sa.ForeignKeyConstraint(
            ["order_id", "line_no"], ["order_lines.order_id", "order_lines.line_no"]
        ),
        sa.ForeignKeyConstraint(["sku_id"], ["skus.id"]),
        sa.ForeignKeyConstraint(["location_id"], ["locations.id"]),
        sa.PrimaryKeyConstraint("order_id", "line_no", "sku_id", "location_id"),
    )
    op.execute(_FILL)


def downgrade() -> None:
    op.drop_table("line_allocations")
