"""A second check of the running product from outside (branch `outside3`, 2026-12-02): each
test is one finding's reproduction, answered as it should be. The numbers in the section
titles are the findings' numbers in the branch's report."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from tests.support.world import (
    ALICE_PPE,
    World,
    csrf_of,
    htmx_headers,
    sign_in,
    token_for,
)

pytestmark = pytest.mark.anyio


async def _count(world: World, table: str) -> int:
    from sqlalchemy import text

    async with world.db.session() as s:
        return int((await s.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())


def _place(client: TestClient[Litestar], headers: dict[str, str]) -> dict[str, Any]:
    point = client.get("/api/v1/metering-points", headers=headers).json()[0]["id"]
    interval = client.get("/api/v1/intervals", headers=headers).json()["open"][0]["id"]
    order = {"interval_id": interval, "metering_point_id": point, "side": "buy"}
    order |= {"quantity_kwh": "1", "price": "0.5"}
    r = client.post("/api/v1/orders", json=order, headers=headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


# --- 1. signing out closes the session's open socket ---------------------------------------


async def test_sign_out_closes_the_sessions_socket(world: World, client: Any) -> None:
    from litestar.exceptions import WebSocketDisconnect

    sign_in(client, "alice")
    csrf = csrf_of(client)
    with client.websocket_connect("/ws/live?page=live") as ws:
        r = client.post("/logout", headers={"x-csrftoken": csrf}, follow_redirects=False)
        assert r.status_code == 303
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
    assert closed.value.code == 4401


async def test_a_signed_out_session_event_from_another_process_closes_the_socket(
    world: World, client: Any
) -> None:
    """What another process announces (`{"sessions": [key]}` on the access channel) closes
    this process's socket of that session; other sessions' sockets stay open."""
    from litestar.exceptions import WebSocketDisconnect

    from web.auth import SESSION_COOKIE, session_key
    from web.config import ACCESS_CHANNEL, app_services

    sign_in(client, "alice")
    key = session_key(str(client.cookies.get(SESSION_COOKIE)))
    services = app_services(client.app)
    channel = services.web_config.channel_prefix + ACCESS_CHANNEL
    with client.websocket_connect("/ws/live?page=live") as ws:
        services.channels_plugin.publish({"sessions": [key]}, channels=[channel])
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
    assert closed.value.code == 4401


# --- 2. a missing or out-of-range query parameter is named ---------------------------------


async def test_missing_or_out_of_range_query_parameters_are_named(
    world: World, client: TestClient[Litestar]
) -> None:
    alice = token_for(client, "alice")
    r = client.get("/api/v1/results", headers=alice)
    assert r.status_code == 400 and r.json()["field"] == "day", r.text
    for url in ("/api/v1/orders?limit=0", "/api/v1/orders?limit=5000"):
        r = client.get(url, headers=alice)
        assert r.status_code == 400 and r.json()["field"] == "limit", (url, r.text)
    r = client.get("/api/v1/results/latest?limit=-1", headers=alice)
    assert r.status_code == 400 and r.json()["field"] == "limit", r.text
    assert client.get("/api/v1/orders?limit=5", headers=alice).status_code == 200
    sign_in(client, "coord")
    for url, name in (("/coordinator/members?page=0", "page"), ("/statement/day", "day")):
        r = client.get(url)
        assert 400 <= r.status_code < 500, (url, r.status_code)
        assert f"parametru {name}" in r.text, (url, r.text[-800:])
    for url in ("/results?day=9999-01-01", "/day-ahead?day=0001-01-01"):
        r = client.get(url)
        assert r.status_code == 422 and "rok musi być między 2000 a 2099" in r.text, url


# --- 3. an unknown query parameter of the API is refused by name ---------------------------


async def test_unknown_api_query_parameter_is_a_422_naming_it(
    world: World, client: TestClient[Litestar]
) -> None:
    alice = token_for(client, "alice")
    r = client.get("/api/v1/orders?lmit=5", headers=alice)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["field"] == "lmit"
    assert "limit" in body["params"]["choices"]
    r = client.get("/api/v1/intervals?foo=1", headers=alice)
    assert r.status_code == 422 and r.json()["field"] == "foo"
    # the parameters an endpoint takes still pass, an alias and a date among them
    assert client.get("/api/v1/results?day=2026-06-15", headers=alice).status_code == 200
    assert client.get("/api/v1/orders?status=open&limit=3", headers=alice).status_code == 200


# --- 4. a missing body field is named -----------------------------------------------------


async def test_missing_body_field_is_named(world: World, client: TestClient[Litestar]) -> None:
    alice = token_for(client, "alice")
    r = client.post("/api/v1/orders", json={}, headers=alice)
    assert 400 <= r.status_code < 500 and r.json()["field"] == "interval_id", r.text
    coord = token_for(client, "coord")
    members = await _count(world, "members")
    r = client.post("/api/v1/members", json={"login": "zofia"}, headers=coord)
    assert 400 <= r.status_code < 500 and r.json()["field"] == "name", r.text
    assert await _count(world, "members") == members


# --- 5. saving another member's order: 404, nothing shown, nothing changed -----------------


async def test_saving_another_members_order_is_a_plain_404(
    world: World, client: TestClient[Litestar]
) -> None:
    order = _place(client, token_for(client, "alice"))
    bob = token_for(client, "bob")
    r = client.patch(f"/api/v1/orders/{order['id']}", json={"quantity_kwh": "2"}, headers=bob)
    assert r.status_code == 404 and r.json()["field"] == "order_id", r.text
    sign_in(client, "bob")
    form = {"quantity_kwh": "2", "price": "0,5"}
    r = client.post(f"/my/orders/{order['id']}", data=form, headers=htmx_headers(client))
    assert r.status_code == 404, r.text
    assert "<form" not in r.text and "nie masz zlecenia" in r.text
    mine = client.get("/api/v1/orders", headers=token_for(client, "alice")).json()
    assert [o["quantity_kwh"] for o in mine] == ["1.000"]


# --- 6. statements API: staff name the member --------------------------------------------


async def test_statements_api_asks_staff_for_member_id(
    world: World, client: TestClient[Litestar]
) -> None:
    for login in ("coord", "dso"):
        r = client.get("/api/v1/statements/2026-06", headers=token_for(client, login))
        assert r.status_code == 422, r.text
        assert r.json()["field"] == "member_id"
    coord = token_for(client, "coord")
    r = client.get(f"/api/v1/statements/2026-06?member_id={world.ids['alice']}", headers=coord)
    assert r.status_code == 200 and r.json()["member_id"] == world.ids["alice"]
    r = client.get("/api/v1/statements/2026-06", headers=token_for(client, "alice"))
    assert r.status_code == 200 and r.json()["member_id"] == world.ids["alice"]


# --- 7. an oversized body: 413 in the page's language --------------------------------------


async def test_oversized_body_is_a_413_in_polish(
    world: World, client: TestClient[Litestar]
) -> None:
    sign_in(client, "coord")
    members = await _count(world, "members")
    big = {"name": "x" * (3 * 1024 * 1024)}
    r = client.post("/coordinator/members", data=big, headers=htmx_headers(client))
    assert r.status_code == 413
    assert "za duże" in r.text
    r = client.post("/coordinator/members", data=big, headers={"x-csrftoken": csrf_of(client)})
    assert r.status_code == 413 and "za duże" in r.text
    assert await _count(world, "members") == members


# --- 9. credentials in query strings are not logged ----------------------------------------


async def test_tokens_in_query_strings_are_redacted_in_logs(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    handler = next(h for h in logging.getLogger().handlers if h.get_name() == "klaster")
    secret = "kl_0123456789abcdefSECRET"
    for name, message, args in (
        ("uvicorn.error", '%s - "WebSocket %s" [accepted]', ("1.2.3.4:5", f"/ws?token={secret}")),
        ("uvicorn.access", '%s - "%s %s HTTP/%s" %d', ("1.2.3.4:5", "GET",
                                                       f"/api/v1/feed?page=1&token={secret}",
                                                       "1.1", 101)),
    ):  # fmt: skip
        record = logging.getLogger(name).makeRecord(
            name, logging.WARNING, __file__, 1, message, args, None
        )
        handler.handle(record)
    err = capsys.readouterr().err
    assert secret not in err
    assert err.count("token=***") == 2


# --- 11. a refused htmx sign-in keeps the form ---------------------------------------------


async def test_refused_htmx_sign_in_keeps_the_form(
    world: World, client: TestClient[Litestar]
) -> None:
    page = client.get("/login")
    token = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
    assert token
    form = {"login": "alice", "password": "wrong", "_csrf_token": token.group(1)}
    headers = {"HX-Request": "true", "x-csrftoken": token.group(1)}
    answers = [client.post("/login", data=form, headers=headers) for _ in range(6)]
    assert answers[0].status_code == 401
    assert answers[-1].status_code == 429  # the address's limit (5 a minute in the tests)
    for r in (answers[0], answers[-1]):
        assert '<form id="login-form"' in r.text, r.text
        assert 'value="alice"' in r.text
        assert 'class="alert error"' in r.text
    assert answers[-1].headers.get("retry-after")


# --- 12. no caching outside /static/ -----------------------------------------------------


async def test_responses_outside_static_are_not_stored(
    world: World, client: TestClient[Litestar]
) -> None:
    alice = token_for(client, "alice")
    assert client.get("/api/v1/me", headers=alice).headers.get("cache-control") == "no-store"
    assert client.get("/nothing-here").headers.get("cache-control") == "no-store"
    sign_in(client, "alice")
    for url in ("/my", "/statement", "/login"):
        assert client.get(url).headers.get("cache-control") == "no-store", url
    assert client.get("/static/klaster.css").headers.get("cache-control") != "no-store"


# --- 13. validity dates within 2000–2100 -------------------------------------------------


@pytest.mark.parametrize(
    ("dates", "field"),
    [
        ({"valid_from": "0001-01-01"}, "valid_from"),
        ({"valid_from": "2026-07-01", "valid_to": "9999-12-31"}, "valid_to"),
    ],
)
async def test_standing_order_dates_out_of_range_are_refused(
    world: World, client: TestClient[Litestar], dates: dict[str, str], field: str
) -> None:
    alice = token_for(client, "alice")
    point = client.get("/api/v1/metering-points", headers=alice).json()[0]["id"]
    rule = {"metering_point_id": point, "side": "buy", "quantity_kwh": "1", "price": "0.5"}
    before = await _count(world, "standing_orders")
    r = client.post("/api/v1/standing-orders", json=rule | dates, headers=alice)
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field
    assert await _count(world, "standing_orders") == before


async def test_fee_rate_dates_out_of_range_are_refused_in_polish(
    world: World, client: TestClient[Litestar]
) -> None:
    sign_in(client, "coord")
    before = await _count(world, "fee_rates")
    form = {"fee": "oze", "tariff_group": "", "rate_pln_per_kwh": "0,0035"}
    form |= {"valid_from": "0001-01-01", "valid_to": "", "note": ""}
    r = client.post("/coordinator/fee-rates", data=form, headers=htmx_headers(client))
    assert r.status_code == 422, r.text
    assert "rok musi być między 2000 a 2099" in r.text
    assert await _count(world, "fee_rates") == before


# --- 14. the web upload names the web form's field -----------------------------------------


async def test_meter_upload_names_the_forms_resolution_field(
    world: World, client: TestClient[Litestar]
) -> None:
    sign_in(client, "dso")
    csv = "ppe;interval_start;import_kwh;export_kwh;quality\n"
    csv += f"{ALICE_PPE};2026-06-01 00:00;1;0;measured\n"  # one row: no resolution to tell
    upload = {"file": ("m.csv", csv.encode(), "text/csv")}
    r = client.post("/distributor/meter-data", files=upload, headers=htmx_headers(client))
    assert r.status_code == 422, r.text
    assert "--resolution" not in r.text
    assert "Rozdzielczość" in r.text
    r = client.post(
        "/distributor/meter-data",
        files=upload,
        data={"resolution": "60"},
        headers=htmx_headers(client),
    )
    assert r.status_code == 200, r.text
    r = client.post(
        "/distributor/meter-data",
        files=upload,
        data={"resolution": "30"},
        headers=htmx_headers(client),
    )
    assert r.status_code == 422 and "15 lub 60" in r.text, r.text


# --- 15. the price band and the gate closure --------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"gate_closure_minutes": 0}, "gate_closure_minutes"),
        ({"price_cap": "0.2"}, "price_cap"),  # equal to the floor
        ({"price_cap": "-0.2"}, "price_cap"),  # the negative of the floor
        ({"price_floor": "0.89"}, "price_floor"),
    ],
)
async def test_parameters_keep_cap_above_floor_and_a_gate_closure(
    world: World, client: TestClient[Litestar], change: dict[str, Any], field: str
) -> None:
    coord = token_for(client, "coord")
    before = client.get("/api/v1/parameters", headers=coord).json()
    r = client.patch("/api/v1/parameters", json=change, headers=coord)
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field
    assert client.get("/api/v1/parameters", headers=coord).json() == before


# --- 16. a coordinator's /statement asks for a member --------------------------------------


async def test_statement_page_of_staff_asks_for_a_member(
    world: World, client: TestClient[Litestar]
) -> None:
    sign_in(client, "coord")
    r = client.get("/statement?month=2026-06")
    assert r.status_code == 200
    assert 'id="member-chooser"' in r.text
    assert f"member={world.ids['alice']}" in r.text and "Alicja Nowak" in r.text
    chooser = r.text.split('id="member-chooser"')[1].split("</section>")[0]
    assert "Koordynator" not in chooser  # staff have no statement to choose
    r = client.get(f"/statement?month=2026-06&member={world.ids['alice']}")
    assert r.status_code == 200 and 'id="member-chooser"' not in r.text
    client.cookies.clear()
    sign_in(client, "alice")
    assert 'id="member-chooser"' not in client.get("/statement?month=2026-06").text


# --- 8. a rate reads "per hour", not "a hour" ----------------------------------------------


async def test_rate_limit_message_says_per_hour() -> None:
    from types import SimpleNamespace

    from litestar.exceptions import TooManyRequestsException

    from web.ratelimit import MemoryCounters, RateLimit, enforce

    services: Any = SimpleNamespace(rate_counters=MemoryCounters())
    limit = RateLimit("signin_account", 1, "hour", lambda scope: "k")
    await enforce(services, limit, "k")
    with pytest.raises(TooManyRequestsException) as refused:
        await enforce(services, limit, "k")
    assert refused.value.detail == "too many requests: at most 1 per hour"


async def test_api_meter_upload_names_its_resolution_parameter(
    world: World, client: TestClient[Litestar]
) -> None:
    dso = token_for(client, "dso") | {"Content-Type": "text/csv"}
    csv = "ppe;interval_start;import_kwh;export_kwh;quality\n"
    csv += f"{ALICE_PPE};2026-06-01 00:00;1;0;measured\n"
    r = client.post("/api/v1/meter-data", content=csv.encode(), headers=dso)
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "resolution"
    assert "--resolution" not in r.text and "resolution=60" in r.text
    r = client.post("/api/v1/meter-data?resolution=60", content=csv.encode(), headers=dso)
    assert r.status_code == 200, r.text
