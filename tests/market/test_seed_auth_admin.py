"""Demo seed, sign-in and tokens, the append-only audit log, coordinator services."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import anyio
import pytest
from sqlalchemy import func, select

from market.access import auth
from market.access.audit import list_audit
from market.access.models import Member
from market.clearing.scheduler import Scheduler
from market.core.clock import ManualClock
from market.core.errors import Conflict, Forbidden, KlasterError, NotAuthenticated, ValidationFailed
from market.db.engine import unit_of_work
from market.demo.seed import DEMO_PASSWORD, seed_demo
from market.members import service as member_service
from market.members.inputs import parse_member, parse_metering_point
from market.members.ppe import is_valid_ppe
from market.network import service as network_service
from market.network.inputs import NodeChange, parse_grid_connection, parse_line, parse_node
from market.network.models import MeteringPoint
from market.trading import parameters as market_parameters
from market.trading.models import Order, StandingOrder
from market.trading.parameters import ParametersUpdate, parse_parameters
from tests.support.market import PASSWORD, World, execute, snapshot

pytestmark = pytest.mark.anyio
NOON = datetime(2026, 6, 15, 9, 50, tzinfo=UTC)


async def _demo_fingerprint(session: Any) -> list[tuple[Any, ...]]:
    rows = await session.execute(
        select(
            MeteringPoint.ppe_code,
            MeteringPoint.name,
            MeteringPoint.pv_kwp,
            MeteringPoint.annual_use_kwh,
        ).order_by(MeteringPoint.id)
    )
    prices = await session.scalars(select(StandingOrder.price).order_by(StandingOrder.id))
    return [tuple(r) for r in rows.all()] + [tuple(prices.all())]


async def test_demo_seed_builds_a_working_staszow_cluster(db: Any, tmp_path: Any) -> None:
    async with unit_of_work(db.sessions) as s:
        report = await seed_demo(s, now=NOON)
        assert report.metering_points == 75 and report.nodes == 17
        codes = (await s.scalars(select(MeteringPoint.ppe_code))).all()
        assert len(set(codes)) == 75 and all(
            is_valid_ppe(c) and c.startswith("5905435") for c in codes
        )
        for login in ("prosument", "koordynator", "dystrybutor"):
            actor = await auth.authenticate(s, login, DEMO_PASSWORD)
            assert (
                actor.role
                == {
                    "prosument": "member",
                    "koordynator": "coordinator",
                    "dystrybutor": "distributor",
                }[login]
            )
        with pytest.raises(Conflict):
            await seed_demo(s, now=NOON)
        fingerprint = await _demo_fingerprint(s)
    # Deterministic: the same seed in another database gives the same cluster.
    from market.db.engine import create_engine, migrate, session_factory

    url = f"sqlite+aiosqlite:///{tmp_path / 'again.db'}"
    await anyio.to_thread.run_sync(migrate, url)
    engine = create_engine(url)
    try:
        async with unit_of_work(session_factory(engine)) as s:
            await seed_demo(s, now=NOON)
            assert await _demo_fingerprint(s) == fingerprint
    finally:
        await engine.dispose()
    # The simulated participants make the market move on its own.
    clock = ManualClock(NOON)
    scheduler = Scheduler(db.sessions, clock, worker_id="demo")
    await scheduler.tick()
    async with db.session() as s:
        assert await s.scalar(select(func.count(Order.id))) > 100
    clock.advance(minutes=20)
    report2 = await scheduler.tick()
    assert report2.cleared and report2.cleared[0].status == "optimal"
    assert report2.cleared[0].local_kwh > 0


async def test_demo_seed_scales(db: Any) -> None:
    async with unit_of_work(db.sessions) as s:
        report = await seed_demo(s, members=400, seed=5, now=NOON)
        assert report.metering_points == 400
        # 5 institutions, 8 businesses, 382 households (each its own member), 2 operators
        assert report.members == 397 == await s.scalar(select(func.count(Member.id)))
        assert await s.scalar(select(func.count(MeteringPoint.id))) == 400
    with pytest.raises(ValidationFailed) as err:
        async with db.session() as s:
            await seed_demo(s, members=3)
    assert err.value.field == "members"


def test_seed_command_rejects_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    from web.cli import main

    assert main(["seed", "--demo", "--members", "5"]) == 2
    assert "--members" in capsys.readouterr().err
    assert main(["seed"]) == 2


async def test_sign_in_and_tokens(world: World) -> None:
    async with world.session() as s:
        actor = await auth.authenticate(s, "alice", PASSWORD)
        assert actor == world.alice
        for login, password in (("alice", "wrong"), ("nobody", PASSWORD), ("", "")):
            with pytest.raises(NotAuthenticated) as err:
                await auth.authenticate(s, login, password)
            assert (err.value.field, err.value.message) == ("login", "wrong login or password")
        token = await auth.create_api_token(s, world.alice, "bot")
        assert (await auth.authenticate_token(s, token)).member_id == world.alice.member_id
        with pytest.raises(NotAuthenticated):
            await auth.authenticate_token(s, token + "x")
        assert await auth.revoke_api_tokens(s, world.alice) == 1
        with pytest.raises(NotAuthenticated):
            await auth.authenticate_token(s, token)
    async with unit_of_work(world.db.sessions) as s:
        await member_service.deactivate_member(s, world.carol, world.alice.member_id)
    async with world.session() as s:
        with pytest.raises(NotAuthenticated, match="deactivated"):
            await auth.authenticate(s, "alice", PASSWORD)


async def test_audit_log_is_append_only_and_for_operators(world: World) -> None:
    async with unit_of_work(world.db.sessions) as s:
        update = parse_parameters({"gate_closure_minutes": "10"})
        await market_parameters.update_parameters(s, world.carol, update)
        entries = await list_audit(s, world.dave)
        assert entries[0].action == "update" and entries[0].details == {
            "gate_closure_minutes": "10"
        }
        with pytest.raises(Forbidden):
            await list_audit(s, world.alice)
    for sql in ("UPDATE audit_log SET action = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(Exception, match="append-only"):
            await execute(world.db, sql)


MP = {
    "ppe_code": "590543500001234566",
    "member_id": None,
    "node": "B",
    "contracted_power_kw": "12.5",
    "pv_kwp": "6",
}


@pytest.mark.parametrize(
    ("change", "error", "field", "rule"),
    [
        ({"ppe_code": "590543500001234567"}, ValidationFailed, "ppe_code", "check digit"),
        ({"ppe_code": "12345"}, ValidationFailed, "ppe_code", "18 digits"),
        ({"ppe_code": "590543500000000018"}, Conflict, "ppe_code", "already registered"),
        ({"node": "Z"}, ValidationFailed, "node", "unknown node"),
        ({"contracted_power_kw": "0"}, ValidationFailed, "contracted_power_kw", "greater than 0"),
        ({"pv_kwp": "-1"}, ValidationFailed, "pv_kwp", "at least 0"),
        ({"pv_kwp": "1.23456"}, ValidationFailed, "pv_kwp", "at most 3 decimals"),
        ({"member_id": "carol"}, ValidationFailed, "member_id", "market member"),
    ],
)
async def test_metering_point_rejections_change_nothing(
    world: World, change: dict[str, Any], error: type[KlasterError], field: str, rule: str
) -> None:
    fields = MP | {"member_id": world.alice.member_id} | change
    if fields["member_id"] == "carol":
        fields["member_id"] = world.carol.member_id
    before = await snapshot(world.db)
    with pytest.raises(error) as err:
        async with unit_of_work(world.db.sessions) as s:
            await member_service.create_metering_point(s, world.carol, parse_metering_point(fields))
    assert err.value.field == field and rule in err.value.message
    assert await snapshot(world.db) == before


async def test_coordinator_manages_members_points_and_network(world: World) -> None:
    async with unit_of_work(world.db.sessions) as s:
        ewa = {"name": "Ewa", "kind": "household", "login": "ewa", "password": "long enough"}
        member = await member_service.create_member(s, world.carol, parse_member(ewa))
        point = await member_service.create_metering_point(
            s, world.carol, parse_metering_point(MP | {"member_id": member.id})
        )
        assert (point.node, point.role, point.contracted_power_kw) == (
            "B",
            "producer",
            Decimal("12.500"),
        )
        new = {"code": "C", "name": "New", "kind": "lv"}
        node = await network_service.create_node(s, world.carol, parse_node(new))
        bc = {"code": "L-BC", "from_node": "B", "to_node": "C", "capacity_kw": "140"}
        line = await network_service.create_line(s, world.carol, parse_line(bc))
        net = await network_service.list_network(s)
        assert [n.code for n in net.nodes] == ["A", "B", "C"] and net.lines[-1].id == line.id
        assert node.kind == "lv"
        assert len(await member_service.list_members(s, world.dave)) == 5
        assert [p.ppe_code for p in await member_service.list_metering_points(s, world.alice)] == [
            "590543500000000018"
        ]
    before = await snapshot(world.db)
    bad_calls: list[tuple[Any, Any, dict[str, Any], type[KlasterError], str]] = [
        (
            parse_member,
            member_service.create_member,
            {"name": "X", "kind": "household", "login": "ewa", "password": "long enough"},
            Conflict,
            "login",
        ),
        (
            parse_member,
            member_service.create_member,
            {"name": "X", "kind": "alien"},
            ValidationFailed,
            "kind",
        ),
        (
            parse_member,
            member_service.create_member,
            {"name": "X", "kind": "household", "login": "x", "password": "short"},
            ValidationFailed,
            "password",
        ),
        (
            parse_line,
            network_service.create_line,
            {"code": "L-X", "from_node": "B", "to_node": "B", "capacity_kw": "1"},
            ValidationFailed,
            "to_node",
        ),
        (
            parse_node,
            network_service.create_node,
            {"code": "A", "name": "dup", "kind": "lv"},
            Conflict,
            "code",
        ),
        (
            parse_parameters,
            market_parameters.update_parameters,
            {"price_floor": "0.95"},
            ValidationFailed,
            "price_floor",
        ),
        (
            parse_parameters,
            market_parameters.update_parameters,
            {"interval_minutes": "60"},
            ValidationFailed,
            "interval_minutes",
        ),
        (
            parse_grid_connection,
            network_service.set_grid_connection,
            {
                "node": "A",
                "import_price": "0.5",
                "export_price": "0.6",
                "import_limit_kw": "1",
                "export_limit_kw": "1",
            },
            ValidationFailed,
            "export_price",
        ),
    ]
    for parse, call, fields, error, field in bad_calls:
        with pytest.raises(error) as err:
            async with unit_of_work(world.db.sessions) as s:
                await call(s, world.carol, parse(fields))
        assert err.value.field == field, (call.__name__, fields)
    with pytest.raises(ValidationFailed) as err:
        async with unit_of_work(world.db.sessions) as s:
            change = NodeChange(active=False)
            await network_service.update_node(s, world.carol, world.node_b, change)
    assert err.value.field == "active"
    with pytest.raises(Forbidden):
        async with unit_of_work(world.db.sessions) as s:
            node_d = parse_node({"code": "D", "name": "d", "kind": "lv"})
            await network_service.create_node(s, world.dave, node_d)
    assert await snapshot(world.db) == before
    async with world.session() as s:
        assert (await s.get(Member, world.alice.member_id)) is not None


async def test_changed_price_band_applies_to_new_orders(world: World) -> None:
    from market.trading.order_input import parse_order
    from market.trading.orders import place_order

    async with unit_of_work(world.db.sessions) as s:
        cap = ParametersUpdate(price_cap=Decimal("0.5000"))
        params = await market_parameters.update_parameters(s, world.carol, cap)
    assert params.price_cap == Decimal("0.5000")
    interval = (await world.open_intervals())[0]
    with pytest.raises(KlasterError) as err:
        async with world.session() as s:
            order = parse_order(
                {"interval_id": interval.id, "metering_point_id": world.alice_mp,
                 "side": "buy", "quantity_kwh": "1", "price": "0.6"}
            )  # fmt: skip
            await place_order(s, world.alice, world.clock, order)
    assert err.value.field == "price" and "0.5000" in err.value.message
    assert world.clock.now() - timedelta(0) == world.clock.now()


async def test_a_duplicate_found_at_flush_is_a_conflict_and_the_transaction_goes_on(
    world: World,
) -> None:
    """A duplicate the service's own check missed (a concurrent insert) is caught at the
    flush, inside a savepoint: a `Conflict` naming the field, and the caller's transaction
    stays usable (what it did before and after is committed)."""
    from market.core.fields import add_unique
    from market.network.models import Node

    async with unit_of_work(world.db.sessions) as s:
        s.add(Node(code="C", name="kept", kind="lv", active=True))
        await s.flush()
        duplicate = Node(code="A", name="duplicate", kind="lv", active=True)
        conflict = Conflict("code", "node %(code)s already exists", code="A")
        with pytest.raises(Conflict) as err:
            await add_unique(s, duplicate, conflict)
        assert (err.value.field, err.value.message) == ("code", "node A already exists")
        s.add(Node(code="D", name="after", kind="lv", active=True))
    async with world.session() as s:
        names = (await s.scalars(select(Node.name).order_by(Node.code))).all()
    assert list(names) == ["GPZ", "Station B", "kept", "after"]
