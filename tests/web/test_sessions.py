"""Sessions: checked per request against the member's credential version (deactivation,
password or role change end them, and the member's tokens, without a query per request);
the session id renewed at sign-in; the CSRF token tied to the session; sign-in throttled per
account and per address; `next` only to local paths; WebSocket origin and closing."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import event

from tests.support.world import PASSWORD, World, csrf_of, htmx_headers, run_in_app, sign_in
from tests.support.world import token_for as _token_for

pytestmark = pytest.mark.anyio


def token_for(client: Any, login: str, password: str = PASSWORD) -> dict[str, str]:
    """Bearer headers; the API ignores cookies, so a signed-in client can act as another."""
    return _token_for(client, login, password)


def signed_in_as(client: Any) -> bool:
    r = client.get("/my", follow_redirects=False)
    return r.status_code == 200


def set_member(client: Any, member_id: int, **values: Any) -> None:
    """Change a member through the app's own engine (as a service would), committed."""
    from market.access.models import Member
    from market.db.engine import unit_of_work
    from web.config import app_services

    async def change() -> None:
        async with unit_of_work(app_services(client.app).session_factory) as session:
            member = await session.get(Member, member_id)
            assert member is not None
            for name, value in values.items():
                setattr(member, name, value)

    run_in_app(client, change)


async def test_deactivation_ends_the_members_session_and_tokens(client: Any, world: World) -> None:
    coord = token_for(client, "coord")
    sign_in(client, "alice")
    alice = token_for(client, "alice")
    assert signed_in_as(client)
    assert client.get("/api/v1/me", headers=alice).status_code == 200
    r = client.post(f"/api/v1/members/{world.ids['alice']}/deactivate", headers=coord)
    assert r.status_code == 200, r.text
    r = client.get("/my", follow_redirects=False)
    assert r.status_code in (302, 303) and r.headers["location"].startswith("/login")
    assert client.get("/api/v1/me", headers=alice).status_code == 401
    # what the attacker did: a new token and an order, through the old session
    r = client.post("/my/token", headers=htmx_headers(client), follow_redirects=False)
    assert r.status_code == 401
    r = client.get("/api/v1/tokens", headers=coord, params={"everyone": "true"})
    assert [t["name"] for t in r.json() if t["member_id"] == world.ids["alice"]] == ["api"]


async def test_password_change_ends_old_sessions_and_tokens(client: Any, world: World) -> None:
    coord = token_for(client, "coord")
    sign_in(client, "alice")
    alice = token_for(client, "alice")
    old_cookie = client.cookies.get("klaster_session")
    r = client.patch(
        f"/api/v1/members/{world.ids['alice']}", json={"password": "a-new-secret-9"}, headers=coord
    )
    assert r.status_code == 200, r.text
    assert not signed_in_as(client)
    assert client.get("/api/v1/me", headers=alice).status_code == 401
    client.cookies.clear()
    client.cookies.set("klaster_session", old_cookie)
    assert not signed_in_as(client)
    client.cookies.clear()
    sign_in(client, "alice", "a-new-secret-9")
    assert signed_in_as(client)
    assert client.get("/api/v1/me", headers=coord).status_code == 200  # the coordinator's own


async def test_role_change_ends_old_sessions_and_tokens(client: Any, world: World) -> None:
    sign_in(client, "alice")
    alice = token_for(client, "alice")
    assert client.get("/api/v1/me", headers=alice).json()["role"] == "member"
    set_member(client, world.ids["alice"], role="distributor")
    assert client.get("/api/v1/me", headers=alice).status_code == 401
    assert client.get("/results", follow_redirects=False).status_code in (302, 303)


async def test_other_changes_to_the_member_keep_sessions(client: Any, world: World) -> None:
    """Only what a member may do (active, password, role) ends sessions, not a new name."""
    sign_in(client, "alice")
    alice = token_for(client, "alice")
    set_member(client, world.ids["alice"], name="Alicja Nowak-Kowal")
    assert signed_in_as(client)
    assert client.get("/api/v1/me", headers=alice).status_code == 200


