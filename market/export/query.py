"""The per-interval tables of an export (trades, nodal prices, line flows, grid exchange),
streamed through a server-side cursor (`stream` with `yield_per`) on PostgreSQL and SQLite
alike. The metering table is in `market.export.metering`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from market.clearing.models import ClearingRun, GridExchange, LineFlow, NodePrice, Trade
from market.export.day_ahead import storage_batches
from market.export.metering import metering_batches
from market.export.scope import ExportScope, RunInfo, aware
from market.export.statutory import statutory_batches
from market.export.tables import (
    GRID_PARTY,
    GridRow,
    IntervalFields,
    LineRow,
    NodeRow,
    TradeRow,
    interval_fields,
)
from market.network.models import Line, MeteringPoint, Node
from market.trading.models import Interval, IntervalStatus, Order

STREAM_ROWS = 2000


def _in_range(scope: ExportScope) -> Any:
    return and_(
        Interval.start_utc >= scope.start,
        Interval.start_utc < scope.end,
        Interval.status == IntervalStatus.CLEARED.value,
    )


async def _stream(session: AsyncSession, stmt: Any) -> AsyncIterator[list[Any]]:
    """Rows in batches through a server-side cursor (`yield_per`)."""
    result = await session.stream(stmt.execution_options(yield_per=STREAM_ROWS))
    async for partition in result.partitions(STREAM_ROWS):
        yield list(partition)


class _Labels:
    """Interval columns per interval start, computed once per interval."""

    def __init__(self, scope: ExportScope) -> None:
        self._scope = scope
        self._last: tuple[datetime, IntervalFields] | None = None
        self._runs = {r.start_utc: r for r in scope.runs}

    def __call__(self, start: datetime) -> tuple[IntervalFields, RunInfo]:
        start = aware(start)
        if self._last is None or self._last[0] != start:
            run = self._runs[start]
            self._last = (start, interval_fields(start, run.minutes, self._scope.timezone))
        return self._last[1], self._runs[start]


async def trade_batches(session: AsyncSession, scope: ExportScope) -> AsyncIterator[list[TradeRow]]:
    seller_order, buyer_order = aliased(Order), aliased(Order)
    seller_mp, buyer_mp = aliased(MeteringPoint), aliased(MeteringPoint)
    stmt = (
        select(
            Interval.start_utc,
            seller_mp.ppe_code,
            Trade.seller_node_id,
            buyer_mp.ppe_code,
            Trade.buyer_node_id,
            Trade.quantity_kwh,
            Trade.seller_price,
            Trade.buyer_price,
        )
        .select_from(Trade)
        .join(ClearingRun, ClearingRun.id == Trade.run_id)
        .join(Interval, Interval.id == ClearingRun.interval_id)
        .outerjoin(seller_order, seller_order.id == Trade.seller_order_id)
        .outerjoin(seller_mp, seller_mp.id == seller_order.metering_point_id)
        .outerjoin(buyer_order, buyer_order.id == Trade.buyer_order_id)
        .outerjoin(buyer_mp, buyer_mp.id == buyer_order.metering_point_id)
        .where(_in_range(scope))
        .order_by(Interval.start_utc, Trade.id)
    )
    labels = _Labels(scope)
    last_start: datetime | None = None
    number = 0
    async for batch in _stream(session, stmt):
        rows = []
        for start, s_ppe, s_node, b_ppe, b_node, kwh, s_price, b_price in batch:
            f, run = labels(start)
            number = number + 1 if last_start == f.start_utc else 1
            last_start = f.start_utc
            rows.append(
                TradeRow(
                    scope.cluster_id,
                    f.start_utc,
                    f.local_day,
                    f.number,
                    number,
                    s_ppe or GRID_PARTY,
                    scope.nodes[s_node],
                    b_ppe or GRID_PARTY,
                    scope.nodes[b_node],
                    kwh,
                    s_price,
                    b_price,
                    run.version,
                )
            )
        yield rows


async def node_batches(session: AsyncSession, scope: ExportScope) -> AsyncIterator[list[NodeRow]]:
    stmt = (
        select(Interval.start_utc, Node.code, NodePrice.price)
        .select_from(NodePrice)
        .join(ClearingRun, ClearingRun.id == NodePrice.run_id)
        .join(Interval, Interval.id == ClearingRun.interval_id)
        .join(Node, Node.id == NodePrice.node_id)
        .where(_in_range(scope))
        .order_by(Interval.start_utc, Node.code)
    )
    labels = _Labels(scope)
    async for batch in _stream(session, stmt):
        out = []
        for start, code, price in batch:
            f, run = labels(start)
            out.append(
                NodeRow(
                    scope.cluster_id, f.start_utc, f.local_day, f.number, code, price, run.version
                )
            )
        yield out


async def line_batches(session: AsyncSession, scope: ExportScope) -> AsyncIterator[list[LineRow]]:
    stmt = (
        select(
            Interval.start_utc,
            Line.code,
            Line.from_node_id,
            Line.to_node_id,
            LineFlow.flow_kwh,
            LineFlow.limit_kwh,
            LineFlow.congested,
        )
        .select_from(LineFlow)
        .join(ClearingRun, ClearingRun.id == LineFlow.run_id)
        .join(Interval, Interval.id == ClearingRun.interval_id)
        .join(Line, Line.id == LineFlow.line_id)
        .where(_in_range(scope))
        .order_by(Interval.start_utc, Line.code)
    )
    labels = _Labels(scope)
    async for batch in _stream(session, stmt):
        out = []
        for start, code, a, b, flow, limit, congested in batch:
            f, run = labels(start)
            out.append(
                LineRow(
                    scope.cluster_id,
                    f.start_utc,
                    f.local_day,
                    f.number,
                    code,
                    scope.nodes[a],
                    scope.nodes[b],
                    flow,
                    limit,
                    bool(congested),
                    run.version,
                )
            )
        yield out


async def grid_batches(session: AsyncSession, scope: ExportScope) -> AsyncIterator[list[GridRow]]:
    stmt = (
        select(Interval.start_utc, GridExchange)
        .select_from(GridExchange)
        .join(ClearingRun, ClearingRun.id == GridExchange.run_id)
        .join(Interval, Interval.id == ClearingRun.interval_id)
        .where(_in_range(scope))
        .order_by(Interval.start_utc, GridExchange.node_id)
    )
    labels = _Labels(scope)
    async for batch in _stream(session, stmt):
        out = []
        for start, g in batch:
            f, run = labels(start)
            out.append(
                GridRow(
                    scope.cluster_id,
                    f.start_utc,
                    f.local_day,
                    f.number,
                    scope.nodes[g.node_id],
                    g.import_kwh,
                    g.export_kwh,
                    g.import_price,
                    g.export_price,
                    g.import_amount_pln,
                    g.export_amount_pln,
                    run.version,
                )
            )
        yield out


BATCHES: dict[str, Callable[[AsyncSession, ExportScope], AsyncIterator[list[Any]]]] = {
    "metering": metering_batches,
    "trades": trade_batches,
    "nodes": node_batches,
    "lines": line_batches,
    "grid": grid_batches,
    "storage": storage_batches,
    "statutory": statutory_batches,
}
