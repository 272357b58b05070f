"""Two app processes, one PostgreSQL, one Redis: a deactivation or a token's revocation made
through one process ends the session and tokens on the other within a second, though the
other had them cached (the change is announced over the channels)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.support.world import PASSWORD
from tests.web.test_redis_fanout import build_cluster_sync, two_apps

__all__ = ["build_cluster_sync", "two_apps"]

pytestmark = [pytest.mark.anyio, pytest.mark.redis, pytest.mark.postgres]


async def _token(http: httpx.AsyncClient, app: str, login: str) -> dict[str, str]:
    r = await http.post(app + "/api/v1/auth/token", json={"login": login, "password": PASSWORD})
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


async def _sign_in(http: httpx.AsyncClient, app: str, login: str) -> None:
    page = await http.get(app + "/login")
    form = {"login": login, "password": PASSWORD, "_csrf_token": page.cookies.get("csrftoken")}
    r = await http.post(app + "/login", data=form)
    assert r.status_code in (302, 303), r.text


async def _seconds_until(check: Any, limit: float = 5.0) -> float:
    start = time.monotonic()
    while time.monotonic() - start < limit:
        if await check():
            return time.monotonic() - start
    raise AssertionError(f"not within {limit} s")


async def test_deactivation_on_one_process_ends_session_and_token_on_the_other(
    two_apps: Any,
) -> None:
    (app_a, app_b), ids = two_apps
    async with (
        httpx.AsyncClient(timeout=10) as coord_http,
        httpx.AsyncClient(timeout=10) as alice_http,
    ):
        coord = await _token(coord_http, app_a, "coord")
        alice = await _token(alice_http, app_b, "alice")
        await _sign_in(alice_http, app_a, "alice")
        # B has alice's session and token in its cache now
        assert (await alice_http.get(app_b + "/my")).status_code == 200
        assert (await alice_http.get(app_b + "/api/v1/me", headers=alice)).status_code == 200
        r = await coord_http.post(
            app_a + f"/api/v1/members/{ids['alice']}/deactivate", headers=coord
        )
        assert r.status_code == 200, r.text

        async def refused_on_b() -> bool:
            me = await alice_http.get(app_b + "/api/v1/me", headers=alice)
            page = await alice_http.get(app_b + "/my")
            return me.status_code == 401 and page.status_code in (302, 303)

        elapsed = await _seconds_until(refused_on_b)
        print(f"deactivation took effect on the other process after {elapsed * 1000:.0f} ms")
        assert elapsed < 1.0


async def test_a_token_revoked_on_one_process_stops_on_the_other(two_apps: Any) -> None:
    (app_a, app_b), _ids = two_apps
    async with httpx.AsyncClient(timeout=10) as http:
        bob = await _token(http, app_b, "bob")
        coord = await _token(http, app_a, "coord")
        assert (await http.get(app_b + "/api/v1/me", headers=bob)).status_code == 200
        mine = await http.get(app_b + "/api/v1/tokens", headers=bob)
        bobs = mine.json()[0]["id"]
        r = await http.delete(app_a + f"/api/v1/tokens/{bobs}", headers=coord)
        assert r.status_code == 200, r.text

        async def refused_on_b() -> bool:
            return (await http.get(app_b + "/api/v1/me", headers=bob)).status_code == 401

        elapsed = await _seconds_until(refused_on_b)
        print(f"revocation took effect on the other process after {elapsed * 1000:.0f} ms")
        assert elapsed < 1.0
