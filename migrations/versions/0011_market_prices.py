"""Market prices RCE (issue 14): the net-billing price of each 15- or 60-minute period, for
the members' counterfactual without the cluster (`klaster import-prices`).

Revision ID: 0011_market_prices
Revises: 0009_halt_market
Create Date: 2026-11-30 14:30:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_market_prices"
down_revision: str | None = "0009_halt_market"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "market_prices",
        sa.Column("start_utc", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolution_minutes", sa.Integer(), nullable=False),
        sa.Column("price_pln_per_mwh", sa.Numeric(10, 2), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "resolution_minutes IN (15, 60)", name=op.f("ck_market_prices_resolution")
        ),
        sa.PrimaryKeyConstraint("start_utc", "resolution_minutes", name=op.f("pk_market_prices")),
    )


def downgrade() -> None:
    op.drop_table("market_prices")
