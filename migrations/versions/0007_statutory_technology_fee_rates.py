"""Statutory figures (issue 14): a generation technology per metering point and the
cluster's fee rates with validity dates.

Existing points get a technology from what they have: PV → pv, storage only → storage, other
generation → gas_chp (not renewable until the coordinator says what it is), else none.

Revision ID: 0007_statutory
Revises: 0006_problem_gz
Create Date: 2026-11-30 12:30:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_statutory"
down_revision: str | None = "0006_problem_gz"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TECHNOLOGIES = (
    "pv", "wind", "hydro", "biogas", "landfill_gas", "biomass", "gas_chp", "storage", "none",
)  # fmt: skip
FEES = ("oze", "cogeneration", "certificate", "quality", "distribution_variable")


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    with op.batch_alter_table("metering_points") as batch:
        batch.add_column(
            sa.Column("technology", sa.String(length=16), server_default="none", nullable=False)
        )
        batch.create_check_constraint(
            op.f("ck_metering_points_technology"), _in("technology", TECHNOLOGIES)
        )
    op.execute(
        "UPDATE metering_points SET technology = CASE"
        " WHEN pv_kwp > 0 THEN 'pv'"
        " WHEN other_generation_kw > 0 THEN 'gas_chp'"
        " WHEN storage_kwh > 0 THEN 'storage'"
        " ELSE 'none' END"
    )
    op.create_table(
        "fee_rates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fee", sa.String(length=24), nullable=False),
        sa.Column("tariff_group", sa.String(length=8), nullable=True),
        sa.Column("rate_pln_per_kwh", sa.Numeric(12, 6), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(_in("fee", FEES), name=op.f("ck_fee_rates_fee")),
        sa.CheckConstraint("rate_pln_per_kwh >= 0", name=op.f("ck_fee_rates_rate")),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to >= valid_from", name=op.f("ck_fee_rates_validity")
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"], ["members.id"], name=op.f("fk_fee_rates_updated_by_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fee_rates")),
    )
    with op.batch_alter_table("fee_rates") as batch:
        batch.create_index(batch.f("ix_fee_rates_fee"), ["fee"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("fee_rates") as batch:
        batch.drop_index(batch.f("ix_fee_rates_fee"))
    op.drop_table("fee_rates")
    with op.batch_alter_table("metering_points") as batch:
        batch.drop_constraint(op.f("ck_metering_points_technology"), type_="check")
        batch.drop_column("technology")
