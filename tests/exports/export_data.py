"""A small cleared cluster stored directly through the models, for export tests.

Three nodes: GPZ (grid connection) — LV-1 (line L1, 100 kW) and GPZ — LV-2 (line L2,
10 kW = 2.5 kWh per quarter-hour). Per interval, prosumer A at LV-1 sells 3 kWh, consumer B
at LV-2 buys 2.5 kWh: L2 is congested, so LV-2's price is B's bid 0.8 while GPZ and LV-1 sit
at the export price 0.1829; 0.5 kWh goes to the grid. Producer C at LV-2 does not trade.

Hand-computed per interval: A receives 3 × 0.1829 = 0.5487 → 0.55; B pays 2.5 × 0.8 = 2.00;
grid export revenue 0.5 × 0.1829 = 0.09145 → 0.09; congestion rent
2.00 − 0.5487 + 0.09145 = 1.54275 → 1.54; and −0.55 + 2.00 = 1.54 + 0 − 0.09 (balanced).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from market.access.models import Member
from market.access.passwords import hash_password
from market.clearing.models import ClearingRun, GridExchange, LineFlow, NodePrice, Trade
from market.cluster.models import Cluster
from market.core.timegrid import label
from market.network.models import GridConnection, Line, MeteringPoint, Node
from market.trading.models import Interval, Order

D = Decimal
PPE_A, PPE_B, PPE_C = "590543500000000018", "590543500000000025", "590543500001234566"
PASSWORD = "haslo-demo-1"
# 2026-10-25: 00:00Z is 02:00+02:00 and 01:00Z is 02:00+01:00 (the repeated hour)
STARTS = [datetime(2026, 10, 25, 0, 0, tzinfo=UTC), datetime(2026, 10, 25, 1, 0, tzinfo=UTC)]
FINISHED = datetime(2026, 10, 25, 6, 0, 7, tzinfo=UTC)


@dataclass
class Cluster3:
    coordinator_id: int
    distributor_id: int
    member_id: int
    interval_ids: list[int]
    run_ids: list[int]
    starts: list[datetime]


async def build_cluster(session: AsyncSession, starts: list[datetime]) -> Cluster3:
    session.add(
        Cluster(
            name="Klaster Energii Staszów",
            registry_number="KE/001/2026",
            coordinator_name="Domat Consulting Sp. z o.o.",
            timezone="Europe/Warsaw",
            interval_minutes=15,
            price_floor=D("0.1829"),
            price_cap=D("0.89"),
        )
    )
    gpz, lv1, lv2 = (
        Node(code="GPZ", name="GPZ Staszów", kind="gpz"),
        Node(code="LV-1", name="Obwód 1", kind="lv"),
        Node(code="LV-2", name="Obwód 2", kind="lv"),
    )
    session.add_all([gpz, lv1, lv2])
    await session.flush()
    l1 = Line(code="L1", from_node_id=gpz.id, to_node_id=lv1.id, capacity_kw=D(100))
    l2 = Line(code="L2", from_node_id=gpz.id, to_node_id=lv2.id, capacity_kw=D(10))
    session.add_all([l1, l2])
    session.add(
        GridConnection(
            node_id=gpz.id,
            import_price=D("0.89"),
            export_price=D("0.1829"),
            import_limit_kw=D(1000),
            export_limit_kw=D(1000),
        )
    )
    pw = hash_password(PASSWORD)
    coord = Member(
        name="Koordynator", kind="operator", role="coordinator", login="coord", password_hash=pw
    )
    dso = Member(
        name="PGE Dystrybucja", kind="operator", role="distributor", login="dso", password_hash=pw
    )
    m_a = Member(
        name="Anna Prosument", kind="household", role="member", login="anna", password_hash=pw
    )
    m_b = Member(name="Piekarnia", kind="business", role="member", login="bakery", password_hash=pw)
    session.add_all([coord, dso, m_a, m_b])
    await session.flush()
    a = MeteringPoint(
        ppe_code=PPE_A,
        member_id=m_a.id,
        node_id=lv1.id,
        contracted_power_kw=D(20),
        pv_kwp=D(8),
        annual_use_kwh=D(3000),
    )
    b = MeteringPoint(
        ppe_code=PPE_B,
        member_id=m_b.id,
        node_id=lv2.id,
        contracted_power_kw=D(40),
        annual_use_kwh=D(30000),
        load_profile="business",
    )
    c = MeteringPoint(
        ppe_code=PPE_C,
        member_id=m_b.id,
        node_id=lv2.id,
        contracted_power_kw=D(50),
        pv_kwp=D(50),
        load_profile="none",
    )
    session.add_all([a, b, c])
    await session.flush()
    out = Cluster3(coord.id, dso.id, m_a.id, [], [], starts)
    for start in starts:
        lab = label(start, 15)
        interval = Interval(
            start_utc=start,
            minutes=15,
            gate_closure_utc=start - timedelta(minutes=5),
            local_day=lab.local_day,
            number=lab.number,
            status="cleared",
        )
        session.add(interval)
        await session.flush()
        sell = Order(
            member_id=m_a.id,
            metering_point_id=a.id,
            interval_id=interval.id,
            side="sell",
            quantity_kwh=D(3),
            price=D("0.3"),
            status="filled",
            accepted_kwh=D(3),
            clearing_price=D("0.1829"),
            amount_pln=D("0.55"),
        )
        buy = Order(
            member_id=m_b.id,
            metering_point_id=b.id,
            interval_id=interval.id,
            side="buy",
            quantity_kwh=D(4),
            price=D("0.8"),
            status="partly_filled",
            accepted_kwh=D("2.5"),
            clearing_price=D("0.8"),
            amount_pln=D("2.00"),
        )
        session.add_all([sell, buy])
        run = ClearingRun(
            interval_id=interval.id,
            input_hash="i" * 64,
            result_hash="r" * 64,
            problem_gz=zlib.compress(b"{}"),
            solver="glop",
            status="optimal",
            reason="",
            order_count=2,
            welfare_pln=D("1.0"),
            congestion_rent_pln=D("1.54"),
            matched_kwh=D("5.5"),
            local_kwh=D("2.5"),
            import_kwh=D(0),
            export_kwh=D("0.5"),
            timings={},
            worker_id="test",
            started_at=FINISHED,
            finished_at=FINISHED,
        )
        session.add(run)
        await session.flush()
        session.add_all(
            [
                NodePrice(
                    run_id=run.id, node_id=gpz.id, price=D("0.1829"), bought_kwh=D(0), sold_kwh=D(0)
                ),
                NodePrice(
                    run_id=run.id, node_id=lv1.id, price=D("0.1829"), bought_kwh=D(0), sold_kwh=D(3)
                ),
                NodePrice(
                    run_id=run.id,
                    node_id=lv2.id,
                    price=D("0.8"),
                    bought_kwh=D("2.5"),
                    sold_kwh=D(0),
                ),
                LineFlow(
                    run_id=run.id, line_id=l1.id, flow_kwh=D(-3), limit_kwh=D(25), congested=False
                ),
                LineFlow(
                    run_id=run.id,
                    line_id=l2.id,
                    flow_kwh=D("2.5"),
                    limit_kwh=D("2.5"),
                    congested=True,
                ),
                GridExchange(
                    run_id=run.id,
                    node_id=gpz.id,
                    import_kwh=D(0),
                    export_kwh=D("0.5"),
                    import_price=D("0.89"),
                    export_price=D("0.1829"),
                    import_amount_pln=D(0),
                    export_amount_pln=D("0.09"),
                ),
                Trade(
                    run_id=run.id,
                    seller_order_id=sell.id,
                    buyer_order_id=buy.id,
                    seller_node_id=lv1.id,
                    buyer_node_id=lv2.id,
                    quantity_kwh=D("2.5"),
                    seller_price=D("0.1829"),
                    buyer_price=D("0.8"),
                ),
                Trade(
                    run_id=run.id,
                    seller_order_id=sell.id,
                    buyer_order_id=None,
                    seller_node_id=lv1.id,
                    buyer_node_id=gpz.id,
                    quantity_kwh=D("0.5"),
                    seller_price=D("0.1829"),
                    buyer_price=D("0.1829"),
                ),
            ]
        )
        out.interval_ids.append(interval.id)
        out.run_ids.append(run.id)
    await session.commit()
    return out
