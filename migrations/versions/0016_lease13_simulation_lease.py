"""Simulation runs get a lease (`claim_until`, renewed by the running process) and the
status `cancelled`; the report's storage effect is kept per day-ahead run (lease13).

Revision ID: 0016_lease13_simulation_lease
Revises: 0015_da13c_result_fks
Create Date: 2026-11-30 20:40:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_lease13_simulation_lease"
down_revision: str | None = "0015_da13c_result_fks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("simulation_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claim_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_constraint(op.f("ck_simulation_runs_status"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_simulation_runs_status"),
            "status IN ('queued', 'running', 'done', 'failed', 'cancelled')",
        )
    op.create_table(
        "storage_effects",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["day_ahead_runs.id"],
            name=op.f("fk_storage_effects_run_id_day_ahead_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_storage_effects")),
    )


def downgrade() -> None:
    op.drop_table("storage_effects")
    op.execute("UPDATE simulation_runs SET status = 'failed' WHERE status = 'cancelled'")
    with op.batch_alter_table("simulation_runs", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_simulation_runs_status"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_simulation_runs_status"), "status IN ('queued', 'running', 'done', 'failed')"
        )
        batch_op.drop_column("claim_until")