async def test_no_database_query_per_request_on_the_hot_path(client: Any, world: World) -> None:
    from web.config import app_services

    sign_in(client, "alice")
    alice = token_for(client, "alice")
    statements: list[str] = []
    engine = app_services(client.app).engine.sync_engine

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    assert client.get("/api/v1/me", headers=alice).status_code == 200  # warms the cache
    assert client.get("/lang/en", params={"next": "/my"}, follow_redirects=False).status_code in (
        302,
        303,
    )
    event.listen(engine, "before_cursor_execute", count)
    try:
        for _ in range(5):
            assert client.get("/api/v1/me", headers=alice).status_code == 200
            r = client.get("/lang/en", params={"next": "/my"}, follow_redirects=False)
            assert r.status_code in (302, 303)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert statements == []


async def test_session_id_is_renewed_at_sign_in(client: Any, world: World) -> None:
    client.get("/login")
    planted = client.cookies.get("klaster_session")
    assert planted
    sign_in(client, "alice")
    renewed = client.cookies.get("klaster_session")
    assert renewed and renewed != planted
    assert signed_in_as(client)
    # the id the visitor had before signing in does not carry the sign-in
    client.cookies.set("klaster_session", planted)
    assert not signed_in_as(client)


async def test_csrf_token_is_tied_to_the_session(client: Any, world: World) -> None:
    client.get("/login")
    before = csrf_of(client)
    sign_in(client, "alice")
    after = csrf_of(client)
    assert before and after and after != before
    # A token (valid, signed by the app) from before sign-in — what an attacker who planted
    # the cookie would know — is refused on the session.
    client.cookies.set("csrftoken", before)
    r = client.post("/my/token", headers={"HX-Request": "true", "x-csrftoken": before})
    assert r.status_code == 401
    client.cookies.set("csrftoken", after)
    r = client.post("/my/token", headers={"HX-Request": "true", "x-csrftoken": after})
    assert r.status_code == 200 and "klt_" in r.text


async def test_sign_out_ends_the_session(client: Any, world: World) -> None:
    sign_in(client, "alice")
    cookie = client.cookies.get("klaster_session")
    client.post("/logout", headers=htmx_headers(client))
    client.cookies.set("klaster_session", cookie)
    assert not signed_in_as(client)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/my/orders?x=1", "/my/orders?x=1"),
        ("/results/", "/results/"),
        ("/a/./b/../c", "/a/c"),
        ("/%09/evil.example", "/"),
        ("/\t/evil.example", "/"),
        ("/\n/evil.example", "/"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("/%5Cevil.example", "/"),
        ("/%2F/evil.example", "/"),
        ("/.//evil.example", "/evil.example"),  # normalised: a local path
        ("https://evil.example/", "/"),
        ("javascript:alert(1)", "/"),
        ("evil.example", "/"),
        ("/%00", "/"),
        ("", "/"),
        (None, "/"),
    ],
)
def test_next_accepts_only_local_paths(target: str | None, expected: str) -> None:
    from web.pages.auth import safe_next

    assert safe_next(target) == expected


@pytest.mark.parametrize("hostile", ["/%09/evil.example", "//evil.example", "/\\evil.example"])
async def test_htmx_sign_in_never_redirects_to_another_origin(
    client: Any, world: World, hostile: str
) -> None:
    page = client.get("/login", params={"next": hostile})
    assert "evil.example" not in page.text
    token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert token
    form = {"login": "alice", "password": PASSWORD, "next": hostile, "_csrf_token": token.group(1)}
    r = client.post("/login", data=form, headers={"HX-Request": "true"})
    assert r.status_code in (200, 201) and r.headers["hx-redirect"] == "/my"


def own_app(world: World, tmp: Path, **config: Any) -> Litestar:
    from market.core.settings import Settings
    from web.app import create_app
    from web.config import WebConfig

    settings = Settings(data_dir=tmp, database_url=world.db.url, secret_key="test-secret")
    options: dict[str, Any] = {"secure_cookies": False, "order_rate": ("second", 1000), **config}
    return create_app(settings, config=WebConfig(**options), clock=world.clock)


def attempt(client: Any, login: str, address: str, password: str = "wrong-password") -> int:
    r = client.post(
        "/api/v1/auth/token",
        json={"login": login, "password": password},
        headers={"X-Forwarded-For": address},
    )
    return int(r.status_code)


