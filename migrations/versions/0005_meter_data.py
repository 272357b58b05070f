"""Meter data: imported files and readings on the cluster's interval grid (issue 5).

Revision ID: c5_meter_data
Revises: 0001
Create Date: 2026-11-26 07:20:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'c5_meter_data'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('meter_imports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('resolution_minutes', sa.Integer(), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('skipped_rows', sa.Integer(), nullable=False),
    sa.Column('stored_readings', sa.Integer(), nullable=False),
    sa.Column('imported_by_id', sa.Integer(), nullable=True),
    sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['imported_by_id'], ['members.id'], name=op.f('fk_meter_imports_imported_by_id_members')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meter_imports'))
    )
    op.create_table('meter_readings',
    sa.Column('start_utc', sa.DateTime(timezone=True), nullable=False),
    sa.Column('metering_point_id', sa.Integer(), nullable=False),
    sa.Column('import_kwh', sa.Numeric(14, 3), nullable=False),
    sa.Column('export_kwh', sa.Numeric(14, 3), nullable=False),
    sa.Column('quality', sa.String(length=16), nullable=False),
    sa.Column('source_minutes', sa.Integer(), nullable=False),
    sa.Column('import_id', sa.Integer(), nullable=False),
    sa.CheckConstraint('import_kwh >= 0 AND export_kwh >= 0', name=op.f('ck_meter_readings_nonnegative')),
    sa.CheckConstraint("quality IN ('measured', 'estimated', 'substituted')", name=op.f('ck_meter_readings_quality')),
    sa.ForeignKeyConstraint(['import_id'], ['meter_imports.id'], name=op.f('fk_meter_readings_import_id_meter_imports')),
    sa.ForeignKeyConstraint(['metering_point_id'], ['metering_points.id'], name=op.f('fk_meter_readings_metering_point_id_metering_points')),
    sa.PrimaryKeyConstraint('start_utc', 'metering_point_id', name=op.f('pk_meter_readings'))
    )
    with op.batch_alter_table('meter_readings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_meter_readings_import_id'), ['import_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_meter_readings_metering_point_id'), ['metering_point_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('meter_readings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_meter_readings_metering_point_id'))
        batch_op.drop_index(batch_op.f('ix_meter_readings_import_id'))
    op.drop_table('meter_readings')
    op.drop_table('meter_imports')
