from __future__ import annotations

import anyio
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text

from market.db import alembic_config, create_engine, downgrade, migrate
from market.models import Base, load_all

load_all()

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
