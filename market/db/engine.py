"""Engines, sessions and migrations. The schema is created only by Alembic (`migrate`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Table, event, func, insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from market.core.errors import Conflict

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def ensure_sqlite_dir(url: str) -> None:
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_creator(url: str) -> Any:
    """Connections from `market.sqlite_driver` (one thread trip a statement) instead of
    aiosqlite's, made with the arguments SQLAlchemy's aiosqlite dialect derives from `url`."""
    from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite

    from market.db import sqlite_driver

    dialect = SQLiteDialect_aiosqlite()
    dbapi = SQLiteDialect_aiosqlite.import_dbapi()
    cargs, cparams = dialect.create_connect_args(make_url(url))

    def creator() -> Any:
        return dbapi.connect(*cargs, async_creator_fn=sqlite_driver.connect, **cparams)

    return creator


def create_engine(url: str, *, echo: bool = False, **kwargs: Any) -> AsyncEngine:
    """An async engine; SQLite gets foreign keys, WAL and a busy timeout on every connection."""
    if is_sqlite(url):
        ensure_sqlite_dir(url)
        kwargs.setdefault("poolclass", NullPool)
        engine = create_async_engine(url, echo=echo, creator=_sqlite_creator(url), **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, echo=echo, **kwargs)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


@asynccontextmanager
async def unit_of_work(
    factory: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """One unit of work: a session whose changes are committed when the block ends normally
    and rolled back when it raises. Services never commit; the request or command that calls
    them owns the transaction (a duplicate key found at commit is a `Conflict`)."""
    async with factory() as session:
        try:
            yield session
            await commit_or_conflict(session)
        except BaseException:
            await session.rollback()
            raise


async def commit_or_conflict(session: AsyncSession) -> None:
    """Commit; a uniqueness or foreign-key violation found only now becomes a `Conflict`."""
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise Conflict(
            "", "this conflicts with a record saved meanwhile; reload and try again"
        ) from None


async def insert_returning_ids(
    session: AsyncSession, table: Table, rows: list[dict[str, Any]]
) -> list[int]:
    """Insert `rows` into `table` (integer primary key `id`) in one round of statements and
    return their new ids, in the order of `rows`.

    The ORM inserts row by row when it needs the ids back; this does not. PostgreSQL: one
    multi-row INSERT ... RETURNING, with SQLAlchemy matching ids to rows. SQLite returns
    RETURNING rows in no guaranteed order, so there it is one executemany: it holds the
    database's one write lock from its first row to the commit, and SQLite gives each new row
    the largest id so far + 1, so the rows got the `len(rows)` ids that end at this
    connection's `last_insert_rowid()`. That is checked, not assumed, before they are
    returned (an id past the largest possible one would be chosen at random)."""
    if not rows:
        return []
    id_col = table.c.id
    if session.get_bind().dialect.name != "sqlite":
        stmt = insert(table).returning(id_col, sort_by_parameter_order=True)
        return list((await session.execute(stmt, rows)).scalars())
    await session.execute(insert(table), rows)
    last_rowid = func.last_insert_rowid()
    last, top, count = (
        await session.execute(
            select(last_rowid, func.max(id_col), func.count()).where(
                id_col > last_rowid - len(rows)
            )
        )
    ).one()
    if top != last or count != len(rows):
        raise RuntimeError(f"{table.name}: the ids of a bulk insert are not consecutive")
    return list(range(last - len(rows) + 1, last + 1))


async def no_autocheckpoint(conn: AsyncConnection) -> None:
    """SQLite: commits on `conn` never checkpoint the WAL (a checkpoint copies the WAL into
    the database and syncs it: ~10-15 ms here, which a connection committing on the event
    loop's thread must not spend). Call `checkpoint` now and then instead."""
    if conn.dialect.name == "sqlite":
        await conn.exec_driver_sql("PRAGMA wal_autocheckpoint = 0")
        await conn.commit()  # leave no transaction for a session on `conn` to join


async def checkpoint(engine: AsyncEngine) -> None:
    """SQLite: copy the WAL into the database (PASSIVE: writers go on meanwhile), on a
    pooled connection's own thread. Nothing to do on other databases."""
    if engine.dialect.name == "sqlite":
        async with engine.connect() as conn:
            await conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["configure_logging"] = False
    return cfg


def migrate(url: str, revision: str = "head") -> None:
    """Upgrade the database at `url` to `revision` (synchronous; creates a SQLite file)."""
    from alembic import command

    ensure_sqlite_dir(url)
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    from alembic import command

    command.downgrade(alembic_config(url), revision)


def dialect_name(session: AsyncSession) -> str:
    return session.get_bind().dialect.name
