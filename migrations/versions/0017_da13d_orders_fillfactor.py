"""Orders: on PostgreSQL 60 % of each page kept free (was 50 %), so that every order's update
when its day is cleared is HOT: a cleared row is longer than an open one, and at 50 % about
one update in seven found no room on its page and wrote every index (issue 13, da13d).

Revision ID: 0017_da13d_orders_fillfactor
Revises: 0016_lease13_simulation_lease
Create Date: 2026-11-30 23:50:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0017_da13d_orders_fillfactor"
down_revision: str | None = "0016_lease13_simulation_lease"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FILLFACTOR = 40  # market.trading.models.ORDERS_FILLFACTOR at this revision
PREVIOUS = 50  # 0014_da13b_orders_hot_update


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # Applies to pages written from now on (a day's orders are new rows on new pages).
        op.execute(f"ALTER TABLE orders SET (fillfactor = {FILLFACTOR})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE orders SET (fillfactor = {PREVIOUS})")
