"""Shared fixtures. The `db` fixture runs a test on SQLite and on the real PostgreSQL; how the
databases are made and emptied is in tests/support/databases.py, the test clusters in
tests/support/clusters.py."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy.engine import make_url

from tests.support.databases import (
    DEFAULT_PG_URL,
    PgServer,
    TestDatabase,
    drop_stale,
    fresh_database,
    pg_admin,
    release_database,
)

# CI (`.ci/run` sets KLASTER_HYPOTHESIS_PROFILE=ci; so does an env CI) explores the same
# examples every run, so a merge is judged on the code and not on the draw; elsewhere every
# run draws new examples.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
hypothesis_settings.register_profile("explore", print_blob=True)
hypothesis_settings.load_profile(
    os.environ.get("KLASTER_HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "explore")
)

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "own_app: the web `world` gets an app of its own (the test changes the app itself)",
    )


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing() -> Iterator[None]:
    """Argon2id with the library's profile for tests (CHEAPEST) in this process. The default
    costs 64 MiB and 0.1–0.3 s a hash or check on purpose, a sign-in's cost, and the suite signs
    in a few hundred times; the tests check what is accepted, not how slowly. Servers the tests
    start as processes keep the default (and rehash these hashes at the first sign-in)."""
    from argon2 import PasswordHasher, profiles

    from market.access import passwords

    cheap = PasswordHasher.from_parameters(profiles.CHEAPEST)
    default = passwords._hasher
    passwords._hasher = lambda: cheap  # type: ignore[assignment]
    passwords.dummy_hash.cache_clear()
    try:
        yield
    finally:
        passwords._hasher = default
        passwords.dummy_hash.cache_clear()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A migrated template database on the test PostgreSQL, or a skip reason."""
    url = os.environ.get("KLASTER_TEST_POSTGRES_URL") or DEFAULT_PG_URL
    server = PgServer(url)
    try:
        asyncio.run(pg_admin(url, "SELECT 1"))
    except Exception as exc:
        server.url = None
        server.skip_reason = (
            f"PostgreSQL not reachable at {make_url(url).render_as_string()} ({exc!r}); "
            "set KLASTER_TEST_POSTGRES_URL to run the postgresql variants"
        )
        yield server
        return
    from market.db.engine import migrate

    asyncio.run(drop_stale(url))
    server.template = f"{server.prefix}_tpl"
    asyncio.run(pg_admin(url, f'CREATE DATABASE "{server.template}"'))
    server.created.append(server.template)
    try:
        migrate(server.db_url(server.template))
        yield server
    finally:
        for name in reversed(server.created):
            asyncio.run(pg_admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from market.db.engine import migrate

    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    migrate(f"sqlite+aiosqlite:///{path}")
    return path


@asynccontextmanager
async def _open(
    backend: str, pg: PgServer, sqlite_template: Path, tmp_path: Path
) -> AsyncIterator[TestDatabase]:
    from market.db.engine import create_engine, session_factory

    url = await fresh_database(backend, pg, sqlite_template, tmp_path)
    engine = create_engine(url)
    try:
        yield TestDatabase(backend, url, engine, session_factory(engine))
    finally:
        await engine.dispose()
        await release_database(backend, pg, url)


@pytest.fixture(params=BACKENDS)
async def db(
    request: pytest.FixtureRequest, pg_server: PgServer, sqlite_template: Path, tmp_path: Path
) -> AsyncIterator[TestDatabase]:
    """A fresh database migrated to head, on SQLite and on PostgreSQL."""
    async with _open(request.param, pg_server, sqlite_template, tmp_path) as database:
        yield database


@pytest.fixture(scope="module", params=BACKENDS)
async def module_db(
    request: pytest.FixtureRequest,
    anyio_backend: str,
    pg_server: PgServer,
    sqlite_template: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[TestDatabase]:
    """One migrated database for the tests of a module, on SQLite and on PostgreSQL; whoever
    shares it empties it before each test (`reset_database`, as the web `world` does)."""
    tmp = tmp_path_factory.mktemp("module-db")
    async with _open(request.param, pg_server, sqlite_template, tmp) as database:
        yield database


@pytest.fixture(params=BACKENDS)
async def empty_db_url(
    request: pytest.FixtureRequest,
    pg_server: PgServer,
    sqlite_template: Path,
    tmp_path: Path,
) -> AsyncIterator[str]:
    """The URL of a fresh database with no schema at all (for migration tests)."""
    backend: str = request.param
    url = await fresh_database(backend, pg_server, sqlite_template, tmp_path, migrated=False)
    try:
        yield url
    finally:
        await release_database(backend, pg_server, url)


@pytest.fixture
async def pg_db(
    pg_server: PgServer, sqlite_template: Path, tmp_path: Path
) -> AsyncIterator[TestDatabase]:
    """A fresh migrated PostgreSQL database only (concurrency tests)."""
    async with _open("postgresql", pg_server, sqlite_template, tmp_path) as database:
        yield database
