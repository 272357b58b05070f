from __future__ import annotations

import anyio
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text

from market.db.base import Base
from market.db.engine import alembic_config, create_engine, downgrade, migrate
from market.schema import metadata

metadata()

pytestmark = pytest.mark.anyio


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names()) - {"alembic_version"}


async def test_upgrade_downgrade_upgrade_without_drift(empty_db_url: str) -> None:
    engine = create_engine(empty_db_url)
    try:
        await anyio.to_thread.run_sync(migrate, empty_db_url)
        async with engine.connect() as conn:
            assert await conn.run_sync(_tables) == set(Base.metadata.tables)
            assert await conn.run_sync(_diff) == []

        await anyio.to_thread.run_sync(downgrade, empty_db_url)
        async with engine.connect() as conn:
            assert await conn.run_sync(_tables) == set()

        await anyio.to_thread.run_sync(migrate, empty_db_url)
        async with engine.connect() as conn:
            assert await conn.run_sync(_diff) == []
            version = await conn.scalar(text("SELECT version_num FROM alembic_version"))
        heads = ScriptDirectory.from_config(alembic_config(empty_db_url)).get_heads()
        assert heads == [version], "exactly one head, and the database is at it"
    finally:
        await engine.dispose()


async def test_drift_check_detects_a_missing_column(empty_db_url: str) -> None:
    """The comparison is not vacuous: drop a column and it reports the difference."""
    engine = create_engine(empty_db_url)
    try:
        await anyio.to_thread.run_sync(migrate, empty_db_url)
        async with engine.begin() as conn:
            await conn.execute(text("ALTER TABLE nodes DROP COLUMN map_y"))
        async with engine.connect() as conn:
            diff = await conn.run_sync(_diff)
        assert any("map_y" in repr(d) for d in diff)
    finally:
        await engine.dispose()


async def test_problem_json_is_compressed_and_back(empty_db_url: str) -> None:
    import zlib

    engine = create_engine(empty_db_url)
    try:
        await anyio.to_thread.run_sync(migrate, empty_db_url, "c5_meter_data")
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO intervals (id, start_utc, minutes, gate_closure_utc, local_day,"
                    " number, status, created_at) VALUES (1, '2026-06-01 10:00:00+00',"
                    " 15, '2026-06-01 09:55:00+00', '2026-06-01', 49, 'cleared',"
                    " '2026-06-01 09:00:00+00')"
                )
            )
            columns = (
                "interval_id, input_hash, result_hash, problem_json, solver, status, reason,"
                " order_count, welfare_pln, congestion_rent_pln, matched_kwh, local_kwh,"
                " import_kwh, export_kwh, timings, worker_id, started_at, finished_at"
            )
            values = (
                "1, 'i', 'r', :problem, 'glop', 'optimal', '', 0, 0, 0, 0, 0, 0, 0, '{}', 'w',"
                " '2026-06-01 09:56:00+00', '2026-06-01 09:56:00+00'"
            )
            await conn.execute(
                text(f"INSERT INTO clearing_runs ({columns}) VALUES ({values})"),
                {"problem": '{"orders":[]}'},
            )
        await anyio.to_thread.run_sync(migrate, empty_db_url)
        async with engine.connect() as conn:
            blob = await conn.scalar(text("SELECT problem_gz FROM clearing_runs"))
        assert zlib.decompress(blob) == b'{"orders":[]}'
        await anyio.to_thread.run_sync(downgrade, empty_db_url, "c5_meter_data")
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT problem_json FROM clearing_runs")) == (
                '{"orders":[]}'
            )
    finally:
        await engine.dispose()


def _orders_storage(connection: Connection) -> tuple[list[list[str]], list[str] | None]:
    indexes = [list(ix["column_names"]) for ix in inspect(connection).get_indexes("orders")]
    options = None
    if connection.dialect.name == "postgresql":
        options = connection.execute(
            text("SELECT reloptions FROM pg_class WHERE relname = 'orders'")
        ).scalar()
    return indexes, options


async def test_clearing_an_orders_outcome_changes_no_indexed_column(empty_db_url: str) -> None:
    """A day's clearing updates ~500,000 orders' status, accepted kWh, price and amount: none
    of them indexed, and on PostgreSQL room on each page, so the update is HOT (da13b)."""
    engine = create_engine(empty_db_url)
    try:
        await anyio.to_thread.run_sync(migrate, empty_db_url)
        async with engine.connect() as conn:
            indexes, options = await conn.run_sync(_orders_storage)
        outcome = {"status", "accepted_kwh", "clearing_price", "amount_pln", "updated_at"}
        assert indexes and not [ix for ix in indexes if outcome & set(ix)]
        assert ["interval_id"] in indexes
        if empty_db_url.startswith("postgresql"):
            # 40, not 50: a cleared row is longer than an open one (da13d).
            assert options == ["fillfactor=40"]
            await anyio.to_thread.run_sync(downgrade, empty_db_url, "0016_lease13_simulation_lease")
            async with engine.connect() as conn:
                assert (await conn.run_sync(_orders_storage))[1] == ["fillfactor=50"]
            await anyio.to_thread.run_sync(migrate, empty_db_url)
            async with engine.connect() as conn:
                assert (await conn.run_sync(_orders_storage))[1] == ["fillfactor=40"]
    finally:
        await engine.dispose()


RESULT_TABLES = ("day_ahead_prices", "day_ahead_flows", "day_ahead_positions", "storage_schedules")


def _foreign_keys(connection: Connection) -> dict[str, list[str]]:
    found = inspect(connection)
    return {
        table: sorted(c for fk in found.get_foreign_keys(table) for c in fk["constrained_columns"])
        for table in (*RESULT_TABLES, "day_ahead_grid")
    }


async def test_day_ahead_result_tables_lose_their_foreign_keys_and_get_them_back(
    empty_db_url: str,
) -> None:
    """The big result tables are written without per-row key checks (da13c); a downgrade to
    0014 restores the keys, an upgrade drops them again; the grid table keeps its keys."""
    engine = create_engine(empty_db_url)
    try:
        await anyio.to_thread.run_sync(migrate, empty_db_url)
        async with engine.connect() as conn:
            keys = await conn.run_sync(_foreign_keys)
        assert {t: keys[t] for t in RESULT_TABLES} == {t: [] for t in RESULT_TABLES}
        assert keys["day_ahead_grid"] == ["interval_id", "node_id", "run_id"]
        await anyio.to_thread.run_sync(downgrade, empty_db_url, "0014_da13b_orders_hot_update")
        async with engine.connect() as conn:
            keys = await conn.run_sync(_foreign_keys)
        assert keys["day_ahead_positions"] == ["interval_id", "metering_point_id", "run_id"]
        assert keys["storage_schedules"] == ["interval_id", "run_id", "storage_order_id"]
        await anyio.to_thread.run_sync(migrate, empty_db_url)
        async with engine.connect() as conn:
            assert (await conn.run_sync(_foreign_keys))["day_ahead_positions"] == []
            assert await conn.run_sync(_diff) == []
    finally:
        await engine.dispose()
