"""A small hand-made market for the domain tests.

Two nodes joined by one line of 40 kW (10 kWh per 15-minute interval); the upstream grid at
node A sells at 0.80 and buys at 0.20 PLN/kWh. Alice's metering point sits at B (80 kW
contracted: 20 kWh per interval), Bob's at A (100 kW). Carol coordinates, Dave is the
distributor. Market time is a manual clock at 2026-06-15 10:00 UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import func, select, text

from market.access.actor import Actor
from market.access.models import AuditEntry, Member
from market.access.passwords import hash_password
from market.clearing.models import ClearingRun
from market.clearing.scheduler import Scheduler
from market.cluster.models import Cluster
from market.core.clock import ManualClock
from market.core.events import RecordingPublisher
from market.network.models import GridConnection, Line, MeteringPoint, Node
from market.trading.models import Interval, Order, StandingOrder

PASSWORD = "correct horse"
T0 = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)


@lru_cache(maxsize=1)
def password_hash() -> str:
    return hash_password(PASSWORD)


@dataclass
class World:
    db: Any
    clock: ManualClock
    publisher: RecordingPublisher
    alice: Actor
    bob: Actor
    carol: Actor
    dave: Actor
    alice_mp: int
    bob_mp: int
    node_a: int
    node_b: int
    line_ab: int

    def session(self) -> Any:
        return self.db.session()

    def scheduler(self, worker_id: str = "test-worker", **kwargs: Any) -> Scheduler:
        return Scheduler(
            self.db.sessions, self.clock, self.publisher, worker_id=worker_id, **kwargs
        )

    async def open_intervals(self) -> list[Interval]:
        async with self.session() as s:
            rows = await s.scalars(
                select(Interval).where(Interval.status == "open").order_by(Interval.start_utc)
            )
            return list(rows.all())


async def build_world(db: Any) -> World:
    async with db.session() as s:
        s.add(
            Cluster(
                name="Test cluster",
                coordinator_name="Carol",
                interval_minutes=15,
                gate_closure_minutes=5,
                horizon_intervals=4,
                price_floor=Decimal("0.10"),
                price_cap=Decimal("0.90"),
                profile_seed=7,
            )
        )
        a = Node(code="A", name="GPZ", kind="gpz")
        b = Node(code="B", name="Station B", kind="station")
        s.add_all([a, b])
        await s.flush()
        line = Line(code="L-AB", from_node_id=a.id, to_node_id=b.id, capacity_kw=Decimal(40))
        s.add(line)
        s.add(
            GridConnection(
                node_id=a.id,
                import_price=Decimal("0.80"),
                export_price=Decimal("0.20"),
                import_limit_kw=Decimal(1000),
                export_limit_kw=Decimal(1000),
            )
        )
        people = {}
        for login, role, kind in (
            ("alice", "member", "household"),
            ("bob", "member", "business"),
            ("carol", "coordinator", "operator"),
            ("dave", "distributor", "operator"),
        ):
            m = Member(
                name=login.title(),
                kind=kind,
                role=role,
                login=login,
                password_hash=password_hash(),
                show_name=login == "bob",
            )
            s.add(m)
            people[login] = m
        await s.flush()
        amp = MeteringPoint(
            ppe_code="590543500000000018",
            member_id=people["alice"].id,
            node_id=b.id,
            contracted_power_kw=Decimal(80),
            pv_kwp=Decimal(8),
            annual_use_kwh=Decimal(3000),
        )
        bmp = MeteringPoint(
            ppe_code="590543500000000025",
            member_id=people["bob"].id,
            node_id=a.id,
            contracted_power_kw=Decimal(100),
            annual_use_kwh=Decimal(40000),
            load_profile="business",
        )
        s.add_all([amp, bmp])
        await s.commit()
        actors = {k: Actor(m.id, m.role, m.name, m.login) for k, m in people.items()}
        world = World(
            db=db,
            clock=ManualClock(T0),
            publisher=RecordingPublisher(),
            alice=actors["alice"],
            bob=actors["bob"],
            carol=actors["carol"],
            dave=actors["dave"],
            alice_mp=amp.id,
            bob_mp=bmp.id,
            node_a=a.id,
            node_b=b.id,
            line_ab=line.id,
        )
    await world.scheduler().tick()  # creates the first intervals
    return world


async def snapshot(db: Any) -> dict[str, Any]:
    """Everything a rejected request might have touched."""
    out: dict[str, Any] = {}
    async with db.session() as s:
        for model in (
            Order,
            StandingOrder,
            MeteringPoint,
            Member,
            Node,
            Line,
            Interval,
            ClearingRun,
            Cluster,
            GridConnection,
        ):
            table = model.__table__
            rows = (await s.execute(select(table).order_by(*table.primary_key.columns))).all()
            out[table.name] = [tuple(r) for r in rows]
        out["audit"] = await s.scalar(select(func.count(AuditEntry.id)))
    return out


async def execute(db: Any, sql: str, **params: Any) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(text(sql), params)
