"""Security by trying: roles, other members' data, CSRF, rate limits, cookies; API errors."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.world import PASSWORD, World, htmx_headers, sign_in, token_for

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("login", "path", "status"),
    [
        ("alice", "/coordinator/", 403),
        ("alice", "/coordinator/members", 403),
        ("alice", "/coordinator/audit", 403),
        ("dso", "/coordinator/parameters", 403),
        ("coord", "/my", 403),
        ("dso", "/my", 403),
        ("coord", "/coordinator/members", 200),
        ("coord", "/coordinator/network", 200),
        ("coord", "/coordinator/audit", 200),
        ("alice", "/results", 200),
        ("alice", "/distributor/", 403),
        ("alice", "/reports/", 403),
        ("dso", "/distributor/", 200),
        ("dso", "/live", 200),
    ],
)
async def test_pages_refuse_wrong_roles(
    client: Any, world: World, login: str, path: str, status: int
) -> None:
    sign_in(client, login)
    assert client.get(path).status_code == status


async def test_coordinator_posts_refused_for_members(client: Any, world: World) -> None:
    sign_in(client, "alice")
    form = {"name": "Intruder", "kind": "household", "role": "coordinator", "login": "evil",
            "password": "password123"}  # fmt: skip
    assert (
        client.post("/coordinator/members", data=form, headers=htmx_headers(client)).status_code
        == 403
    )
    client.post("/logout", headers=htmx_headers(client))
    sign_in(client, "coord")
    members = client.get("/coordinator/members").text
    assert "Intruder" not in members


async def test_coordinator_adds_point_with_ppe_check(client: Any, world: World) -> None:
    sign_in(client, "coord")
    bad = {"ppe_code": "590543500000000019", "member_id": str(world.ids["alice"]), "node": "S1",
           "contracted_power_kw": "5"}  # fmt: skip
    r = client.post("/coordinator/points", data=bad, headers=htmx_headers(client))
    assert r.status_code == 422 and 'id="pf-ppe-err"' in r.text
    good = {**bad, "ppe_code": "590543500001234566"}
    r = client.post("/coordinator/points", data=good, headers=htmx_headers(client))
    assert (
        r.status_code == 200 and "590543500001234566" in r.text and 'hx-swap-oob="true"' in r.text
    )


async def test_coordinator_changes_line_capacity_and_audit_shows_it(
    client: Any, world: World
) -> None:
    sign_in(client, "coord")
    page = client.get("/coordinator/network").text
    import re

    line_id = re.search(r'hx-post="/coordinator/network/lines/(\d+)"', page).group(1)
    r = client.post(f"/coordinator/network/lines/{line_id}", data={"capacity_kw": "-5"},
                    headers=htmx_headers(client))  # fmt: skip
    assert r.status_code == 422
    r = client.post(f"/coordinator/network/lines/{line_id}", data={"capacity_kw": "80"},
                    headers=htmx_headers(client))  # fmt: skip
    assert r.status_code == 200 and "80,0" in r.text
    assert "przepustowość (kW): 80" in client.get("/coordinator/audit").text


async def test_member_cannot_touch_someone_elses_order(client: Any, world: World) -> None:
    bob = token_for(client, "bob")
    alice = token_for(client, "alice")
    intervals = client.get("/api/v1/intervals", headers=bob).json()
    interval_id = next(iv["id"] for iv in intervals["open"] if iv["accepting_orders"])
    order = {"interval_id": interval_id, "metering_point_id": world.ids["bob_point"],
             "side": "buy", "quantity_kwh": "1", "price": "0.5"}  # fmt: skip
    placed = client.post("/api/v1/orders", json=order, headers=bob).json()
    for attempt in (
        client.delete(f"/api/v1/orders/{placed['id']}", headers=alice),
        client.patch(f"/api/v1/orders/{placed['id']}", json={"price": "0.2"}, headers=alice),
    ):
        assert attempt.status_code in (403, 404), attempt.text
        assert set(attempt.json()) == {"error", "field", "message", "message_id", "params"}
    assert client.get("/api/v1/orders", headers=alice).json() == []
    mine = client.get("/api/v1/orders", headers=bob).json()
    assert [o["price"] for o in mine] == ["0.5000"] and mine[0]["status"] == "open"


async def test_api_errors_are_json_with_field_and_message(client: Any, world: World) -> None:
    alice = token_for(client, "alice")
    intervals = client.get("/api/v1/intervals", headers=alice).json()
    interval_id = next(iv["id"] for iv in intervals["open"] if iv["accepting_orders"])
    order = {"interval_id": interval_id, "metering_point_id": world.ids["alice_point"],
             "side": "sell", "quantity_kwh": "0", "price": "0.5"}  # fmt: skip
    r = client.post("/api/v1/orders", json=order, headers=alice)
    assert r.status_code == 422
    assert r.json()["field"] == "quantity_kwh" and "greater than 0" in r.json()["message"]
    r = client.post(
        "/api/v1/orders", json={**order, "quantity_kwh": "1", "price": "0.12345"}, headers=alice
    )
    assert r.status_code == 422 and r.json()["field"] == "price"
    r = client.post("/api/v1/orders", json={"side": "sell"}, headers=alice)
    assert r.status_code == 400 and r.json()["field"] and r.json()["message"]
    r = client.get("/api/v1/orders")
    assert r.status_code == 401 and r.json()["error"] == "NotAuthorizedException"
    r = client.get("/api/v1/orders", headers={"Authorization": "Bearer klt_forged"})
    assert r.status_code == 401
    r = client.get("/api/v1/members", headers=alice)
    assert r.status_code == 403 and r.json()["message"]


async def test_api_ignores_session_cookie(client: Any, world: World) -> None:
    sign_in(client, "alice")
    assert client.get("/my").status_code == 200
    assert client.get("/api/v1/orders").status_code == 401  # cookies never act on the API


async def test_openapi_schema(client: Any, world: World) -> None:
    schema = client.get("/schema/openapi.json").json()
    assert schema["openapi"].startswith("3.1")
    paths = schema["paths"]
    for path in ("/api/v1/orders", "/api/v1/intervals", "/api/v1/auth/token", "/api/v1/fills",
                 "/api/v1/exports", "/api/v1/meter-data", "/api/v1/members",
                 "/api/v1/all-metering-points", "/api/v1/network/lines"):  # fmt: skip
        assert path in paths
    assert not any(p.startswith("/my") or p.startswith("/coordinator") for p in paths)


async def test_sign_in_rate_limited_and_wrong_password(client: Any, world: World) -> None:
    statuses = []
    for _ in range(7):  # the test app allows 5 a minute
        r = client.post("/login", data={"login": "alice", "password": "wrong"},
                        headers=htmx_headers(client) | {"x-csrftoken": csrf(client)})  # fmt: skip
        statuses.append(r.status_code)
    assert statuses[:5] == [401] * 5 and statuses[-1] == 429
    assert "błędny login lub hasło" not in r.text  # 429 page, not a login attempt


def csrf(client: Any) -> str:
    client.get("/login")
    return str(client.cookies.get("csrftoken"))


async def test_wrong_password_shows_inline_error(client: Any, world: World) -> None:
    token = csrf(client)
    r = client.post("/login", data={"login": "alice", "password": "nope"},
                    headers={"HX-Request": "true", "x-csrftoken": token})  # fmt: skip
    assert (
        r.status_code == 401 and "błędny login lub hasło" in r.text and 'id="login-form"' in r.text
    )


async def test_order_rate_limit(world: World) -> None:
    from litestar.testing import TestClient

    from web.app import create_app
    from web.config import WebConfig

    config = WebConfig(secure_cookies=False, order_rate=("minute", 3))
    app = create_app(world.app.state.services.settings, config=config, clock=world.clock)
    with TestClient(app) as client:
        headers = token_for(client, "alice")
        responses = [client.post("/api/v1/orders", json={}, headers=headers) for _ in range(5)]
    statuses = [r.status_code for r in responses]
    assert statuses[:3] == [400, 400, 400] and statuses[3:] == [429, 429]
    assert 1 <= int(responses[-1].headers["retry-after"]) <= 60
    assert responses[-1].json()["message"] == "too many requests: at most 3 per minute"


async def test_cookie_flags(world: World) -> None:
    from litestar.testing import TestClient

    from web.app import create_app
    from web.config import WebConfig

    app = create_app(world.app.state.services.settings, config=WebConfig(), clock=world.clock)
    with TestClient(app, base_url="https://testserver.local") as client:
        csrf_cookie = client.get("/login").headers.get("set-cookie", "")
        assert "Secure" in csrf_cookie and "SameSite=lax" in csrf_cookie
        form = {
            "login": "alice",
            "password": PASSWORD,
            "_csrf_token": client.cookies.get("csrftoken"),
        }
        r = client.post("/login", data=form, follow_redirects=False)
        session_cookie = next(
            h for h in r.headers.get_list("set-cookie") if h.startswith("klaster_session=")
        )
        for flag in ("HttpOnly", "Secure", "SameSite=lax"):
            assert flag in session_cookie


async def test_english_is_available(client: Any, world: World) -> None:
    r = client.get("/lang/en?next=/login")
    assert r.status_code == 200 and "Sign in" in r.text and "Zaloguj" not in r.text
    sign_in(client, "alice")
    page = client.get("/my").text
    assert "My market" in page and "Mój rynek" not in page
    r = client.get("/lang/en?next=https://evil.example/", follow_redirects=False)
    assert r.headers["location"] == "/"  # no open redirect
