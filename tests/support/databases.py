"""Test databases on SQLite and on the real PostgreSQL (the fixtures are in tests/conftest.py).

Schema only via Alembic, migrated once per session. Tests may commit freely:
- SQLite: every test (or module, `module_db`) gets a copy of the migrated template file;
- PostgreSQL: each session migrates its own database (`klaster_t_<time>_<random>_tpl`, so
  concurrent sessions on one server never meet) and empties every table after each test
  (`DELETE` with triggers off and sequences restarted: much cheaper than creating a database
  per test). Tests that need a database without schema get a new one, dropped afterwards.
  Everything a session creates is dropped at its end.
"""

from __future__ import annotations

import shutil
import sqlite3
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

DEFAULT_PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


def asyncpg_dsn(url: str, database: str) -> str:
    u = make_url(url).set(drivername="postgresql", database=database)
    return u.render_as_string(hide_password=False)


async def pg_admin(url: str, *statements: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(asyncpg_dsn(url, "postgres"), timeout=5)
    try:
        for sql in statements:
            await conn.execute(sql)
    finally:
        await conn.close()


STALE_AFTER_S = 24 * 3600


async def drop_stale(url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(asyncpg_dsn(url, "postgres"), timeout=5)
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


async def fresh_database(
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
    await pg_admin(pg.url, f'CREATE DATABASE "{name}"')
    pg.created.append(name)
    return pg.db_url(name)


async def empty_tables(url: str) -> None:
    """Empty every table but alembic_version and restart the sequences; end other sessions
    that still hold locks."""
    import asyncpg

    conn = await asyncpg.connect(asyncpg_dsn(url, str(make_url(url).database)), timeout=10)
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


async def release_database(backend: str, pg: PgServer, url: str) -> None:
    if backend != "postgresql" or not pg.url:
        return
    name = str(make_url(url).database)
    if name == pg.template:
        await empty_tables(url)
        return
    await pg_admin(pg.url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    pg.created.remove(name)


def empty_sqlite(path: Path) -> None:
    """Empty every table but alembic_version and restart the AUTOINCREMENT counters. SQLite
    has no switch for triggers: the audit log's append-only triggers are dropped and made
    again in the same transaction."""
    con = sqlite3.connect(path, timeout=10, isolation_level=None)
    try:
        triggers = con.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"
        ).fetchall()
        tables = [
            r[0]
            for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
                " AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name <> 'alembic_version'"
            )
        ]
        has_sequence = con.execute(
            "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'"
        ).fetchone()
        con.execute("BEGIN IMMEDIATE")
        for name, _sql in triggers:
            con.execute(f'DROP TRIGGER "{name}"')
        for table in tables:
            con.execute(f'DELETE FROM "{table}"')
        if has_sequence:
            con.execute("DELETE FROM sqlite_sequence")
        for _name, sql in triggers:
            con.execute(sql)
        con.execute("COMMIT")
    finally:
        con.close()


async def reset_database(db: TestDatabase) -> None:
    """Back to the migrated, empty state (for a database shared by the tests of a module)."""
    if db.backend == "sqlite":
        empty_sqlite(Path(str(make_url(db.url).database)))
    else:
        await empty_tables(db.url)
