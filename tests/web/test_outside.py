"""What a checker from outside found on the running demo (branch `outside`, 2026-12-01): each
test is one finding's reproduction, now answered as it should be."""

from __future__ import annotations

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from tests.support.world import World, htmx_headers, sign_in, token_for

pytestmark = pytest.mark.anyio


async def _count(world: World, table: str) -> int:
    from sqlalchemy import text

    async with world.db.session() as s:
        return int((await s.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())


# --- a node named by an id no integer column holds: 500 -> 422 naming the field ----------


@pytest.mark.parametrize("node", ["99999999999999999999", "\u00b2", "\u0661"])
async def test_node_given_as_a_bad_id_is_a_422(
    world: World, client: TestClient[Litestar], node: str
) -> None:
    coord = token_for(client, "coord")
    lines = await _count(world, "lines")
    line = {"code": "LX", "from_node": node, "to_node": "S1", "capacity_kw": "10"}
    r = client.post("/api/v1/network/lines", json=line, headers=coord)
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "from_node"
    grid = {"node": node, "import_price": "0.8", "export_price": "0.2"}
    grid |= {"import_limit_kw": "100", "export_limit_kw": "100"}
    r = client.put("/api/v1/network/grid-connection", json=grid, headers=coord)
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "node"
    assert await _count(world, "lines") == lines


async def test_grid_form_with_a_bad_node_answers_in_polish(
    world: World, client: TestClient[Litestar]
) -> None:
    sign_in(client, "coord")
    form = {"node": "\u00b2", "import_price": "0,8", "export_price": "0,2"}
    form |= {"import_limit_kw": "100", "export_limit_kw": "100"}
    r = client.post("/coordinator/network/grid", data=form, headers=htmx_headers(client))
    assert r.status_code == 422, r.text[:300]
    assert "nieznany węzeł" in r.text


async def test_a_node_id_still_names_the_node(world: World, client: TestClient[Litestar]) -> None:
    """Ids keep working where a code is expected (what the `isdigit` branch was for)."""
    from sqlalchemy import text

    async with world.db.session() as s:
        s1 = (await s.execute(text("SELECT id FROM nodes WHERE code = 'S1'"))).scalar_one()
    coord = token_for(client, "coord")
    line = {"code": "LX", "from_node": "GPZ", "to_node": str(s1), "capacity_kw": "10"}
    r = client.post("/api/v1/network/lines", json=line, headers=coord)
    assert r.status_code == 201, r.text
    assert r.json()["to_node"] == "S1"


# --- answers of the input guard were logged and counted as 500s, without a request id ----


def _samples(method: str, route: str, status: str) -> float:
    from web.ops import REQUEST_SECONDS

    for metric in REQUEST_SECONDS.collect():
        for sample in metric.samples:
            labels = sample.labels
            if (
                sample.name.endswith("_count")
                and labels.get("method") == method
                and labels.get("route") == route
                and labels.get("status") == status
            ):
                return sample.value
    return 0.0


async def test_input_guard_answers_are_counted_with_their_status(
    world: World, client: TestClient[Litestar]
) -> None:
    alice = token_for(client, "alice")
    route = "/api/v1/intervals/{interval_id}/book"
    before = {s: _samples("GET", route, s) for s in ("404", "500")}
    r = client.get(f"/api/v1/intervals/{2**70}/book", headers=alice)
    assert r.status_code == 404
    assert r.headers.get("x-request-id")
    assert _samples("GET", route, "404") == before["404"] + 1
    assert _samples("GET", route, "500") == before["500"]
    # a refused JSON body (the guard reads it before any handler)
    orders = "/api/v1/orders"
    before_422 = _samples("POST", orders, "422")
    r = client.post(orders, json={"interval_id": 2**70}, headers=alice)
    assert r.status_code == 422
    assert r.headers.get("x-request-id")
    assert _samples("POST", orders, "422") == before_422 + 1


async def test_request_id_is_sent_once(world: World, client: TestClient[Litestar]) -> None:
    r = client.get("/login", headers={"X-Request-ID": "abc-123"})
    assert r.headers.get_list("x-request-id") == ["abc-123"]


# --- the audit log showed the day-ahead auction's entries as codes on the Polish page -----


async def test_day_ahead_audit_entries_are_in_polish(
    world: World, client: TestClient[Litestar]
) -> None:
    from market.access import audit

    async with world.db.session() as s:
        audit.record(s, None, "gate_closed", "day_ahead", "7", local_day="2026-06-16",
                     daily_orders=3, worker="w1")  # fmt: skip
        audit.record(s, None, "place", "block_group", 5, metering_point="590543500000000018",
                     local_day="daily", blocks=4)  # fmt: skip
        audit.record(s, None, "place", "storage_order", 6, local_day="2026-06-16",
                     soc_initial_kwh="1.5")  # fmt: skip
        await s.commit()
    sign_in(client, "coord")
    r = client.get("/coordinator/audit")
    assert r.status_code == 200
    for code in ("day_ahead", "local_day", "daily_orders", "block_group", "soc_initial_kwh"):
        assert code not in r.text, code
    for polish in ("aukcja dnia następnego", "złożone zlecenia codzienne", "grupa bloków"):
        assert polish in r.text, polish
    assert "początkowy stan naładowania (kWh): 1,5" in r.text


# --- a choice error listed the codes (household, business) under a select of Polish labels --


async def test_choice_errors_name_the_choices_as_the_page_does(
    world: World, client: TestClient[Litestar]
) -> None:
    sign_in(client, "coord")
    members = await _count(world, "members")
    form = {"name": "Nowy", "kind": "abc", "role": "member"}
    r = client.post("/coordinator/members", data=form, headers=htmx_headers(client))
    assert r.status_code == 422, r.text[:300]
    assert "gospodarstwo domowe, firma" in r.text
    assert "household, business" not in r.text
    assert await _count(world, "members") == members
    form = {"fee": "abc", "rate_pln_per_kwh": "0,1", "valid_from": "2026-01-01"}
    r = client.post("/coordinator/fee-rates", data=form, headers=htmx_headers(client))
    assert r.status_code == 422, r.text[:300]
    assert "opłata OZE, opłata kogeneracyjna" in r.text
    assert "oze, cogeneration" not in r.text
    # the API keeps the codes: they are what a program sends
    r = client.post(
        "/api/v1/members",
        json={"name": "Nowy", "kind": "abc"},
        headers=token_for(client, "coord"),
    )
    assert r.status_code == 422
    assert "household, business" in r.json()["message"]


# --- the address of a part opened in a browser was a bare fragment (no style, no lang) -----

NAVIGATE = {"Sec-Fetch-Dest": "document", "Sec-Fetch-Mode": "navigate"}


@pytest.mark.parametrize("path", ["/account/tokens", "/my/fills", "/my/price-hint"])
async def test_a_part_opened_as_a_page_gets_the_layout(
    world: World, client: TestClient[Litestar], path: str
) -> None:
    sign_in(client, "alice")
    page = client.get(path, headers=NAVIGATE)
    assert page.status_code == 200
    assert page.text.lstrip().startswith("<!doctype html>")
    assert '<html lang="pl">' in page.text and "/static/klaster.css" in page.text
    part = client.get(path, headers={"HX-Request": "true"})
    assert part.status_code == 200 and "<html" not in part.text
    assert part.text.strip() in page.text  # the same part, framed
    plain = client.get(path)  # a program (no Sec-Fetch-Dest): the part, as before
    assert "<html" not in plain.text


# --- an API body's unknown field was dropped without a word ------------------------------


async def test_unknown_fields_of_an_api_body_are_refused(
    world: World, client: TestClient[Litestar]
) -> None:
    alice = token_for(client, "alice")
    intervals = client.get("/api/v1/intervals", headers=alice).json()
    interval_id = next(iv["id"] for iv in intervals["open"] if iv["accepting_orders"])
    order = {"interval_id": interval_id, "metering_point_id": world.ids["alice_point"],
             "side": "sell", "quantity_kwh": "1", "price": "0.5"}  # fmt: skip
    orders = await _count(world, "orders")
    for extra in ({"status": "filled"}, {"member_id": world.ids["bob"]}):
        r = client.post("/api/v1/orders", json=order | extra, headers=alice)
        assert r.status_code == 422, r.text
        body = r.json()
        assert body["field"] == next(iter(extra))
        assert body["message_id"] == "unknown field; expected one of %(choices)s"
        assert "quantity_kwh" in body["params"]["choices"]
    assert await _count(world, "orders") == orders
    placed = client.post("/api/v1/orders", json=order, headers=alice)
    assert placed.status_code == 201, placed.text
    r = client.patch(f"/api/v1/orders/{placed.json()['id']}", json={"qty": "2"}, headers=alice)
    assert r.status_code == 422 and r.json()["field"] == "qty"
    coord = token_for(client, "coord")
    r = client.post("/api/v1/network/nodes", headers=coord,
                    json={"code": "N9", "name": "N9", "kind": "lv", "voltage": 400})  # fmt: skip
    assert r.status_code == 422 and r.json()["field"] == "voltage"


# --- the newest interval failed without a run: /live answered 404, live pushes failed -----


async def test_live_page_when_the_newest_interval_failed(
    world: World, client: TestClient[Litestar]
) -> None:
    from sqlalchemy import select, update

    from market.trading.models import Interval

    async with world.db.session() as s:
        first = await s.scalar(select(Interval.id).order_by(Interval.start_utc).limit(1))
        await s.execute(
            update(Interval)
            .where(Interval.id == first)
            .values(status="failed", reason="bad network or orders: node 'X' is not connected")
        )
        await s.commit()
    sign_in(client, "alice")
    r = client.get("/live")
    assert r.status_code == 200, r.text[:300]
    from market.core.clock import ManualClock
    from web.config import app_services
    from web.live.render import load_live_state

    services = app_services(client.app)
    clock = services.clock
    assert isinstance(clock, ManualClock)

    async def state() -> object:
        async with services.session_factory() as session:
            return await load_live_state(session, clock)

    live = client.blocking_portal.call(state)
    assert live.latest and live.latest[0].status == "failed"  # type: ignore[attr-defined]
    assert live.result is None  # type: ignore[attr-defined]


# --- a page's bad query parameter: an error page that did not say which parameter ---------


async def test_a_pages_bad_parameter_is_named(world: World, client: TestClient[Litestar]) -> None:
    sign_in(client, "coord")
    r = client.get("/coordinator/members", params={"page": "\u00b2"})
    assert r.status_code == 400
    assert "Nieprawidłowa wartość parametru page" in r.text
    r = client.get("/coordinator/members", params={"page": "9" * 30})
    assert r.status_code == 422
    assert "page: wartość musi być między" in r.text
    r = client.get("/api/v1/orders", params={"interval_id": "9" * 30},
                   headers=token_for(client, "alice"))  # fmt: skip
    assert r.status_code == 422 and r.json()["field"] == "interval_id"
    assert r.json()["message"].startswith("interval_id must be between")


# --- a node added without a line fails every clearing until the line comes (reported; the
# --- form now says so) ---------------------------------------------------------------------


async def test_adding_a_node_says_to_connect_it(world: World, client: TestClient[Litestar]) -> None:
    sign_in(client, "coord")
    form = {"code": "N9", "name": "Nowa stacja", "kind": "station"}
    r = client.post("/coordinator/network/nodes", data=form, headers=htmx_headers(client))
    assert r.status_code == 200, r.text[:300]
    assert "Połącz go teraz linią" in r.text
