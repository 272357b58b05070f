"""The market halt: when the coordinator halted the market, and why.

Revision ID: 0009_halt_market
Revises: 0008_sec_auth_credentials
Create Date: 2026-11-30 13:10:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_halt_market"
down_revision: str | None = "0008_sec_auth_credentials"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("clusters") as batch:
        batch.add_column(sa.Column("halted_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("halt_reason", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("clusters") as batch:
        batch.drop_column("halt_reason")
        batch.drop_column("halted_at")
