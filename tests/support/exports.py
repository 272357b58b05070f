"""The export tests' cluster (`clusters.EXPORT`), cleared: runs, prices, flows and trades
stored directly through the models.

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

from market.clearing.models import ClearingRun, GridExchange, LineFlow, NodePrice, Trade
from market.core.timegrid import label
from market.trading.models import Interval, Order
from tests.support.clusters import EXPORT, EXPORT_PASSWORD, PPE_A, PPE_B, PPE_C, build

__all__ = ["FINISHED", "PASSWORD", "PPE_A", "PPE_B", "PPE_C", "STARTS", "Cluster3", "build_cluster"]

D = Decimal
PASSWORD = EXPORT_PASSWORD
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
    """Store `clusters.EXPORT` and, per start, a cleared interval with its orders, run,
    prices, flows, grid exchange and trades; commits."""
    built = await build(session, EXPORT)
    gpz, lv1, lv2 = (built.nodes[code] for code in ("GPZ", "LV-1", "LV-2"))
    l1, l2 = built.lines["L1"], built.lines["L2"]
    m_a, m_b = built.members["anna"], built.members["bakery"]
    a, b = built.points[PPE_A], built.points[PPE_B]
    out = Cluster3(built.members["coord"], built.members["dso"], m_a, [], [], starts)
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
            member_id=m_a,
            metering_point_id=a,
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
            member_id=m_b,
            metering_point_id=b,
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
                    run_id=run.id, node_id=gpz, price=D("0.1829"), bought_kwh=D(0), sold_kwh=D(0)
                ),
                NodePrice(
                    run_id=run.id, node_id=lv1, price=D("0.1829"), bought_kwh=D(0), sold_kwh=D(3)
                ),
                NodePrice(
                    run_id=run.id,
                    node_id=lv2,
                    price=D("0.8"),
                    bought_kwh=D("2.5"),
                    sold_kwh=D(0),
                ),
                LineFlow(
                    run_id=run.id, line_id=l1, flow_kwh=D(-3), limit_kwh=D(25), congested=False
                ),
                LineFlow(
                    run_id=run.id,
                    line_id=l2,
                    flow_kwh=D("2.5"),
                    limit_kwh=D("2.5"),
                    congested=True,
                ),
                GridExchange(
                    run_id=run.id,
                    node_id=gpz,
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
                    seller_node_id=lv1,
                    buyer_node_id=lv2,
                    quantity_kwh=D("2.5"),
                    seller_price=D("0.1829"),
                    buyer_price=D("0.8"),
                ),
                Trade(
                    run_id=run.id,
                    seller_order_id=sell.id,
                    buyer_order_id=None,
                    seller_node_id=lv1,
                    buyer_node_id=gpz,
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
