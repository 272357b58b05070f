"""Initial schema: cluster, network, members, metering points, intervals, orders, standing
orders, clearing runs and results, and the append-only audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-26 07:03:51.315750+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor_name', sa.String(length=200), nullable=False),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('entity', sa.String(length=40), nullable=False),
    sa.Column('entity_id', sa.String(length=64), nullable=True),
    sa.Column('interval_id', sa.Integer(), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_at'), ['at'], unique=False)
        batch_op.create_index('ix_audit_log_entity', ['entity', 'entity_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_interval_id'), ['interval_id'], unique=False)

    op.create_table('clusters',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('registry_number', sa.String(length=60), nullable=True),
    sa.Column('coordinator_name', sa.String(length=200), nullable=False),
    sa.Column('timezone', sa.String(length=60), nullable=False),
    sa.Column('interval_minutes', sa.Integer(), nullable=False),
    sa.Column('gate_closure_minutes', sa.Integer(), nullable=False),
    sa.Column('horizon_intervals', sa.Integer(), nullable=False),
    sa.Column('price_floor', sa.Numeric(10, 4), nullable=False),
    sa.Column('price_cap', sa.Numeric(10, 4), nullable=False),
    sa.Column('profile_seed', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('gate_closure_minutes >= 0', name=op.f('ck_clusters_gate_closure')),
    sa.CheckConstraint('interval_minutes IN (15, 60)', name=op.f('ck_clusters_interval_minutes')),
    sa.CheckConstraint('price_floor <= price_cap', name=op.f('ck_clusters_price_band')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clusters'))
    )
    op.create_table('intervals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('start_utc', sa.DateTime(timezone=True), nullable=False),
    sa.Column('minutes', sa.Integer(), nullable=False),
    sa.Column('gate_closure_utc', sa.DateTime(timezone=True), nullable=False),
    sa.Column('local_day', sa.Date(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('claimed_by', sa.String(length=80), nullable=True),
    sa.Column('claim_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cleared_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('open', 'closed', 'clearing', 'cleared', 'failed')", name=op.f('ck_intervals_status')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_intervals')),
    sa.UniqueConstraint('start_utc', name=op.f('uq_intervals_start_utc'))
    )
    with op.batch_alter_table('intervals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_intervals_local_day'), ['local_day'], unique=False)
        batch_op.create_index('ix_intervals_status_start', ['status', 'start_utc'], unique=False)

    op.create_table('members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('login', sa.String(length=80), nullable=True),
    sa.Column('password_hash', sa.String(length=200), nullable=True),
    sa.Column('email', sa.String(length=200), nullable=True),
    sa.Column('show_name', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('household', 'business', 'municipal', 'utility', 'generator', 'storage', 'operator')", name=op.f('ck_members_kind')),
    sa.CheckConstraint("role IN ('member', 'coordinator', 'distributor')", name=op.f('ck_members_role')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_members')),
    sa.UniqueConstraint('login', name=op.f('uq_members_login'))
    )
    op.create_table('nodes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('map_x', sa.Double(), nullable=True),
    sa.Column('map_y', sa.Double(), nullable=True),
    sa.CheckConstraint("kind IN ('gpz', 'feeder', 'station', 'lv')", name=op.f('ck_nodes_kind')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_nodes')),
    sa.UniqueConstraint('code', name=op.f('uq_nodes_code'))
    )
    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_api_tokens_member_id_members')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_tokens_member_id'), ['member_id'], unique=False)

    op.create_table('clearing_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('interval_id', sa.Integer(), nullable=False),
    sa.Column('input_hash', sa.String(length=64), nullable=False),
    sa.Column('result_hash', sa.String(length=64), nullable=False),
    sa.Column('problem_json', sa.Text(), nullable=False),
    sa.Column('solver', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('order_count', sa.Integer(), nullable=False),
    sa.Column('welfare_pln', sa.Numeric(16, 2), nullable=False),
    sa.Column('congestion_rent_pln', sa.Numeric(16, 2), nullable=False),
    sa.Column('matched_kwh', sa.Numeric(14, 3), nullable=False),
    sa.Column('local_kwh', sa.Numeric(14, 3), nullable=False),
    sa.Column('import_kwh', sa.Numeric(14, 3), nullable=False),
    sa.Column('export_kwh', sa.Numeric(14, 3), nullable=False),
    sa.Column('timings', sa.JSON(), nullable=False),
    sa.Column('worker_id', sa.String(length=80), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['interval_id'], ['intervals.id'], name=op.f('fk_clearing_runs_interval_id_intervals')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clearing_runs')),
    sa.UniqueConstraint('interval_id', name=op.f('uq_clearing_runs_interval_id'))
    )
    op.create_table('grid_connections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('node_id', sa.Integer(), nullable=False),
    sa.Column('import_price', sa.Numeric(10, 4), nullable=False),
    sa.Column('export_price', sa.Numeric(10, 4), nullable=False),
    sa.Column('import_limit_kw', sa.Numeric(12, 3), nullable=False),
    sa.Column('export_limit_kw', sa.Numeric(12, 3), nullable=False),
    sa.CheckConstraint('export_price <= import_price', name=op.f('ck_grid_connections_prices')),
    sa.CheckConstraint('import_limit_kw >= 0 AND export_limit_kw >= 0', name=op.f('ck_grid_connections_limits')),
    sa.ForeignKeyConstraint(['node_id'], ['nodes.id'], name=op.f('fk_grid_connections_node_id_nodes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_grid_connections')),
    sa.UniqueConstraint('node_id', name=op.f('uq_grid_connections_node_id'))
    )
    op.create_table('lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('from_node_id', sa.Integer(), nullable=False),
    sa.Column('to_node_id', sa.Integer(), nullable=False),
    sa.Column('capacity_kw', sa.Numeric(12, 3), nullable=False),
    sa.Column('reactance', sa.Numeric(12, 6), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.CheckConstraint('capacity_kw >= 0', name=op.f('ck_lines_capacity')),
    sa.CheckConstraint('from_node_id <> to_node_id', name=op.f('ck_lines_not_loop')),
    sa.CheckConstraint('reactance IS NULL OR reactance > 0', name=op.f('ck_lines_reactance')),
    sa.ForeignKeyConstraint(['from_node_id'], ['nodes.id'], name=op.f('fk_lines_from_node_id_nodes')),
    sa.ForeignKeyConstraint(['to_node_id'], ['nodes.id'], name=op.f('fk_lines_to_node_id_nodes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lines')),
    sa.UniqueConstraint('code', name=op.f('uq_lines_code'))
    )
    with op.batch_alter_table('lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lines_from_node_id'), ['from_node_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_lines_to_node_id'), ['to_node_id'], unique=False)

    op.create_table('metering_points',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ppe_code', sa.String(length=18), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('node_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('contracted_power_kw', sa.Numeric(12, 3), nullable=False),
    sa.Column('pv_kwp', sa.Numeric(12, 3), nullable=False),
    sa.Column('other_generation_kw', sa.Numeric(12, 3), nullable=False),
    sa.Column('storage_kwh', sa.Numeric(14, 3), nullable=False),
    sa.Column('annual_use_kwh', sa.Numeric(14, 3), nullable=False),
    sa.Column('load_profile', sa.String(length=16), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("load_profile IN ('household', 'business', 'municipal', 'flat', 'street_lighting', 'none')", name=op.f('ck_metering_points_load_profile')),
    sa.CheckConstraint('contracted_power_kw > 0', name=op.f('ck_metering_points_contracted_power')),
    sa.CheckConstraint('pv_kwp >= 0 AND other_generation_kw >= 0 AND storage_kwh >= 0 AND annual_use_kwh >= 0', name=op.f('ck_metering_points_nonnegative')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_metering_points_member_id_members')),
    sa.ForeignKeyConstraint(['node_id'], ['nodes.id'], name=op.f('fk_metering_points_node_id_nodes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_metering_points')),
    sa.UniqueConstraint('ppe_code', name=op.f('uq_metering_points_ppe_code'))
    )
    with op.batch_alter_table('metering_points', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_metering_points_member_id'), ['member_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_metering_points_node_id'), ['node_id'], unique=False)

    op.create_table('grid_exchanges',
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('node_id', sa.Integer(), nullable=False),
    sa.Column('import_kwh', sa.Numeric(14, 3), nullable=False),
    sa.Column('export_kwh', sa.Numeric(14, 3), nullable=False),
    sa.Column('import_price', sa.Numeric(10, 4), nullable=False),
    sa.Column('export_price', sa.Numeric(10, 4), nullable=False),
    sa.Column('import_amount_pln', sa.Numeric(16, 2), nullable=False),
    sa.Column('export_amount_pln', sa.Numeric(16, 2), nullable=False),
    sa.ForeignKeyConstraint(['node_id'], ['nodes.id'], name=op.f('fk_grid_exchanges_node_id_nodes')),
    sa.ForeignKeyConstraint(['run_id'], ['clearing_runs.id'], name=op.f('fk_grid_exchanges_run_id_clearing_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id', 'node_id', name=op.f('pk_grid_exchanges'))
    )
    op.create_table('line_flows',
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('line_id', sa.Integer(), nullable=False),
    sa.Column('flow_kwh', sa.Numeric(14, 3), nullable=False),
    sa.Column('limit_kwh', sa.Numeric(14, 3), nullable=False),
    sa.Column('congested', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['line_id'], ['lines.id'], name=op.f('fk_line_flows_line_id_lines')),
    sa.ForeignKeyConstraint(['run_id'], ['clearing_runs.id'], name=op.f('fk_line_flows_run_id_clearing_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id', 'line_id', name=op.f('pk_line_flows'))
    )
    op.create_table('node_prices',
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('node_id', sa.Integer(), nullable=False),
    sa.Column('price', sa.Numeric(10, 4), nullable=False),
    sa.Column('price_low', sa.Numeric(10, 4), nullable=True),
    sa.Column('price_high', sa.Numeric(10, 4), nullable=True),
    sa.Column('bought_kwh', sa.Numeric(14, 3), nullable=False),
    sa.Column('sold_kwh', sa.Numeric(14, 3), nullable=False),
    sa.ForeignKeyConstraint(['node_id'], ['nodes.id'], name=op.f('fk_node_prices_node_id_nodes')),
    sa.ForeignKeyConstraint(['run_id'], ['clearing_runs.id'], name=op.f('fk_node_prices_run_id_clearing_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('run_id', 'node_id', name=op.f('pk_node_prices'))
    )
    op.create_table('standing_orders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('metering_point_id', sa.Integer(), nullable=False),
    sa.Column('side', sa.String(length=4), nullable=False),
    sa.Column('mode', sa.String(length=16), nullable=False),
    sa.Column('quantity_kwh', sa.Numeric(14, 3), nullable=True),
    sa.Column('price', sa.Numeric(10, 4), nullable=False),
    sa.Column('weekdays', sa.String(length=7), nullable=False),
    sa.Column('hour_from', sa.Integer(), nullable=False),
    sa.Column('hour_to', sa.Integer(), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=True),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.Column('paused', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("mode = 'forecast' OR quantity_kwh > 0", name=op.f('ck_standing_orders_quantity')),
    sa.CheckConstraint("mode IN ('fixed', 'forecast')", name=op.f('ck_standing_orders_mode')),
    sa.CheckConstraint("side IN ('buy', 'sell')", name=op.f('ck_standing_orders_side')),
    sa.CheckConstraint('hour_from >= 0 AND hour_to <= 24 AND hour_from < hour_to', name=op.f('ck_standing_orders_hours')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_standing_orders_member_id_members')),
    sa.ForeignKeyConstraint(['metering_point_id'], ['metering_points.id'], name=op.f('fk_standing_orders_metering_point_id_metering_points')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_standing_orders'))
    )
    with op.batch_alter_table('standing_orders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_standing_orders_member_id'), ['member_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_standing_orders_metering_point_id'), ['metering_point_id'], unique=False)

    op.create_table('orders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('metering_point_id', sa.Integer(), nullable=False),
    sa.Column('interval_id', sa.Integer(), nullable=False),
    sa.Column('side', sa.String(length=4), nullable=False),
    sa.Column('quantity_kwh', sa.Numeric(14, 3), nullable=False),
    sa.Column('price', sa.Numeric(10, 4), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('client_order_id', sa.String(length=64), nullable=True),
    sa.Column('standing_order_id', sa.Integer(), nullable=True),
    sa.Column('accepted_kwh', sa.Numeric(14, 3), nullable=True),
    sa.Column('clearing_price', sa.Numeric(10, 4), nullable=True),
    sa.Column('amount_pln', sa.Numeric(16, 2), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("side IN ('buy', 'sell')", name=op.f('ck_orders_side')),
    sa.CheckConstraint("status IN ('open', 'cancelled', 'filled', 'partly_filled', 'unfilled')", name=op.f('ck_orders_status')),
    sa.CheckConstraint('quantity_kwh > 0', name=op.f('ck_orders_quantity')),
    sa.ForeignKeyConstraint(['interval_id'], ['intervals.id'], name=op.f('fk_orders_interval_id_intervals')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_orders_member_id_members')),
    sa.ForeignKeyConstraint(['metering_point_id'], ['metering_points.id'], name=op.f('fk_orders_metering_point_id_metering_points')),
    sa.ForeignKeyConstraint(['standing_order_id'], ['standing_orders.id'], name=op.f('fk_orders_standing_order_id_standing_orders'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_orders')),
    sa.UniqueConstraint('member_id', 'client_order_id', name=op.f('uq_orders_member_id_client_order_id')),
    sa.UniqueConstraint('standing_order_id', 'interval_id', name=op.f('uq_orders_standing_order_id_interval_id'))
    )
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index('ix_orders_interval_status', ['interval_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_orders_member_id'), ['member_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_orders_metering_point_id'), ['metering_point_id'], unique=False)

    op.create_table('trades',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('seller_order_id', sa.Integer(), nullable=True),
    sa.Column('buyer_order_id', sa.Integer(), nullable=True),
    sa.Column('seller_node_id', sa.Integer(), nullable=False),
    sa.Column('buyer_node_id', sa.Integer(), nullable=False),
    sa.Column('quantity_kwh', sa.Numeric(14, 3), nullable=False),
    sa.Column('seller_price', sa.Numeric(10, 4), nullable=False),
    sa.Column('buyer_price', sa.Numeric(10, 4), nullable=False),
    sa.ForeignKeyConstraint(['buyer_node_id'], ['nodes.id'], name=op.f('fk_trades_buyer_node_id_nodes')),
    sa.ForeignKeyConstraint(['buyer_order_id'], ['orders.id'], name=op.f('fk_trades_buyer_order_id_orders')),
    sa.ForeignKeyConstraint(['run_id'], ['clearing_runs.id'], name=op.f('fk_trades_run_id_clearing_runs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['seller_node_id'], ['nodes.id'], name=op.f('fk_trades_seller_node_id_nodes')),
    sa.ForeignKeyConstraint(['seller_order_id'], ['orders.id'], name=op.f('fk_trades_seller_order_id_orders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trades'))
    )
    with op.batch_alter_table('trades', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_trades_buyer_order_id'), ['buyer_order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_trades_run_id'), ['run_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_trades_seller_order_id'), ['seller_order_id'], unique=False)


    _audit_append_only_up()

def downgrade() -> None:
    _audit_append_only_down()
    with op.batch_alter_table('trades', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_trades_seller_order_id'))
        batch_op.drop_index(batch_op.f('ix_trades_run_id'))
        batch_op.drop_index(batch_op.f('ix_trades_buyer_order_id'))

    op.drop_table('trades')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_orders_metering_point_id'))
        batch_op.drop_index(batch_op.f('ix_orders_member_id'))
        batch_op.drop_index('ix_orders_interval_status')

    op.drop_table('orders')
    with op.batch_alter_table('standing_orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_standing_orders_metering_point_id'))
        batch_op.drop_index(batch_op.f('ix_standing_orders_member_id'))

    op.drop_table('standing_orders')
    op.drop_table('node_prices')
    op.drop_table('line_flows')
    op.drop_table('grid_exchanges')
    with op.batch_alter_table('metering_points', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_metering_points_node_id'))
        batch_op.drop_index(batch_op.f('ix_metering_points_member_id'))

    op.drop_table('metering_points')
    with op.batch_alter_table('lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lines_to_node_id'))
        batch_op.drop_index(batch_op.f('ix_lines_from_node_id'))

    op.drop_table('lines')
    op.drop_table('grid_connections')
    op.drop_table('clearing_runs')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_tokens_member_id'))

    op.drop_table('api_tokens')
    op.drop_table('nodes')
    op.drop_table('members')
    with op.batch_alter_table('intervals', schema=None) as batch_op:
        batch_op.drop_index('ix_intervals_status_start')
        batch_op.drop_index(batch_op.f('ix_intervals_local_day'))

    op.drop_table('intervals')
    op.drop_table('clusters')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_interval_id'))
        batch_op.drop_index('ix_audit_log_entity')
        batch_op.drop_index(batch_op.f('ix_audit_log_at'))

    op.drop_table('audit_log')


def _audit_append_only_up() -> None:
    """The audit log is append-only: the database refuses UPDATE and DELETE on it."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION audit_log_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'audit_log is append-only';
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
                "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
            )


def _audit_append_only_down() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
