"""One order pipeline (`market.trading.pipeline`) behind every entry point: the page handler
(POST /my/orders), the API (POST /api/v1/orders, its group commit) and standing orders give
the same field and message id for the same bad order, store nothing when they reject it, and
store the same row for the same good order. And a page order costs no more SQL statements
than a whole batch of the API's."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from litestar.utils import ensure_async_callable
from sqlalchemy import event, select

from market.access.models import AuditEntry
from market.cluster.service import get_cluster
from market.core.errors import KlasterError
from market.db.engine import unit_of_work
from market.trading import orders, pipeline, standing
from market.trading.models import Interval, Order
from market.trading.order_input import parse_order, parse_standing
from tests.support.market import PASSWORD, World, snapshot

pytestmark = pytest.mark.anyio


@dataclass
class App:
    client: TestClient[Litestar]
    #: The market errors the app raised, in order (captured before they become responses).
    errors: list[KlasterError]
    token: str


@pytest.fixture
def app(world: World) -> Iterator[App]:
    from market.core.settings import Settings
    from web.app import create_app
    from web.config import WebConfig

    settings = Settings(data_dir=Path("."), database_url=world.db.url, secret_key="test-secret")
    config = WebConfig(secure_cookies=False, order_rate=("second", 1000))
    litestar = create_app(settings, config=config, clock=world.clock)
    errors: list[KlasterError] = []

    def capture(exc: Exception, _scope: Any) -> None:
        if isinstance(exc, KlasterError):
            errors.append(exc)

    litestar.after_exception.append(ensure_async_callable(capture))
    with TestClient(app=litestar) as client:
        page = client.get("/login")
        csrf = re.search(r'name="_csrf_token" value="([^"]+)"', page.text)
        assert csrf
        form = {"login": "alice", "password": PASSWORD, "_csrf_token": csrf.group(1)}
        assert client.post("/login", data=form).status_code == 200
        r = client.post("/api/v1/auth/token", json={"login": "alice", "password": PASSWORD})
        assert r.status_code == 201
        yield App(client, errors, r.json()["token"])


def good_fields(world: World, interval_id: int) -> dict[str, Any]:
    return {
        "interval_id": interval_id,
        "metering_point_id": world.alice_mp,
        "side": "sell",
        "quantity_kwh": "5",
        "price": "0.30",
    }


def via_page(app: App, fields: dict[str, Any]) -> int:
    form = {k: str(v) for k, v in fields.items()}
    headers = {"HX-Request": "true", "x-csrftoken": str(app.client.cookies.get("csrftoken"))}
    return app.client.post("/my/orders", data=form, headers=headers).status_code


def via_api(app: App, fields: dict[str, Any]) -> int:
    headers = {"Authorization": f"Bearer {app.token}"}
    return app.client.post("/api/v1/orders", json=fields, headers=headers).status_code


def rule_fields(world: World, change: dict[str, Any]) -> dict[str, Any]:
    """The order's values as a standing order's (an order's interval is not a rule's)."""
    fields = good_fields(world, 0) | change
    return {k: v for k, v in fields.items() if k != "interval_id"}


async def make_rule(world: World, change: dict[str, Any]) -> int:
    """A standing order with the order's values (a rule is refused when it is made)."""
    rule_input = parse_standing(rule_fields(world, change))
    async with unit_of_work(world.db.sessions) as s:
        return (await standing.create_standing_order(s, world.alice, world.clock, rule_input)).id


async def place_rule_order(world: World, rule_id: int, interval: Interval) -> KlasterError:
    """The rule's order placed into `interval` (a rule's order is refused when it is placed;
    nothing is committed either way)."""
    async with world.session() as s:
        rule = await s.get(standing.StandingOrder, rule_id)
        assert rule is not None
        placement = await standing.materialise(
            s, await get_cluster(s), [interval], [rule], clock=world.clock
        )
    (outcome,) = placement.outcomes
    assert isinstance(outcome, KlasterError), outcome
    return outcome


BAD_ORDERS = ["quantity", "price band", "someone else's point", "closed gate", "unknown interval"]


