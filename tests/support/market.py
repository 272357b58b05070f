"""The domain tests' world: `clusters.MARKET` with actors, a recording publisher and a
scheduler, and helpers to look at or poke the database.

Two nodes joined by one line of 40 kW (10 kWh per 15-minute interval); the upstream grid at
node A sells at 0.80 and buys at 0.20 PLN/kWh. Alice's metering point sits at B (80 kW
contracted: 20 kWh per interval), Bob's at A (100 kW). Carol coordinates, Dave is the
distributor. Market time is a manual clock at 2026-06-15 10:00 UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, text

from market.access.actor import Actor
from market.access.models import AuditEntry, Member
from market.clearing.models import ClearingRun
from market.clearing.scheduler import Scheduler
from market.cluster.models import Cluster
from market.core.clock import ManualClock
from market.core.events import RecordingPublisher
from market.network.models import GridConnection, Line, MeteringPoint, Node
from market.trading.models import Interval, Order, StandingOrder
from tests.support.clusters import ALICE_PPE, BOB_PPE, MARKET, MARKET_PASSWORD, build

PASSWORD = MARKET_PASSWORD
T0 = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)


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
    """Store `clusters.MARKET`, then let the scheduler open the first intervals."""
    async with db.session() as s:
        built = await build(s, MARKET)
        await s.commit()
    actors = {
        m.login: Actor(built.members[m.login], m.role, m.name, m.login) for m in MARKET.members
    }
    world = World(
        db=db,
        clock=ManualClock(T0),
        publisher=RecordingPublisher(),
        alice=actors["alice"],
        bob=actors["bob"],
        carol=actors["carol"],
        dave=actors["dave"],
        alice_mp=built.points[ALICE_PPE],
        bob_mp=built.points[BOB_PPE],
        node_a=built.nodes["A"],
        node_b=built.nodes["B"],
        line_ab=built.lines["L-AB"],
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
            table: Any = model.__table__
            rows = (await s.execute(select(table).order_by(*table.primary_key.columns))).all()
            out[table.name] = [tuple(r) for r in rows]
        out["audit"] = await s.scalar(select(func.count(AuditEntry.id)))
    return out


async def execute(db: Any, sql: str, **params: Any) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(text(sql), params)
