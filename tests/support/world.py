"""The web tests' world: the small cluster (`clusters.WEB`) behind a running app (Litestar test
client), and the helpers of HTTP tests (sign in, htmx headers, tokens, scheduler ticks).

One app and one client per test module and backend (`web_app`, `module_client`): building
an app and starting it took 1.5–6.6 s a test. Each test still starts from the same state: the
`world` fixture empties the database and builds the cluster again, sets the market clock
back to START, forgets the app's rate-limit counters and cached tokens, and the `client`
fixture drops the client's cookies (so nobody is signed in). A test that changes the app
itself (registers a route, say) is marked `@pytest.mark.own_app` and gets an app of its own.

The market clock is a ManualClock at 2026-06-15 10:00 UTC (12:00 in Warsaw).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from market.core.clock import ManualClock
from tests.support.clusters import ALICE_PPE, BOB_PPE, WEB, WEB_PASSWORD, build
from tests.support.databases import TestDatabase, reset_database

PASSWORD = WEB_PASSWORD
START = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)

__all__ = [
    "ALICE_PPE",
    "BOB_PPE",
    "PASSWORD",
    "START",
    "World",
    "build_cluster",
    "client",
    "csrf_of",
    "htmx_headers",
    "module_client",
    "run_in_app",
    "sign_in",
    "tick",
    "token_for",
    "web_app",
    "world",
]


@dataclass
class World:
    app: Litestar
    clock: ManualClock
    db: Any
    ids: dict[str, int]


async def build_cluster(db: Any, clock: ManualClock) -> dict[str, int]:
    """Store `clusters.WEB` with its first intervals; ids by login and `<login>_point`."""
    from market.cluster.models import Cluster
    from market.trading.intervals import ensure_intervals

    async with db.session() as s:
        built = await build(s, WEB)
        cluster = await s.get(Cluster, built.cluster_id)
        assert cluster is not None
        await ensure_intervals(s, cluster, clock.now())
        await s.commit()
    return {
        **built.members,
        "alice_point": built.points[ALICE_PPE],
        "bob_point": built.points[BOB_PPE],
    }


def make_app(db: TestDatabase, clock: ManualClock) -> Litestar:
    from market.core.settings import Settings
    from web.app import create_app
    from web.config import WebConfig

    settings = Settings(data_dir=Path("."), database_url=db.url, secret_key="test-secret")
    config = WebConfig(secure_cookies=False, signin_rate=("minute", 5), order_rate=("second", 1000))
    return create_app(settings, config=config, clock=clock)


@pytest.fixture(scope="module")
def web_app(module_db: TestDatabase) -> Litestar:
    """The module's app over the module's database (see `world` for what each test resets)."""
    return make_app(module_db, ManualClock(START))


@pytest.fixture(scope="module")
def module_client(web_app: Litestar) -> Iterator[TestClient[Litestar]]:
    """A synchronous client: the app (and its live hub) runs in the client's own event-loop
    thread, so HTTP calls, WebSocket sessions and `run_in_app` share one loop."""
    with TestClient(app=web_app) as c:
        yield c


def forget_requests(app: Litestar) -> None:
    """What an app remembers of earlier requests: rate-limit windows and cached tokens."""
    from web.auth import TokenCache
    from web.config import HaltCache, app_services
    from web.ratelimit import MemoryCounters

    services = app_services(app)
    assert not services.settings.redis_url, "the shared test app keeps its state in memory"
    services.rate_counters = MemoryCounters()
    services.token_cache = TokenCache()
    services.halt = HaltCache()


@pytest.fixture
async def world(
    request: pytest.FixtureRequest, module_db: TestDatabase, web_app: Litestar
) -> AsyncIterator[World]:
    """The cluster, freshly built, behind the module's app (or an own app, see `own_app`)."""
    await reset_database(module_db)
    if request.node.get_closest_marker("own_app"):
        clock = ManualClock(START)
        app = make_app(module_db, clock)
    else:
        from web.config import app_services

        app = web_app
        clock = app_services(app).clock
        assert isinstance(clock, ManualClock)
        clock.set(START)
        forget_requests(app)
    ids = await build_cluster(module_db, clock)
    yield World(app, clock, module_db, ids)


@pytest.fixture
def client(request: pytest.FixtureRequest, world: World) -> Iterator[TestClient[Litestar]]:
    """The module's client, signed out; or a client of the test's own app."""
    if request.node.get_closest_marker("own_app"):
        with TestClient(app=world.app) as c:
            yield c
        return
    shared: TestClient[Litestar] = request.getfixturevalue("module_client")
    shared.cookies.clear()
    yield shared


def run_in_app(client: TestClient[Litestar], func: Any, *args: Any) -> Any:
    """Await `func(*args)` on the app's event loop (e.g. a scheduler tick that publishes)."""
    return client.blocking_portal.call(func, *args)


def tick(client: TestClient[Litestar]) -> Any:
    """One scheduler pass in the app's loop, publishing through the app's channels."""
    from market.clearing.scheduler import Scheduler
    from web.config import app_services

    state = app_services(client.app)
    scheduler = Scheduler(state.session_factory, state.clock, state.publisher, worker_id="test")
    return run_in_app(client, scheduler.tick)


def csrf_of(client: TestClient[Litestar]) -> str:
    return str(client.cookies.get("csrftoken") or "")


def sign_in(client: TestClient[Litestar], login: str, password: str = PASSWORD) -> Any:
    """Sign in through the form, as a browser does (GET for the CSRF cookie, then POST)."""
    page = client.get("/login")
    token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert token, "login form has a CSRF field"
    return client.post(
        "/login", data={"login": login, "password": password, "_csrf_token": token.group(1)}
    )


def htmx_headers(client: TestClient[Litestar]) -> dict[str, str]:
    return {"HX-Request": "true", "x-csrftoken": csrf_of(client)}


def token_for(client: Any, login: str, password: str = PASSWORD) -> dict[str, str]:
    """Bearer headers for `login`, from POST /api/v1/auth/token."""
    r = client.post("/api/v1/auth/token", json={"login": login, "password": password})
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}