@pytest.mark.parametrize("kind", BAD_ORDERS)
async def test_a_bad_order_gets_the_same_error_from_every_entry_point_and_stores_nothing(
    world: World, app: App, kind: str
) -> None:
    first, second = (await world.open_intervals())[:2]
    interval = second
    change: dict[str, Any] = {}
    if kind == "quantity":
        change = {"quantity_kwh": "0"}
    elif kind == "price band":
        change = {"price": "0.95"}
    elif kind == "someone else's point":
        change = {"metering_point_id": world.bob_mp}
    elif kind == "closed gate":
        world.clock.set(first.gate_closure_utc + timedelta(seconds=1))
        interval = first
    else:
        interval = Interval(
            id=999,
            start_utc=second.start_utc + timedelta(days=1),
            minutes=15,
            gate_closure_utc=second.gate_closure_utc + timedelta(days=1),
            local_day=second.local_day + timedelta(days=1),
            number=1,
            status="open",
        )
    fields = good_fields(world, interval.id) | change
    rule_id = None
    if kind in ("closed gate", "unknown interval"):  # a good rule, whose order cannot go there
        rule_id = await make_rule(world, change)
    before = await snapshot(world.db)

    page_status = via_page(app, fields)
    api_status = via_api(app, fields)
    assert await snapshot(world.db) == before
    if rule_id is None:
        with pytest.raises(KlasterError) as refused:
            await make_rule(world, change)
        from_standing = refused.value
    else:
        from_standing = await place_rule_order(world, rule_id, interval)
    assert await snapshot(world.db) == before

    from_page, from_api = app.errors
    assert page_status == api_status == from_page.status_code
    seen = {(e.field, e.message_id, type(e)) for e in (from_page, from_api, from_standing)}
    assert len(seen) == 1, seen
    assert from_page.params == from_api.params
    field = from_page.field
    expected = {
        "quantity": "quantity_kwh",
        "price band": "price",
        "someone else's point": "metering_point_id",
        "closed gate": "interval_id",
        "unknown interval": "interval_id",
    }
    assert field == expected[kind]
    if kind == "closed gate":
        gate_closure = from_page.params["gate_closure"]
        assert gate_closure == first.gate_closure_utc and gate_closure.tzinfo is not None
    assert world.publisher.of("orderbook") == []


CONTENT = ("member_id", "metering_point_id", "interval_id", "side", "quantity_kwh", "price")
CONTENT += ("status", "accepted_kwh", "clearing_price", "amount_pln")


async def test_a_good_order_stores_the_same_row_through_every_entry_point(
    world: World, app: App
) -> None:
    first = (await world.open_intervals())[0]
    fields = good_fields(world, first.id)
    assert via_page(app, fields | {"client_order_id": "from-page"}) == 200
    assert via_api(app, fields | {"client_order_id": "from-api"}) == 201
    await make_rule(world, {"hour_from": 12, "hour_to": 13})  # 10:15 UTC is 12:15 in Warsaw
    async with world.session() as s:
        rows = list(
            await s.scalars(select(Order).where(Order.interval_id == first.id).order_by(Order.id))
        )
        audited = list(
            await s.scalars(
                select(AuditEntry).where(AuditEntry.entity == "order").order_by(AuditEntry.id)
            )
        )
    assert app.errors == []
    page, api, rule = rows
    assert (page.client_order_id, api.client_order_id) == ("from-page", "from-api")
    assert rule.standing_order_id is not None and page.standing_order_id is None
    contents = {tuple(getattr(row, c) for c in CONTENT) for row in rows}
    assert len(contents) == 1, contents
    # The page and the API audit the same way (a rule's orders are audited by the rule).
    assert [(e.action, e.entity_id) for e in audited] == [("place", str(page.id)),
                                                          ("place", str(api.id))]  # fmt: skip
    details = [{k: v for k, v in (e.details or {}).items() if k != "client_order_id"}
               for e in audited]  # fmt: skip
    assert details[0] == details[1]


class StatementCounter:
    """Every SQL statement sent on an engine, and how many of them name `intervals`."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine.sync_engine
        self.statements: list[str] = []

    def __enter__(self) -> StatementCounter:
        event.listen(self.engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *_: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        self.statements.append(statement)

    @property
    def on_intervals(self) -> int:
        return sum(1 for s in self.statements if re.search(r"\bintervals\b", s))


async def test_a_page_order_costs_no_more_statements_than_an_api_batch(world: World) -> None:
    intervals = await world.open_intervals()
    batch = [
        pipeline.Submission(
            world.alice,
            parse_order(
                good_fields(world, intervals[k % 3].id) | {"client_order_id": f"batch-{k}"}
            ),
        )
        for k in range(20)
    ]
    with StatementCounter(world.db.engine) as in_batch:
        async with unit_of_work(world.db.sessions) as s:
            placement = await pipeline.place(s, world.clock, batch)
    assert all(not isinstance(o, KlasterError) for o in placement.outcomes)
    # What the page handler calls for one order (with the form's idempotency key).
    order = parse_order(good_fields(world, intervals[0].id) | {"client_order_id": "page-1"})
    with StatementCounter(world.db.engine) as one:
        async with unit_of_work(world.db.sessions) as s:
            await orders.place_order(s, world.alice, world.clock, order)
    assert len(one.statements) <= len(in_batch.statements), one.statements
    assert len(one.statements) <= 8, one.statements  # was ~17 before the pipeline
    # was 8 on `intervals`: now the FOR SHARE read (and SQLite's re-check of the gate)
    assert one.on_intervals <= (2 if world.db.backend == "sqlite" else 1), one.statements
