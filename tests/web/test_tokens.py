"""API tokens: expiry, last use, members list and revoke their own (page and API), the
coordinator anyone's; a revoked token stops at once. Someone else's order or standing order
answers 404 exactly as an unused id."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests.support.world import World, htmx_headers, run_in_app, sign_in, token_for

pytestmark = pytest.mark.anyio


def tokens(client: Any, headers: dict[str, str], **params: str) -> list[dict[str, Any]]:
    r = client.get("/api/v1/tokens", headers=headers, params=params)
    assert r.status_code == 200, r.text
    result: list[dict[str, Any]] = r.json()
    return result


async def test_a_new_token_expires_after_the_configured_days(client: Any, world: World) -> None:
    alice = token_for(client, "alice")
    (mine,) = tokens(client, alice)
    created = datetime.fromisoformat(mine["created_at"])
    expires = datetime.fromisoformat(mine["expires_at"])
    assert expires - created == timedelta(days=90)
    assert mine["last_used_at"] is not None  # the listing itself used it


async def test_an_expired_token_is_refused(client: Any, world: World) -> None:
    from market.access.models import ApiToken
    from market.db.engine import unit_of_work
    from web.config import app_services

    alice = token_for(client, "alice")
    assert client.get("/api/v1/me", headers=alice).status_code == 200

    async def expire() -> None:
        async with unit_of_work(app_services(client.app).session_factory) as session:
            for token in (await session.scalars(select(ApiToken))).all():
                token.expires_at = datetime.now(UTC) - timedelta(seconds=1)

    run_in_app(client, expire)
    r = client.get("/api/v1/me", headers=alice)
    assert r.status_code == 401


async def test_members_list_and_revoke_their_own_tokens_only(client: Any, world: World) -> None:
    alice = token_for(client, "alice")
    alice2 = token_for(client, "alice")
    bob = token_for(client, "bob")
    mine = tokens(client, alice)
    assert len(mine) == 2 and {t["member_id"] for t in mine} == {world.ids["alice"]}
    bobs = tokens(client, bob)[0]["id"]
    # someone else's token: 404, as an id that does not exist; it keeps working
    other = client.delete(f"/api/v1/tokens/{bobs}", headers=alice)
    unused = client.delete("/api/v1/tokens/999999", headers=alice)
    assert other.status_code == unused.status_code == 404
    assert other.json()["message_id"] == unused.json()["message_id"]
    assert client.get("/api/v1/me", headers=bob).status_code == 200
    # a member lists only their own; `everyone` is the coordinator's
    assert (
        client.get("/api/v1/tokens", headers=alice, params={"everyone": "true"}).status_code == 403
    )
    first = mine[-1]["id"]
    r = client.delete(f"/api/v1/tokens/{first}", headers=alice2)
    assert r.status_code == 200 and r.json()["revoked"] is True
    assert client.get("/api/v1/me", headers=alice).status_code == 401
    assert client.get("/api/v1/me", headers=alice2).status_code == 200


async def test_the_coordinator_revokes_anyones_token(client: Any, world: World) -> None:
    bob = token_for(client, "bob")
    coord = token_for(client, "coord")
    everyone = tokens(client, coord, everyone="true")
    bobs = next(t for t in everyone if t["member_id"] == world.ids["bob"])
    assert client.get("/api/v1/me", headers=bob).status_code == 200  # cached now
    assert client.delete(f"/api/v1/tokens/{bobs['id']}", headers=coord).status_code == 200
    assert client.get("/api/v1/me", headers=bob).status_code == 401


async def test_token_pages_list_and_revoke(client: Any, world: World) -> None:
    bob = token_for(client, "bob")
    sign_in(client, "alice")
    created = client.post("/my/token", headers=htmx_headers(client))
    assert created.status_code == 200 and 'hx-get="/account/tokens"' in created.text
    listing = client.get("/account/tokens", headers=htmx_headers(client))
    assert listing.status_code == 200 and "web" in listing.text
    (token_id,) = [int(n) for n in re.findall(r'id="token-(\d+)"', listing.text)]
    r = client.post(f"/account/tokens/{token_id}/revoke", headers=htmx_headers(client))
    assert r.status_code == 200 and "unieważniony" in r.text
    # bob's token through alice's page: 404, and it keeps working
    bobs = tokens(client, bob)[0]["id"]
    r = client.post(f"/account/tokens/{bobs}/revoke", headers=htmx_headers(client))
    assert r.status_code == 404
    assert client.get("/api/v1/me", headers=bob).status_code == 200
    assert client.get("/coordinator/tokens").status_code == 403

    client.post("/logout", headers=htmx_headers(client))
    sign_in(client, "coord")
    page = client.get("/coordinator/tokens")
    assert page.status_code == 200 and "Bogdan" in page.text
    r = client.post(f"/coordinator/tokens/{bobs}/revoke", headers=htmx_headers(client))
    assert r.status_code == 200
    assert client.get("/api/v1/me", headers=bob).status_code == 401


def _open_interval(client: Any, headers: dict[str, str]) -> int:
    intervals = client.get("/api/v1/intervals", headers=headers).json()
    return int(next(iv["id"] for iv in intervals["open"] if iv["accepting_orders"]))


async def test_someone_elses_order_answers_like_an_unused_id(client: Any, world: World) -> None:
    bob = token_for(client, "bob")
    alice = token_for(client, "alice")
    interval_id = _open_interval(client, bob)
    order = {"interval_id": interval_id, "metering_point_id": world.ids["bob_point"],
             "side": "buy", "quantity_kwh": "1", "price": "0.5"}  # fmt: skip
    placed = client.post("/api/v1/orders", json=order, headers=bob).json()
    unused = placed["id"] + 1000
    for method, body in (("DELETE", None), ("PATCH", {"price": "0.2"})):
        theirs = client.request(method, f"/api/v1/orders/{placed['id']}", json=body, headers=alice)
        nobody = client.request(method, f"/api/v1/orders/{unused}", json=body, headers=alice)
        assert theirs.status_code == nobody.status_code == 404, theirs.text
        a, b = theirs.json(), nobody.json()
        assert (a["field"], a["message_id"]) == (b["field"], b["message_id"])
    assert client.get("/api/v1/orders", headers=bob).json()[0]["status"] == "open"


async def test_someone_elses_standing_order_answers_like_an_unused_id(
    client: Any, world: World
) -> None:
    bob = token_for(client, "bob")
    alice = token_for(client, "alice")
    rule = {"metering_point_id": world.ids["bob_point"], "side": "buy", "quantity_kwh": "1",
            "price": "0.5"}  # fmt: skip
    created = client.post("/api/v1/standing-orders", json=rule, headers=bob)
    assert created.status_code == 201, created.text
    rule_id = created.json()["id"]
    theirs = client.delete(f"/api/v1/standing-orders/{rule_id}", headers=alice)
    nobody = client.delete(f"/api/v1/standing-orders/{rule_id + 1000}", headers=alice)
    assert theirs.status_code == nobody.status_code == 404
    assert theirs.json()["message_id"] == nobody.json()["message_id"]
    assert len(client.get("/api/v1/standing-orders", headers=bob).json()) == 1
