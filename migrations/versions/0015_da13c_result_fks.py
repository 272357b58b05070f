"""Day-ahead: the four big result tables without foreign keys (issue 13, da13c).

`day_ahead_prices`, `day_ahead_flows`, `day_ahead_positions` and `storage_schedules` lose their
foreign keys (run, interval, node, line, metering point, storage order). On PostgreSQL each was
an RI trigger and an index lookup per inserted row: a 5,000-point day inserts ~310,000 result
rows, and its positions' three keys alone cost ~4 s of server time. The ids come from one
writer (`market.clearing.day_ahead._store`), in the transaction that inserts their run, from
rows that are never deleted (see `market.clearing.day_ahead_models`). `day_ahead_grid` (one
row per node and interval) keeps its keys.

Revision ID: 0015_da13c_result_fks
Revises: 0014_da13b_orders_hot_update
Create Date: 2026-11-30 20:40:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0015_da13c_result_fks"
down_revision: str | None = "0014_da13b_orders_hot_update"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: table → [(column, referred table, on delete)]
KEYS: dict[str, list[tuple[str, str, str | None]]] = {
    "day_ahead_prices": [
        ("interval_id", "intervals", None),
        ("node_id", "nodes", None),
        ("run_id", "day_ahead_runs", "CASCADE"),
    ],
    "day_ahead_flows": [
        ("interval_id", "intervals", None),
        ("line_id", "lines", None),
        ("run_id", "day_ahead_runs", "CASCADE"),
    ],
    "day_ahead_positions": [
        ("interval_id", "intervals", None),
        ("metering_point_id", "metering_points", None),
        ("run_id", "day_ahead_runs", "CASCADE"),
    ],
    "storage_schedules": [
        ("interval_id", "intervals", None),
        ("run_id", "day_ahead_runs", "CASCADE"),
        ("storage_order_id", "storage_orders", None),
    ],
}


def _name(table: str, column: str, referred: str) -> str:
    return f"fk_{table}_{column}_{referred}"


def upgrade() -> None:
    for table, keys in KEYS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column, referred, _ in keys:
                batch_op.drop_constraint(_name(table, column, referred), type_="foreignkey")


def downgrade() -> None:
    for table, keys in KEYS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column, referred, ondelete in keys:
                batch_op.create_foreign_key(
                    _name(table, column, referred), referred, [column], ["id"],
                    ondelete=ondelete,
                )  # fmt: skip
