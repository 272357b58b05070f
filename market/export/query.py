"""Reading an export's rows from the database, streamed.

`load_scope` reads what is small (cluster, metering points, nodes, lines and the list of
cleared intervals in the range — ~3,000 per month) and derives the export's version from the
stored clearing runs and meter-data imports, never from the wall clock. The big tables are
then streamed: the metering table one interval at a time (≤ one row per metering point in
memory, settled with `market.settlement`), the others through a server-side cursor
(`stream` with `yield_per`) on PostgreSQL and SQLite alike.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from market.errors import NotFound, ValidationFailed
from market.export.tables import (
    GRID_PARTY,
    GridRow,
    IntervalFields,
    LineRow,
    MeteringRow,
    NodeRow,
    TradeRow,
    interval_fields,
)
from market.meter_models import MeterImport, MeterReading
from market.models import (
    ClearingRun,
    Cluster,
    GridConnection,
    GridExchange,
    Interval,
    IntervalStatus,
    Line,
    LineFlow,
    Member,
    MeteringPoint,
    Node,
    NodePrice,
    Order,
    Side,
    Trade,
)
from market.settlement import GridFlow, IntervalInput, Position, settle_interval

ZERO = Decimal(0)
STREAM_ROWS = 2000


@dataclass(frozen=True, slots=True)
class PointInfo:
    id: int
    ppe: str
    role: str
    node_id: int
    node: str
    member_id: int
    member: str
    active: bool


@dataclass(frozen=True, slots=True)
class RunInfo:
    interval_id: int
    start_utc: datetime
    minutes: int
    run_id: int
    version: str
    finished_at: datetime


@dataclass(frozen=True, slots=True)
class ExportScope:
    """Everything small an export needs, and its identity."""

    start: datetime
    end: datetime
    cluster_id: str
    cluster_name: str
    coordinator: str
    timezone: str
    minutes: int
    import_reference: Decimal
    export_reference: Decimal
    points: tuple[PointInfo, ...]
    nodes: dict[int, str]
    runs: tuple[RunInfo, ...]
    meter_imports: dict[int, datetime]
    #: sha256 of the runs and meter imports in the range (12 hex digits shown).
    version: str
    #: Latest clearing or meter import in the range: the same data, the same timestamp.
    generated_at: datetime

    @property
    def interval_count(self) -> int:
        return len(self.runs)

    @property
    def metering_rows_estimate(self) -> int:
        return len(self.runs) * sum(1 for p in self.points if p.active)

    def meta(self) -> dict[str, Any]:
        return {
            "format": "klaster-export",
            "format_version": 1,
            "title": f"Klaster export {self.cluster_name}",
            "cluster_id": self.cluster_id,
            "cluster_name": self.cluster_name,
            "coordinator_id": self.coordinator,
            "timezone": self.timezone,
            "from": self.start,
            "to": self.end,
            "intervals": len(self.runs),
            "resolution": f"PT{self.minutes}M",
            "price_unit": "PLN/kWh",
            "energy_unit": "kWh",
            "amount_unit": "PLN",
            "amount_sign": "+ the member pays, - the member receives",
            "version": self.version,
            "generated_at": self.generated_at,
        }


def _role(mp: MeteringPoint) -> str:
    return str(mp.role)


def _run_version(run_id: int, result_hash: str, finished_at: datetime) -> str:
    digest = hashlib.sha256(f"{result_hash}|{finished_at.isoformat()}".encode()).hexdigest()
    return f"r{run_id}-{digest[:8]}"


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


async def load_scope(
    session: AsyncSession, start: datetime, end: datetime, *, max_days: int | None = None
) -> ExportScope:
    """The scope of an export of [start, end); `NotFound` when nothing was cleared there."""
    start, end = _aware(start), _aware(end)
    if end <= start:
        raise ValidationFailed("to", "the end of the range must be after its start")
    if max_days is not None and end - start > timedelta(days=max_days):
        raise ValidationFailed(
            "to", f"the range is longer than {max_days} days; split it or use the command line"
        )
    cluster = await session.scalar(select(Cluster).order_by(Cluster.id).limit(1))
    if cluster is None:
        raise NotFound("cluster", "no cluster is set up yet; run `klaster seed` first")
    conn = await session.scalar(select(GridConnection).order_by(GridConnection.id).limit(1))
    nodes = dict((await session.execute(select(Node.id, Node.code))).all())
    point_rows = await session.execute(
        select(MeteringPoint, Member.name)
        .join(Member, Member.id == MeteringPoint.member_id)
        .order_by(MeteringPoint.ppe_code)
    )
    points = tuple(
        PointInfo(
            mp.id,
            mp.ppe_code,
            _role(mp),
            mp.node_id,
            nodes[mp.node_id],
            mp.member_id,
            name,
            mp.active,
        )
        for mp, name in point_rows
    )
    run_rows = await session.execute(
        select(
            Interval.id,
            Interval.start_utc,
            Interval.minutes,
            ClearingRun.id,
            ClearingRun.result_hash,
            ClearingRun.finished_at,
        )
        .join(ClearingRun, ClearingRun.interval_id == Interval.id)
        .where(
            Interval.start_utc >= start,
            Interval.start_utc < end,
            Interval.status == IntervalStatus.CLEARED.value,
        )
        .order_by(Interval.start_utc)
    )
    runs = tuple(
        RunInfo(iid, _aware(t), minutes, rid, _run_version(rid, rhash, _aware(fin)), _aware(fin))
        for iid, t, minutes, rid, rhash, fin in run_rows
    )
    if not runs:
        raise NotFound(
            "from",
            f"no cleared intervals between {start:%Y-%m-%d %H:%M}Z and {end:%Y-%m-%d %H:%M}Z; "
            "choose a range in which the market has cleared",
        )
    imports_used = await session.execute(
        select(MeterReading.import_id, func.count(), MeterImport.imported_at)
        .join(MeterImport, MeterImport.id == MeterReading.import_id)
        .where(MeterReading.start_utc >= start, MeterReading.start_utc < end)
        .group_by(MeterReading.import_id, MeterImport.imported_at)
        .order_by(MeterReading.import_id)
    )
    meter_imports: dict[int, datetime] = {}
    digest = hashlib.sha256()
    for run in runs:
        digest.update(f"{run.start_utc.isoformat()}|{run.version}\n".encode())
    for import_id, count, imported_at in imports_used:
        meter_imports[import_id] = _aware(imported_at)
        digest.update(f"m{import_id}|{count}\n".encode())
    generated_at = max([r.finished_at for r in runs] + list(meter_imports.values()))
    return ExportScope(
        start=start,
        end=end,
        cluster_id=cluster.registry_number or cluster.name,
        cluster_name=cluster.name,
        coordinator=cluster.coordinator_name,
        timezone=cluster.timezone,
        minutes=cluster.interval_minutes,
        import_reference=conn.import_price if conn else cluster.price_cap,
        export_reference=conn.export_price if conn else cluster.price_floor,
        points=points,
        nodes=nodes,
        runs=runs,
        meter_imports=meter_imports,
        version=digest.hexdigest()[:12],
        generated_at=generated_at.replace(microsecond=0),
    )


@dataclass(slots=True)
class _IntervalData:
    bought: dict[int, Decimal]
    sold: dict[int, Decimal]
    prices: dict[int, Decimal]
    readings: dict[int, tuple[Decimal, Decimal, str, int]]
    grid: list[GridFlow]
    binding_nodes: set[int]


async def _interval_data(session: AsyncSession, scope: ExportScope, run: RunInfo) -> _IntervalData:
    bought: dict[int, Decimal] = defaultdict(Decimal)
    sold: dict[int, Decimal] = defaultdict(Decimal)
    matched = await session.execute(
        select(Order.metering_point_id, Order.side, func.sum(Order.accepted_kwh))
        .where(Order.interval_id == run.interval_id, Order.accepted_kwh > 0)
        .group_by(Order.metering_point_id, Order.side)
    )
    for mp_id, side, kwh in matched:
        target = bought if side == Side.BUY.value else sold
        target[mp_id] += Decimal(kwh or 0).quantize(Decimal("0.001"))
    prices = dict(
        (
            await session.execute(
                select(NodePrice.node_id, NodePrice.price).where(NodePrice.run_id == run.run_id)
            )
        ).all()
    )
    readings = {
        mp: (imp, exp, quality, import_id)
        for mp, imp, exp, quality, import_id in (
            await session.execute(
                select(
                    MeterReading.metering_point_id,
                    MeterReading.import_kwh,
                    MeterReading.export_kwh,
                    MeterReading.quality,
                    MeterReading.import_id,
                ).where(MeterReading.start_utc == run.start_utc)
            )
        )
    }
    hours = Decimal(run.minutes) / 60
    grid: list[GridFlow] = []
    grid_binding = False
    exchanges = await session.execute(
        select(GridExchange, GridConnection.import_limit_kw, GridConnection.export_limit_kw)
        .outerjoin(GridConnection, GridConnection.node_id == GridExchange.node_id)
        .where(GridExchange.run_id == run.run_id)
        .order_by(GridExchange.node_id)
    )
    reference_nodes = []
    for g, import_limit, export_limit in exchanges:
        grid.append(
            GridFlow(
                scope.nodes[g.node_id], g.import_kwh, g.export_kwh, g.import_price, g.export_price
            )
        )
        reference_nodes.append(g.node_id)
        if import_limit is not None and g.import_kwh > 0 and g.import_kwh >= import_limit * hours:
            grid_binding = True
        if export_limit is not None and g.export_kwh > 0 and g.export_kwh >= export_limit * hours:
            grid_binding = True
    congested = await session.scalar(
        select(func.count())
        .select_from(LineFlow)
        .where(LineFlow.run_id == run.run_id, LineFlow.congested)
    )
    binding_nodes: set[int] = set()
    if grid_binding:
        binding_nodes = set(prices)
    elif congested and prices:
        # a binding line splits the prices: nodes off the reference price are constrained
        ref = prices.get(reference_nodes[0]) if reference_nodes else None
        if ref is None:
            ref = max(set(prices.values()), key=list(prices.values()).count)
        binding_nodes = {n for n, p in prices.items() if p != ref}
    return _IntervalData(bought, sold, prices, readings, grid, binding_nodes)


async def metering_batches(
    session: AsyncSession, scope: ExportScope
) -> AsyncIterator[list[MeteringRow]]:
    """The metering table, one interval per batch, settled (see `market.settlement`)."""
    for run in scope.runs:
        data = await _interval_data(session, scope, run)
        fields = interval_fields(run.start_utc, run.minutes, scope.timezone)
        points = [
            p
            for p in scope.points
            if p.active or p.id in data.bought or p.id in data.sold or p.id in data.readings
        ]
        positions = []
        for p in points:
            reading = data.readings.get(p.id)
            positions.append(
                Position(
                    p.ppe,
                    str(p.node_id),
                    data.bought.get(p.id, ZERO),
                    data.sold.get(p.id, ZERO),
                    reading[0] if reading else None,
                    reading[1] if reading else None,
                )
            )
        ref_imp, ref_exp = scope.import_reference, scope.export_reference
        if data.grid:
            ref_imp = data.grid[0].import_price_pln_per_kwh
            ref_exp = data.grid[0].export_price_pln_per_kwh
        settled = settle_interval(
            IntervalInput(
                run.start_utc,
                _PriceMap(data.prices),
                positions,
                data.grid,
                ref_imp,
                ref_exp,
            )
        )
        yield [
            _metering_row(scope, run, fields, p, line, data)
            for p, line in zip(points, settled.lines, strict=True)
        ]


class _PriceMap(dict[str, Decimal]):
    """Node prices keyed by str(node id); a node without a price (not in the problem) is 0."""

    def __init__(self, prices: dict[int, Decimal]) -> None:
        super().__init__({str(k): v for k, v in prices.items()})

    def __missing__(self, key: str) -> Decimal:
        return ZERO


def _metering_row(
    scope: ExportScope,
    run: RunInfo,
    f: IntervalFields,
    p: PointInfo,
    line: Any,
    data: _IntervalData,
) -> MeteringRow:
    reading = data.readings.get(p.id)
    version, generated = run.version, run.finished_at
    if reading is not None:
        version = f"{version}-m{reading[3]}"
        generated = max(generated, scope.meter_imports.get(reading[3], generated))
    return MeteringRow(
        scope.cluster_id,
        scope.coordinator,
        p.ppe,
        p.role,
        p.node,
        f.start_utc,
        f.end_utc,
        f.local_start,
        f.local_day,
        f.number,
        f.resolution,
        line.matched_import_kwh,
        line.matched_export_kwh,
        data.prices.get(p.node_id),
        line.traded_amount_pln,
        line.metered_import_kwh,
        line.metered_export_kwh,
        line.grid_import_kwh,
        line.grid_export_kwh,
        line.grid_amount_pln,
        p.node_id in data.binding_nodes,
        reading[2] if reading else None,
        version,
        generated.replace(microsecond=0),
    )


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
        start = _aware(start)
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
}