async def test_sign_in_is_throttled_per_account_across_addresses(
    world: World, tmp_path: Path
) -> None:
    app = own_app(
        world,
        tmp_path,
        signin_rate=("minute", 1000),
        signin_account_rate=("hour", 3),
        trusted_proxies=frozenset({"testclient"}),
    )
    with TestClient(app=app) as client:
        codes = [attempt(client, "alice", f"203.0.113.{n}") for n in range(4)]
        assert codes == [401, 401, 401, 429]
        # even the right password waits: the account's window is spent
        assert attempt(client, "Alice ", "203.0.113.77", PASSWORD) == 429
        assert attempt(client, "bob", "203.0.113.78", PASSWORD) == 201


async def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(
    world: World, tmp_path: Path
) -> None:
    app = own_app(world, tmp_path, signin_rate=("minute", 3), signin_account_rate=("hour", 1000))
    with TestClient(app=app) as client:
        codes = [attempt(client, f"user{n}", f"198.51.100.{n}") for n in range(4)]
        assert codes == [401, 401, 401, 429], "rotating X-Forwarded-For must not reset the limit"


def test_client_address_walks_forwarded_for_from_the_trusted_end() -> None:
    from web.auth import client_address

    def scope(peer: str, forwarded: str | None) -> Any:
        headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
        return {"client": (peer, 1234), "headers": headers}

    assert client_address(scope("10.0.0.2", "1.2.3.4"), frozenset()) == "10.0.0.2"
    assert client_address(scope("10.0.0.2", "1.2.3.4"), frozenset({"10.0.0.9"})) == "10.0.0.2"
    trusted = frozenset({"10.0.0.2", "10.0.0.3"})
    assert client_address(scope("10.0.0.2", "6.6.6.6, 1.2.3.4"), trusted) == "1.2.3.4"
    assert client_address(scope("10.0.0.2", "6.6.6.6, 1.2.3.4, 10.0.0.3"), trusted) == "1.2.3.4"
    assert client_address(scope("10.0.0.2", "6.6.6.6, 1.2.3.4"), frozenset({"*"})) == "1.2.3.4"
    assert client_address(scope("10.0.0.2", None), frozenset({"*"})) == "10.0.0.2"


async def test_websocket_refuses_another_sites_origin(client: Any, world: World) -> None:
    from litestar.exceptions import WebSocketDisconnect

    sign_in(client, "alice")
    with (
        pytest.raises(WebSocketDisconnect),
        client.websocket_connect(
            "/ws/live?page=live", headers={"Origin": "https://evil.example"}
        ) as ws,
    ):
        ws.receive_text()
    with client.websocket_connect(
        "/ws/live?page=live", headers={"Origin": "http://testserver.local"}
    ) as ws:
        ws.send_text("ping")  # accepted: same host


async def test_websocket_origin_follows_the_configured_site(world: World, tmp_path: Path) -> None:
    from litestar.exceptions import WebSocketDisconnect

    app = own_app(world, tmp_path, site_origins=frozenset({"https://klaster.example"}))
    with TestClient(app=app) as client:
        sign_in(client, "alice")
        with client.websocket_connect(
            "/ws/live", headers={"Origin": "https://klaster.example"}
        ) as ws:
            ws.send_text("ping")
        with (
            pytest.raises(WebSocketDisconnect),
            client.websocket_connect(
                "/ws/live", headers={"Origin": "http://testserver.local"}
            ) as ws,
        ):
            ws.receive_text()


async def test_open_websocket_of_a_deactivated_member_is_closed(client: Any, world: World) -> None:
    from litestar.exceptions import WebSocketDisconnect

    coord = token_for(client, "coord")
    sign_in(client, "alice")
    with client.websocket_connect("/ws/live?page=live") as ws:
        r = client.post(f"/api/v1/members/{world.ids['alice']}/deactivate", headers=coord)
        assert r.status_code == 200
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
    assert closed.value.code == 4401


async def test_feed_socket_closes_when_its_token_is_revoked(client: Any, world: World) -> None:
    from litestar.exceptions import WebSocketDisconnect

    alice = token_for(client, "alice")
    token_id = client.get("/api/v1/tokens", headers=alice).json()[0]["id"]
    with client.websocket_connect("/api/v1/feed", headers=alice) as ws:
        other = token_for(client, "alice")
        assert client.delete(f"/api/v1/tokens/{token_id}", headers=other).status_code == 200
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
    assert closed.value.code == 4401
