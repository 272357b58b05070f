"""The cluster's grid-price source for the day-ahead problem: the grid connections' fixed
prices, or per interval from the imported market prices (RCE).

Revision ID: 0013_dafeat13_grid_prices
Revises: 0012_notifications
Create Date: 2026-11-30 17:50:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_dafeat13_grid_prices"
down_revision: str | None = "0012_notifications"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("clusters", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("grid_prices", sa.String(length=8), server_default="fixed", nullable=False)
        )
        batch_op.create_check_constraint("grid_prices", "grid_prices IN ('fixed', 'market')")


def downgrade() -> None:
    with op.batch_alter_table("clusters", schema=None) as batch_op:
        batch_op.drop_constraint("grid_prices", type_="check")
        batch_op.drop_column("grid_prices")
