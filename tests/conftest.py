"""Shared fixtures. The `db` fixture runs a test on SQLite and on the real PostgreSQL.

Schema only via Alembic, migrated once per session. Tests may commit freely:
- SQLite: every test gets a copy of the migrated template file;
- PostgreSQL: each session migrates its own database (`klaster_t_<time>_<random>_tpl`, so
  concurrent sessions on one server never meet) and empties every table after each test
  (`TRUNCATE … RESTART IDENTITY`: much cheaper than creating a database per test). Tests
  that need a database without schema get a new one, dropped afterwards. Everything a
  session creates is dropped at its end.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

DEFAULT_PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


def _asyncpg_dsn(url: str, database: str) -> str:
    u = make_url(url).set(drivername="postgresql", database=database)
    return u.render_as_string(hide_password=False)


async def _pg_admin(url: str, *statements: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(_asyncpg_dsn(url, "postgres"), timeout=5)
    try:
        for sql in statements:
            await conn.execute(sql)
    finally:
        await conn.close()


STALE_AFTER_S = 24 * 3600


async def _drop_stale(url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(_asyncpg_dsn(url, "postgres"), timeout=5)
    try:
        names = [
            r[0]
            for r in await conn.fetch(
                "SELECT datname FROM pg_database WHERE datname LIKE 'klaster\\_t\\_%'"
            )
        ]
        for name in names:
            stamp = name.split("_")[2]
            if stamp.isdigit() and time.time() - int(stamp) > STALE_AFTER_S:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@dataclass
class PgServer:
    url: str | None
    skip_reason: str = ""
    #: klaster_t_<unix time>_<random>: a session killed before its cleanup leaves databases
    #: that a later session drops once they are a day old.
    prefix: str = field(
        default_factory=lambda: f"klaster_t_{int(time.time())}_{uuid.uuid4().hex[:6]}"
    )
    template: str = ""
    created: list[str] = field(default_factory=list)

    def db_url(self, name: str) -> str:
        assert self.url
        return make_url(self.url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A migrated template database on the test PostgreSQL, or a skip reason."""
    url = os.environ.get("KLASTER_TEST_POSTGRES_URL") or DEFAULT_PG_URL
    server = PgServer(url)
    try:
        asyncio.run(_pg_admin(url, "SELECT 1"))
    except Exception as exc:
        server.url = None
        server.skip_reason = (
            f"PostgreSQL not reachable at {make_url(url).render_as_string()} ({exc!r}); "
            "set KLASTER_TEST_POSTGRES_URL to run the postgresql variants"
        )
        yield server
        return
    from market.db.engine import migrate

    asyncio.run(_drop_stale(url))
    server.template = f"{server.prefix}_tpl"
    asyncio.run(_pg_admin(url, f'CREATE DATABASE "{server.template}"'))
    server.created.append(server.template)
    try:
        migrate(server.db_url(server.template))
        yield server
    finally:
        for name in reversed(server.created):
            asyncio.run(_pg_admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from market.db.engine import migrate

    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    migrate(f"sqlite+aiosqlite:///{path}")
    return path


@dataclass
class TestDatabase:
    """A fresh, migrated database for one test."""

    __test__ = False
    backend: str
    url: str
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]

    def session(self) -> AsyncSession:
        return self.sessions()


async def _fresh_database(
    backend: str, pg: PgServer, sqlite_template: Path, tmp_path: Path, *, migrated: bool = True
) -> str:
    if backend == "sqlite":
        path = tmp_path / "klaster.db"
        if migrated:
            shutil.copyfile(sqlite_template, path)
        return f"sqlite+aiosqlite:///{path}"
    if pg.url is None:
        pytest.skip(pg.skip_reason)
    if migrated:
        return pg.db_url(pg.template)
    name = f"{pg.prefix}_{uuid.uuid4().hex[:8]}"
    await _pg_admin(pg.url, f'CREATE DATABASE "{name}"')
    pg.created.append(name)
    return pg.db_url(name)


async def _empty_tables(url: str) -> None:
    """Empty every table but alembic_version and restart the sequences; end other sessions
    that still hold locks."""
    import asyncpg

    conn = await asyncpg.connect(_asyncpg_dsn(url, str(make_url(url).database)), timeout=10)
    try:
        tables = [
            r[0]
            for r in await conn.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                " AND tablename <> 'alembic_version'"
            )
        ]
        # DELETE with triggers off (session_replication_role) is far cheaper than TRUNCATE
        # for a few rows, and passes the audit log's append-only trigger; sequences restart.
        quick = (
            "SET session_replication_role = replica;"
            + "".join(f'DELETE FROM "{t}";' for t in tables)
            + "SELECT setval(c.oid, 1, false) FROM pg_class c JOIN pg_namespace n"
            " ON n.oid = c.relnamespace WHERE c.relkind = 'S' AND n.nspname = 'public';"
            "SET session_replication_role = origin;"
        )
        await conn.execute("SET lock_timeout = '5s'")
        try:
            await conn.execute(quick)
        except asyncpg.exceptions.LockNotAvailableError:
            await conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            await conn.execute(quick)
    finally:
        await conn.close()


async def _release_database(backend: str, pg: PgServer, url: str) -> None:
    if backend != "postgresql" or not pg.url:
        return
    name = str(make_url(url).database)
    if name == pg.template:
        await _empty_tables(url)
        return
    await _pg_admin(pg.url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    pg.created.remove(name)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def db(
    request: pytest.FixtureRequest,
    pg_server: PgServer,
    sqlite_template: Path,
    tmp_path: Path,
) -> AsyncIterator[TestDatabase]:
    """A fresh database migrated to head, on SQLite and on PostgreSQL."""
    from market.db.engine import create_engine, session_factory

    backend: str = request.param
    url = await _fresh_database(backend, pg_server, sqlite_template, tmp_path)
    engine = create_engine(url)
    try:
        yield TestDatabase(backend, url, engine, session_factory(engine))
    finally:
        await engine.dispose()
        await _release_database(backend, pg_server, url)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def empty_db_url(
    request: pytest.FixtureRequest,
    pg_server: PgServer,
    sqlite_template: Path,
    tmp_path: Path,
) -> AsyncIterator[str]:
    """The URL of a fresh database with no schema at all (for migration tests)."""
    backend: str = request.param
    url = await _fresh_database(backend, pg_server, sqlite_template, tmp_path, migrated=False)
    try:
        yield url
    finally:
        await _release_database(backend, pg_server, url)


@pytest.fixture
async def pg_db(
    pg_server: PgServer, sqlite_template: Path, tmp_path: Path
) -> AsyncIterator[TestDatabase]:
    """A fresh migrated PostgreSQL database only (concurrency tests)."""
    from market.db.engine import create_engine, session_factory

    url = await _fresh_database("postgresql", pg_server, sqlite_template, tmp_path)
    engine = create_engine(url)
    try:
        yield TestDatabase("postgresql", url, engine, session_factory(engine))
    finally:
        await engine.dispose()
        await _release_database("postgresql", pg_server, url)
