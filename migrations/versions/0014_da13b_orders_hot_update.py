"""Orders: status no longer indexed, the redundant member_id index dropped, and on PostgreSQL
half of each page kept free, so that clearing a day (an update of every order of it) is a HOT
update that writes no index entry (issue 13, da13b).

Revision ID: 0014_da13b_orders_hot_update
Revises: 0013_sim14_simulation_runs
Create Date: 2026-11-30 18:55:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0014_da13b_orders_hot_update"
down_revision: str | None = "0013_sim14_simulation_runs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FILLFACTOR = 50  # market.trading.models.ORDERS_FILLFACTOR at this revision


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_interval_status")
        batch_op.drop_index("ix_orders_member_id")
        batch_op.create_index("ix_orders_interval_id", ["interval_id"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        # Applies to pages written from now on (existing pages fill as rows are updated).
        op.execute(f"ALTER TABLE orders SET (fillfactor = {FILLFACTOR})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE orders RESET (fillfactor)")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_interval_id")
        batch_op.create_index("ix_orders_member_id", ["member_id"], unique=False)
        batch_op.create_index("ix_orders_interval_status", ["interval_id", "status"], unique=False)
