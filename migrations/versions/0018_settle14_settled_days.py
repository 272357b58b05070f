"""Settled days: each member's statement and statutory figures per local day, stored on
first read with what they were computed from, so that a statement reads its own rows instead
of settling the whole cluster's month (issue 14, settle14; `market.settlement.stored`).

Revision ID: 0018_settle14_settled_days
Revises: 0017_da13d_orders_fillfactor
Create Date: 2026-12-01 06:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_settle14_settled_days"
down_revision: str | None = "0017_da13d_orders_fillfactor"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "settled_days",
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("local_day", sa.Date(), nullable=False),
        sa.Column("stamp", sa.String(length=64), nullable=False),
        sa.Column("meter_mark", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kind", "local_day", name=op.f("pk_settled_days")),
    )
    op.create_table(
        "settled_member_days",
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("local_day", sa.Date(), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint(
            "kind", "member_id", "local_day", name=op.f("pk_settled_member_days")
        ),
    )


def downgrade() -> None:
    op.drop_table("settled_member_days")
    op.drop_table("settled_days")
