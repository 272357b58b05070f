"""Reading cleared intervals: nodal prices, volumes (local vs grid), line flows, my trades."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from market.access.actor import Actor
from market.access.models import Member
from market.clearing.models import ClearingRun, GridExchange, LineFlow, NodePrice, Trade
from market.core.errors import NotFound
from market.network.models import Line, Node
from market.trading.models import Interval, IntervalStatus, Order

ZERO_KWH = Decimal("0.000")


def cleared_with_runs(start: datetime, end: datetime, *columns: Any) -> Select[Any]:
    """`columns` of the intervals cleared intraday in [start, end) joined to their clearing
    run, in time order: what settlement, statements and their stored days read as "cleared"."""
    return (
        select(*columns)
        .join(ClearingRun, ClearingRun.interval_id == Interval.id)
        .where(
            Interval.start_utc >= start,
            Interval.start_utc < end,
            Interval.status == IntervalStatus.CLEARED.value,
        )
        .order_by(Interval.start_utc)
    )


@dataclass(frozen=True, slots=True)
class NodeResult:
    node_id: int
    code: str
    name: str
    kind: str
    price: Decimal
    price_low: Decimal | None
    price_high: Decimal | None
    bought_kwh: Decimal
    sold_kwh: Decimal


@dataclass(frozen=True, slots=True)
class LineResult:
    line_id: int
    code: str
    from_node: str
    to_node: str
    flow_kwh: Decimal
    limit_kwh: Decimal
    #: |flow| / limit in percent (0 when the limit is 0).
    loading_pct: Decimal
    congested: bool


@dataclass(frozen=True, slots=True)
class GridResult:
    node: str
    import_kwh: Decimal
    export_kwh: Decimal
    import_price: Decimal
    export_price: Decimal
    import_amount_pln: Decimal
    export_amount_pln: Decimal


@dataclass(frozen=True, slots=True)
class IntervalSummary:
    interval_id: int
    start_utc: datetime
    minutes: int
    local_day: date
    number: int
    status: str
    reason: str | None
    matched_kwh: Decimal
    local_kwh: Decimal
    import_kwh: Decimal
    export_kwh: Decimal
    welfare_pln: Decimal
    #: Lowest and highest nodal price (equal when nothing is congested).
    price_min: Decimal | None
    price_max: Decimal | None


@dataclass(frozen=True, slots=True)
class IntervalResultView:
    summary: IntervalSummary
    solver: str
    run_status: str
    input_hash: str
    result_hash: str
    timings: dict[str, float]
    congestion_rent_pln: Decimal
    order_count: int
    nodes: list[NodeResult]
    lines: list[LineResult]
    grid: list[GridResult]


def _summary(interval: Interval, run: ClearingRun | None, prices: list[Decimal]) -> IntervalSummary:
    return IntervalSummary(
        interval_id=interval.id,
        start_utc=interval.start_utc,
        minutes=interval.minutes,
        local_day=interval.local_day,
        number=interval.number,
        status=interval.status,
        reason=interval.reason,
        matched_kwh=run.matched_kwh if run else ZERO_KWH,
        local_kwh=run.local_kwh if run else ZERO_KWH,
        import_kwh=run.import_kwh if run else ZERO_KWH,
        export_kwh=run.export_kwh if run else ZERO_KWH,
        welfare_pln=run.welfare_pln if run else Decimal("0.00"),
        price_min=min(prices) if prices else None,
        price_max=max(prices) if prices else None,
    )


async def interval_result(session: AsyncSession, interval_id: int) -> IntervalResultView:
    interval = await session.get(Interval, interval_id)
    if interval is None:
        raise NotFound("interval_id", "no interval %(interval_id)s", interval_id=interval_id)
    run = await session.scalar(select(ClearingRun).where(ClearingRun.interval_id == interval_id))
    if run is None:
        raise NotFound(
            "interval_id", "interval %(interval_id)s is not cleared yet", interval_id=interval_id
        )
    nodes = [
        NodeResult(
            n.id,
            n.code,
            n.name,
            n.kind,
            p.price,
            p.price_low,
            p.price_high,
            p.bought_kwh,
            p.sold_kwh,
        )
        for p, n in (
            await session.execute(
                select(NodePrice, Node)
                .join(Node, NodePrice.node_id == Node.id)
                .where(NodePrice.run_id == run.id)
                .order_by(Node.id)
            )
        ).all()
    ]
    a, b = aliased(Node), aliased(Node)
    lines = []
    for flow, line, fa, tb in (
        await session.execute(
            select(LineFlow, Line, a.code, b.code)
            .join(Line, LineFlow.line_id == Line.id)
            .join(a, Line.from_node_id == a.id)
            .join(b, Line.to_node_id == b.id)
            .where(LineFlow.run_id == run.id)
            .order_by(Line.id)
        )
    ).all():
        loading = (
            (abs(flow.flow_kwh) / flow.limit_kwh * 100).quantize(Decimal("0.1"))
            if flow.limit_kwh > 0
            else Decimal("0.0")
        )
        lines.append(
            LineResult(
                line.id, line.code, fa, tb, flow.flow_kwh, flow.limit_kwh, loading, flow.congested
            )
        )
    grid = [
        GridResult(
            code,
            g.import_kwh,
            g.export_kwh,
            g.import_price,
            g.export_price,
            g.import_amount_pln,
            g.export_amount_pln,
        )
        for g, code in (
            await session.execute(
                select(GridExchange, Node.code)
                .join(Node, GridExchange.node_id == Node.id)
                .where(GridExchange.run_id == run.id)
            )
        ).all()
    ]
    return IntervalResultView(
        summary=_summary(interval, run, [n.price for n in nodes]),
        solver=run.solver,
        run_status=run.status,
        input_hash=run.input_hash,
        result_hash=run.result_hash,
        timings=dict(run.timings),
        congestion_rent_pln=run.congestion_rent_pln,
        order_count=run.order_count,
        nodes=nodes,
        lines=lines,
        grid=grid,
    )


async def _summaries(session: AsyncSession, intervals: list[Interval]) -> list[IntervalSummary]:
    if not intervals:
        return []
    ids = [i.id for i in intervals]
    runs = {
        r.interval_id: r
        for r in (
            await session.scalars(select(ClearingRun).where(ClearingRun.interval_id.in_(ids)))
        ).all()
    }
    prices: dict[int, list[Decimal]] = {r.id: [] for r in runs.values()}
    if runs:
        for run_id, price in (
            await session.execute(
                select(NodePrice.run_id, NodePrice.price).where(NodePrice.run_id.in_(prices))
            )
        ).all():
            prices[run_id].append(price)
    out = []
    for i in intervals:
        run = runs.get(i.id)
        out.append(_summary(i, run, prices.get(run.id, []) if run else []))
    return out


async def latest_results(session: AsyncSession, limit: int = 8) -> list[IntervalSummary]:
    """The latest cleared (or failed) intervals, newest first."""
    rows = (
        await session.scalars(
            select(Interval)
            .where(Interval.status.in_([IntervalStatus.CLEARED.value, IntervalStatus.FAILED.value]))
            .order_by(Interval.start_utc.desc())
            .limit(max(1, min(limit, 500)))
        )
    ).all()
    return await _summaries(session, list(rows))


async def day_results(session: AsyncSession, local_day: date) -> list[IntervalSummary]:
    """Every interval of a local day in order (for price and volume charts)."""
    rows = (
        await session.scalars(
            select(Interval).where(Interval.local_day == local_day).order_by(Interval.start_utc)
        )
    ).all()
    return await _summaries(session, list(rows))


@dataclass(frozen=True, slots=True)
class TradeView:
    interval_id: int
    order_id: int
    side: str
    quantity_kwh: Decimal
    #: What I pay (buy) or get (sell) per kWh: my node's price.
    price: Decimal
    counterparty_node: str
    #: The counterparty's name if it agreed to be named; "grid" for the upstream grid.
    counterparty: str | None


async def my_trades(session: AsyncSession, actor: Actor, interval_id: int) -> list[TradeView]:
    my_orders = {
        o.id: o
        for o in (
            await session.scalars(
                select(Order).where(
                    Order.member_id == actor.member_id, Order.interval_id == interval_id
                )
            )
        ).all()
    }
    if not my_orders:
        return []
    trades = (
        await session.scalars(
            select(Trade)
            .join(ClearingRun, Trade.run_id == ClearingRun.id)
            .where(
                ClearingRun.interval_id == interval_id,
                or_(Trade.buyer_order_id.in_(my_orders), Trade.seller_order_id.in_(my_orders)),
            )
            .order_by(Trade.id)
        )
    ).all()
    other_ids = {
        t.seller_order_id if t.buyer_order_id in my_orders else t.buyer_order_id for t in trades
    } - {None}
    names: dict[int, str | None] = {}
    if other_ids:
        for oid, name, show in (
            await session.execute(
                select(Order.id, Member.name, Member.show_name)
                .join(Member, Order.member_id == Member.id)
                .where(Order.id.in_(other_ids))
            )
        ).all():
            names[oid] = name if show else None
    codes = dict((await session.execute(select(Node.id, Node.code))).all())
    out = []
    for t in trades:
        buying = t.buyer_order_id in my_orders
        mine = t.buyer_order_id if buying else t.seller_order_id
        other = t.seller_order_id if buying else t.buyer_order_id
        assert mine is not None
        out.append(
            TradeView(
                interval_id=interval_id,
                order_id=mine,
                side="buy" if buying else "sell",
                quantity_kwh=t.quantity_kwh,
                price=t.buyer_price if buying else t.seller_price,
                counterparty_node=codes[t.seller_node_id if buying else t.buyer_node_id],
                counterparty="grid" if other is None else names.get(other),
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class NodePricePoint:
    start_utc: datetime
    minutes: int
    price: Decimal


async def node_price_history(
    session: AsyncSession, node_code: str, limit: int = 8
) -> list[NodePricePoint]:
    """The latest cleared prices at a node, newest first (a member's price history and the
    order form's suggestion)."""
    rows = (
        await session.execute(
            select(Interval.start_utc, Interval.minutes, NodePrice.price)
            .join(ClearingRun, ClearingRun.interval_id == Interval.id)
            .join(NodePrice, NodePrice.run_id == ClearingRun.id)
            .join(Node, Node.id == NodePrice.node_id)
            .where(Node.code == node_code, Interval.status == IntervalStatus.CLEARED.value)
            .order_by(Interval.start_utc.desc())
            .limit(max(1, min(limit, 200)))
        )
    ).all()
    return [NodePricePoint(start, minutes, price) for start, minutes, price in rows]
