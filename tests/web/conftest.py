"""A small hand-made cluster and a running app (Litestar test client) over the `db` fixture.

Cluster: GPZ `GPZ` → line `L1` (100 kW) → station `S1`; members alice (PPE at S1, 10 kW),
bob (PPE at GPZ, 40 kW), a coordinator and a distributor, all with password `haslo-demo-1`.
The market clock is a ManualClock at 2026-06-15 10:00 UTC (12:00 in Warsaw).
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from market.core.clock import ManualClock

PASSWORD = "haslo-demo-1"
START = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)
ALICE_PPE = "590543500000000018"
BOB_PPE = "590543500000000025"


@dataclass
class World:
    app: Litestar
    clock: ManualClock
    db: Any
    ids: dict[str, int]


async def build_cluster(db: Any, clock: ManualClock) -> dict[str, int]:
    from market.access.models import Member
    from market.access.passwords import hash_password
    from market.cluster.models import Cluster
    from market.network.models import GridConnection, Line, MeteringPoint, Node
    from market.trading.intervals import ensure_intervals

    hashed = hash_password(PASSWORD)
    async with db.session() as s:
        cluster = Cluster(
            name="Test cluster",
            coordinator_name="Coordinator Sp. z o.o.",
            interval_minutes=15,
            gate_closure_minutes=5,
            horizon_intervals=4,
            price_floor=Decimal("0.2000"),
            price_cap=Decimal("0.8900"),
        )
        gpz = Node(code="GPZ", name="GPZ Test", kind="gpz")
        st = Node(code="S1", name="Station 1", kind="station")
        s.add_all([cluster, gpz, st])
        await s.flush()
        s.add(
            Line(
                code="L1",
                name="GPZ–S1",
                from_node_id=gpz.id,
                to_node_id=st.id,
                capacity_kw=Decimal(100),
            )
        )
        s.add(
            GridConnection(
                node_id=gpz.id,
                import_price=Decimal("0.8900"),
                export_price=Decimal("0.2000"),
                import_limit_kw=Decimal(1000),
                export_limit_kw=Decimal(1000),
            )
        )
        specs = {
            "alice": ("Alicja Nowak", "household", "member"),
            "bob": ("Bogdan Kowal", "business", "member"),
            "coord": ("Koordynator", "operator", "coordinator"),
            "dso": ("PGE Dystrybucja", "operator", "distributor"),
        }
        people = {
            login: Member(name=n, kind=k, role=r, login=login, password_hash=hashed)
            for login, (n, k, r) in specs.items()
        }
        s.add_all(people.values())
        await s.flush()
        pa = MeteringPoint(
            ppe_code=ALICE_PPE,
            member_id=people["alice"].id,
            node_id=st.id,
            name="Dom",
            contracted_power_kw=Decimal(10),
            pv_kwp=Decimal(8),
        )
        pb = MeteringPoint(
            ppe_code=BOB_PPE, member_id=people["bob"].id, node_id=gpz.id, name="Piekarnia",
            contracted_power_kw=Decimal(40),
        )  # fmt: skip
        s.add_all([pa, pb])
        await s.flush()
        await ensure_intervals(s, cluster, clock.now())
        await s.commit()
        return {
            **{k: m.id for k, m in people.items()},
            "alice_point": pa.id,
            "bob_point": pb.id,
        }


@pytest.fixture
async def world(db: Any, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[World]:
    from market.core.settings import Settings
    from web.app import create_app
    from web.config import WebConfig

    clock = ManualClock(START)
    ids = await build_cluster(db, clock)
    settings = Settings(data_dir=Path("."), database_url=db.url, secret_key="test-secret")
    config = WebConfig(secure_cookies=False, signin_rate=("minute", 5), order_rate=("second", 1000))
    app = create_app(settings, config=config, clock=clock)
    yield World(app, clock, db, ids)


@pytest.fixture
def client(world: World) -> Iterator[TestClient[Litestar]]:
    """A synchronous client: the app (and its live hub) runs in the client's own event-loop
    thread, so HTTP calls, WebSocket sessions and `run_in_app` share one loop."""
    with TestClient(app=world.app) as c:
        yield c


def run_in_app(client: TestClient[Litestar], func: Any, *args: Any) -> Any:
    """Await `func(*args)` on the app's event loop (e.g. a scheduler tick that publishes)."""
    return client.blocking_portal.call(func, *args)


def tick(client: TestClient[Litestar]) -> Any:
    """One scheduler pass in the app's loop, publishing through the app's channels."""
    from market.clearing.scheduler import Scheduler

    state = client.app.state.services
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


DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


def redis_url() -> str:
    """The test Redis (`KLASTER_TEST_REDIS_URL`), or skip the test saying why."""
    url = os.environ.get("KLASTER_TEST_REDIS_URL") or DEFAULT_REDIS
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), 2):
            pass
    except OSError as exc:
        pytest.skip(f"Redis not reachable at {url} ({exc}); set KLASTER_TEST_REDIS_URL")
    return url
