"""Bad input never gives a 500 (issue 15): each case answers 4xx naming the field, in the
page's language, and stores nothing. On SQLite and on PostgreSQL (the `world` fixture)."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from tests.support.world import ALICE_PPE, World, htmx_headers, sign_in, token_for

pytestmark = pytest.mark.anyio

BIG = 2**31  # beyond PostgreSQL's integer
HUGE = 2**70  # beyond SQLite's 64-bit integer


def _bad(r: Any, field: str | None = None, status: int = 422) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.text[:400])
    body: dict[str, Any] = r.json()
    assert set(body) == {"error", "field", "message", "message_id", "params"}, body
    if field is not None:
        assert body["field"] == field, body
    return body


def _order(world: World, **change: Any) -> dict[str, Any]:
    return {
        "interval_id": 1,
        "metering_point_id": world.ids["alice_point"],
        "side": "buy",
        "quantity_kwh": "1",
        "price": "0.5",
        **change,
    }


async def _count(world: World, table: str) -> int:
    from sqlalchemy import text

    async with world.db.session() as s:
        return int((await s.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())


# --- NUL bytes -----------------------------------------------------------------------------


async def test_nul_in_token_request_and_login(world: World, client: TestClient[Litestar]) -> None:
    tokens = await _count(world, "api_tokens")
    r = client.post("/api/v1/auth/token", json={"login": "ali\x00ce", "password": "x"})
    _bad(r, "login")
    r = client.post("/api/v1/auth/token", json={"login": "alice", "password": "x\x00"})
    _bad(r, "password")
    page = sign_in(client, "ali\x00ce")
    assert page.status_code == 422 and "login" in page.text
    assert "znak" in page.text  # the page's language: Polish by default
    assert await _count(world, "api_tokens") == tokens


async def test_nul_in_json_body_query_and_static_path(
    world: World, client: TestClient[Litestar]
) -> None:
    coord = token_for(client, "coord")
    r = client.post(
        "/api/v1/network/nodes", json={"code": "N\x009", "name": "x", "kind": "station"},
        headers=coord,
    )  # fmt: skip
    _bad(r, "code")
    r = client.get("/api/v1/audit", params={"action": "a\x00"}, headers=coord)
    assert r.status_code in (400, 422) and r.json()["field"] == "action"
    assert client.get("/static/%00").status_code == 404
    assert client.get("/static/x%00.css").status_code == 404


# --- ids out of range ----------------------------------------------------------------------


@pytest.mark.parametrize("big", [BIG, HUGE, -BIG - 1])
async def test_ids_beyond_the_integer_range(
    world: World, client: TestClient[Litestar], big: int
) -> None:
    alice = token_for(client, "alice")
    coord = token_for(client, "coord")
    assert client.get(f"/api/v1/intervals/{big}/book", headers=alice).status_code == 404
    assert client.delete(f"/api/v1/orders/{big}", headers=alice).status_code == 404
    r = client.patch(f"/api/v1/network/lines/{big}", json={"name": "x"}, headers=coord)
    assert r.status_code == 404
    r = client.get("/api/v1/orders", params={"interval_id": big}, headers=alice)
    assert r.status_code in (200, 404, 422)
    orders = await _count(world, "orders")
    _bad(client.post("/api/v1/orders", json=_order(world, interval_id=big), headers=alice))
    r = client.post("/api/v1/orders", json=_order(world, metering_point_id=big), headers=alice)
    assert r.status_code in (403, 404, 422)
    assert await _count(world, "orders") == orders


# --- numbers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("quantity_kwh", "1e999999999"),
        ("quantity_kwh", "1e-999999999"),
        ("quantity_kwh", "0.0000001"),
        ("price", "1e999999999"),
        ("quantity_kwh", "\u0661\u0662"),  # Arabic-Indic digits
        ("price", "\uff10.5"),  # a full-width zero
    ],
)
async def test_bad_numbers_in_an_order(
    world: World, client: TestClient[Litestar], field: str, value: str
) -> None:
    alice = token_for(client, "alice")
    orders = await _count(world, "orders")
    _bad(client.post("/api/v1/orders", json=_order(world, **{field: value}), headers=alice), field)
    assert await _count(world, "orders") == orders


@pytest.mark.parametrize("capacity", ["1e-999999999", "0.0001", "1e999999999", "\u0665"])
async def test_line_capacity_never_stored_as_zero(
    world: World, client: TestClient[Litestar], capacity: str
) -> None:
    coord = token_for(client, "coord")
    body = {"code": "Lx", "from_node": "GPZ", "to_node": "S1", "capacity_kw": capacity}
    _bad(client.post("/api/v1/network/lines", json=body, headers=coord), "capacity_kw")


async def test_json_numbers_and_nesting(world: World, client: TestClient[Litestar]) -> None:
    alice = token_for(client, "alice")
    raw = '{"interval_id": 1e999999999, "metering_point_id": 1, "side": "buy"}'
    r = client.post(
        "/api/v1/orders", content=raw, headers={**alice, "Content-Type": "application/json"}
    )
    assert 400 <= r.status_code < 500
    deep = "[" * 5000 + "]" * 5000
    r = client.post(
        "/api/v1/orders", content=deep, headers={**alice, "Content-Type": "application/json"}
    )
    assert 400 <= r.status_code < 500
    _bad(r, status=r.status_code)


async def test_object_where_a_parameter_expects_text(
    world: World, client: TestClient[Litestar]
) -> None:
    coord = token_for(client, "coord")
    r = client.patch("/api/v1/parameters", json={"name": {"a": 1}}, headers=coord)
    _bad(r, "name")
    r = client.patch("/api/v1/parameters", json={"price_cap": [1]}, headers=coord)
    _bad(r, "price_cap")
    r = client.patch("/api/v1/parameters", json={"interval_minutes": "\u0661\u0665"}, headers=coord)
    _bad(r, "interval_minutes")


# --- exports -------------------------------------------------------------------------------


ENDS_OF_TIME = [("0001-01", None), ("9999-12", None), ("0001-01-01", "0001-01-02"),
                ("9999-12-31", None)]  # fmt: skip


@pytest.mark.parametrize(("start", "end"), ENDS_OF_TIME)
async def test_export_ranges_at_the_ends_of_time(
    world: World, client: TestClient[Litestar], start: str, end: str | None
) -> None:
    dso = token_for(client, "dso")
    params = {"start": start} | ({"end": end} if end else {})
    r = client.get("/api/v1/exports", params=params, headers=dso)
    assert r.status_code in (404, 422), (r.status_code, r.text[:300])
    assert r.json()["field"] in ("from", "to")


# --- meter-data uploads --------------------------------------------------------------------

HEADER = "ppe;interval_start;import_kwh;export_kwh;quality;resolution\r\n"


def _upload(client: TestClient[Litestar], body: bytes) -> Any:
    dso = {**token_for(client, "dso"), "Content-Type": "text/csv"}
    return client.post("/api/v1/meter-data", content=body, headers=dso)


async def test_upload_in_windows_1250_is_accepted(
    world: World, client: TestClient[Litestar]
) -> None:
    text = "ppe;interval_start;import_kwh;export_kwh;quality;resolution;uwagi\r\n" + (
        f"{ALICE_PPE};2026-06-15T08:00:00Z;1,5;0;measured;PT15M;zażółć gęślą jaźń\r\n"
    )
    r = _upload(client, text.encode("cp1250"))
    assert r.status_code == 200, r.text
    assert r.json()["stored"] == 1


async def test_upload_in_utf16_is_accepted(world: World, client: TestClient[Litestar]) -> None:
    text = HEADER + f"{ALICE_PPE};2026-06-15T08:00:00Z;1,5;0;measured;PT15M\r\n"
    r = _upload(client, text.encode("utf-16"))
    assert r.status_code == 200, r.text
    assert r.json()["stored"] == 1


@pytest.mark.parametrize(
    "body",
    [
        bytes(range(256)) * 8,  # binary
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(300),
        (HEADER + f"{ALICE_PPE};2026-06-15T08:00:00Z;1;0;measured;PT15M;" + "x" * 200_000).encode(),
        (HEADER + f'{ALICE_PPE};"2026-06-15T08:00:00Z;1;0;measured;PT15M\r\n').encode(),
        (HEADER + f"{ALICE_PPE};0001-01-01T00:00:00Z;1;0;measured;PT15M\r\n").encode(),
        (HEADER + f"{ALICE_PPE};9999-12-31T23:45:00Z;1;0;measured;PT15M\r\n").encode(),
        (HEADER + f"{ALICE_PPE};2026-06-15T08:00:00Z;1\x00;0;measured;PT15M\r\n").encode(),
    ],
    ids=["binary", "png", "200kB-field", "unclosed-quote", "year-1", "year-9999", "nul"],
)
async def test_bad_uploads_are_refused(
    world: World, client: TestClient[Litestar], body: bytes
) -> None:
    readings = await _count(world, "meter_readings")
    r = _upload(client, body)
    assert r.status_code == 422, (r.status_code, r.text[:300])
    assert r.json()["stored"] == 0 if "stored" in r.json() else r.json()["field"]
    assert await _count(world, "meter_readings") == readings


async def test_bad_upload_on_the_page_is_a_polish_422(
    world: World, client: TestClient[Litestar]
) -> None:
    sign_in(client, "dso")
    r = client.post(
        "/distributor/meter-data",
        files={"file": ("m.csv", bytes(range(256)) * 8, "text/csv")},
        headers=htmx_headers(client),
    )
    assert r.status_code == 422 and "<html" not in r.text


# --- the database is down ------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["postgresql+asyncpg://klaster@127.0.0.1:9/none", "sqlite+aiosqlite:////nonexistent/dir/x.db"],
    ids=["postgresql", "sqlite"],
)
def test_unreachable_database_is_503(url: str) -> None:
    from datetime import UTC, datetime
    from pathlib import Path

    from market.core.clock import ManualClock
    from market.core.settings import Settings
    from web.app import create_app
    from web.config import WebConfig

    settings = Settings(data_dir=Path("."), database_url=url, secret_key="test-secret")
    app = create_app(
        settings, config=WebConfig(secure_cookies=False),
        clock=ManualClock(datetime(2026, 6, 15, tzinfo=UTC)),
    )  # fmt: skip
    with TestClient(app=app) as client:
        r = client.post("/api/v1/auth/token", json={"login": "alice", "password": "x"})
        body = _bad(r, status=503)
        assert body["error"] == "ServiceUnavailable" and r.headers["retry-after"]
        r = client.get("/api/v1/intervals", headers={"Authorization": "Bearer x"})
        assert r.status_code == 503
        page = sign_in(client, "alice")
        assert page.status_code == 503 and "Baza danych" in page.text
