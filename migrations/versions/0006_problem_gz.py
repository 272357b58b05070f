"""Store each clearing run's problem JSON zlib-compressed (problem_json -> problem_gz).

Revision ID: 0006_problem_gz
Revises: c5_meter_data
Create Date: 2026-11-26 07:50:00+00:00
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_problem_gz"
down_revision: str | None = "c5_meter_data"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

runs = sa.table(
    "clearing_runs",
    sa.column("id", sa.Integer),
    sa.column("problem_json", sa.Text),
    sa.column("problem_gz", sa.LargeBinary),
)


def upgrade() -> None:
    with op.batch_alter_table("clearing_runs") as batch:
        batch.add_column(sa.Column("problem_gz", sa.LargeBinary(), nullable=True))
    bind = op.get_bind()
    for run_id, text in bind.execute(sa.select(runs.c.id, runs.c.problem_json)).all():
        bind.execute(
            runs.update()
            .where(runs.c.id == run_id)
            .values(problem_gz=zlib.compress(text.encode(), 6))
        )
    with op.batch_alter_table("clearing_runs") as batch:
        batch.alter_column("problem_gz", existing_type=sa.LargeBinary(), nullable=False)
        batch.drop_column("problem_json")


def downgrade() -> None:
    with op.batch_alter_table("clearing_runs") as batch:
        batch.add_column(sa.Column("problem_json", sa.Text(), nullable=True))
    bind = op.get_bind()
    for run_id, blob in bind.execute(sa.select(runs.c.id, runs.c.problem_gz)).all():
        bind.execute(
            runs.update()
            .where(runs.c.id == run_id)
            .values(problem_json=zlib.decompress(blob).decode())
        )
    with op.batch_alter_table("clearing_runs") as batch:
        batch.alter_column("problem_json", existing_type=sa.Text(), nullable=False)
        batch.drop_column("problem_gz")
