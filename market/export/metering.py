"""The metering table: one row per metering point per interval, settled.

Intervals are read in chunks (about 50,000 metering-point-intervals per chunk, so a handful
of queries serve many intervals while memory stays bounded), then each interval is settled
with `market.settlement.settle_interval` and turned into rows. `settled_intervals` is shared
with the cluster reports.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from market.clearing.models import GridExchange, LineFlow, NodePrice
from market.export.day_ahead import DayAheadData, load_day_ahead, metering_columns
from market.export.scope import ExportScope, PointInfo, RunInfo, aware
from market.export.tables import IntervalFields, MeteringRow, interval_fields
from market.metering.models import MeterReading
from market.network.models import GridConnection
from market.settlement.settle import (
    GridFlow,
    IntervalInput,
    IntervalSettlement,
    Position,
    settle_interval,
)
from market.trading.day_ahead_models import Market
from market.trading.models import Order, Side

ZERO = Decimal(0)
WH = Decimal("0.001")
CHUNK_CELLS = 50_000
MAX_CHUNK_INTERVALS = 96


@dataclass(slots=True)
class IntervalData:
    """What one cleared interval holds, keyed by metering point / node id."""

    bought: dict[int, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    sold: dict[int, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    prices: dict[int, Decimal] = field(default_factory=dict)
    readings: dict[int, tuple[Decimal, Decimal, str, int]] = field(default_factory=dict)
    grid: list[GridFlow] = field(default_factory=list)
    grid_nodes: list[int] = field(default_factory=list)
    grid_binding: bool = False
    congested_lines: list[int] = field(default_factory=list)
    binding_nodes: set[int] = field(default_factory=set)
    #: The firm day-ahead positions and storage schedules (`market.export.day_ahead`).
    day_ahead: DayAheadData | None = None


@dataclass(frozen=True, slots=True)
class SettledInterval:
    run: RunInfo
    fields: IntervalFields
    points: tuple[PointInfo, ...]
    data: IntervalData
    settlement: IntervalSettlement


def _chunks(scope: ExportScope) -> list[list[RunInfo]]:
    size = max(1, min(MAX_CHUNK_INTERVALS, CHUNK_CELLS // max(1, len(scope.points))))
    runs = list(scope.runs)
    return [runs[k : k + size] for k in range(0, len(runs), size)]


async def _load_chunk(
    session: AsyncSession, scope: ExportScope, runs: Sequence[RunInfo]
) -> dict[int, IntervalData]:
    by_interval = {r.interval_id: IntervalData() for r in runs}
    by_run = {r.run_id: by_interval[r.interval_id] for r in runs}
    by_start = {r.start_utc: by_interval[r.interval_id] for r in runs}
    hours = {r.run_id: Decimal(r.minutes) / 60 for r in runs}
    matched = await session.execute(
        select(Order.interval_id, Order.metering_point_id, Order.side, func.sum(Order.accepted_kwh))
        .where(
            Order.interval_id.in_(list(by_interval)),
            Order.accepted_kwh > 0,
            Order.market == Market.INTRADAY.value,
        )
        .group_by(Order.interval_id, Order.metering_point_id, Order.side)
    )
    for interval_id, mp_id, side, kwh in matched:
        d = by_interval[interval_id]
        target = d.bought if side == Side.BUY.value else d.sold
        target[mp_id] += Decimal(kwh or 0).quantize(WH)
    prices = await session.execute(
        select(NodePrice.run_id, NodePrice.node_id, NodePrice.price).where(
            NodePrice.run_id.in_(list(by_run))
        )
    )
    for run_id, node_id, price in prices:
        by_run[run_id].prices[node_id] = price
    readings = await session.execute(
        select(
            MeterReading.start_utc,
            MeterReading.metering_point_id,
            MeterReading.import_kwh,
            MeterReading.export_kwh,
            MeterReading.quality,
            MeterReading.import_id,
        ).where(
            MeterReading.start_utc >= runs[0].start_utc,
            MeterReading.start_utc <= runs[-1].start_utc,
        )
    )
    for start, mp_id, imp, exp, quality, import_id in readings:
        slot = by_start.get(aware(start))
        if slot is not None:
            slot.readings[mp_id] = (imp, exp, quality, import_id)
    exchanges = await session.execute(
        select(GridExchange, GridConnection.import_limit_kw, GridConnection.export_limit_kw)
        .outerjoin(GridConnection, GridConnection.node_id == GridExchange.node_id)
        .where(GridExchange.run_id.in_(list(by_run)))
        .order_by(GridExchange.run_id, GridExchange.node_id)
    )
    for g, import_limit, export_limit in exchanges:
        d, h = by_run[g.run_id], hours[g.run_id]
        d.grid.append(
            GridFlow(
                scope.nodes[g.node_id], g.import_kwh, g.export_kwh, g.import_price, g.export_price
            )
        )
        d.grid_nodes.append(g.node_id)
        if import_limit is not None and 0 < g.import_kwh >= import_limit * h:
            d.grid_binding = True
        if export_limit is not None and 0 < g.export_kwh >= export_limit * h:
            d.grid_binding = True
    congested = await session.execute(
        select(LineFlow.run_id, LineFlow.line_id).where(
            LineFlow.run_id.in_(list(by_run)), LineFlow.congested
        )
    )
    for run_id, line_id in congested:
        by_run[run_id].congested_lines.append(line_id)
    for d in by_interval.values():
        d.binding_nodes = _binding_nodes(d)
    for interval_id, day_ahead in (await load_day_ahead(session, by_interval)).items():
        if day_ahead.imports or day_ahead.exports:
            by_interval[interval_id].day_ahead = day_ahead
    return by_interval


def _binding_nodes(d: IntervalData) -> set[int]:
    """Nodes whose price a limit set: every node when a grid-connection limit binds; with a
    congested line, the nodes whose price differs from the grid connection's."""
    if d.grid_binding:
        return set(d.prices)
    if not d.congested_lines or not d.prices:
        return set()
    ref = d.prices.get(d.grid_nodes[0]) if d.grid_nodes else None
    if ref is None:
        values = list(d.prices.values())
        ref = max(set(values), key=values.count)
    return {n for n, p in d.prices.items() if p != ref}


class _PriceMap(dict[str, Decimal]):
    """Node prices keyed by str(node id); a node without a price (not in the problem) is 0."""

    def __init__(self, prices: dict[int, Decimal]) -> None:
        super().__init__({str(k): v for k, v in prices.items()})

    def __missing__(self, key: str) -> Decimal:
        return ZERO


def settle(
    scope: ExportScope, run: RunInfo, d: IntervalData, *, idle_points: bool = True
) -> SettledInterval:
    """Settle one interval. With `idle_points=False` the metering points that neither traded
    nor were metered are left out: they get 0.00 and take no part in the rounding, so every
    other line is the same (reports and statements use this; the export lists everyone)."""
    da = d.day_ahead
    points = tuple(
        p
        for p in scope.points
        if (p.active and idle_points)
        or p.id in d.bought
        or p.id in d.sold
        or p.id in d.readings
        or (da is not None and (p.id in da.imports or p.id in da.exports))
    )
    positions = []
    for p in points:
        reading = d.readings.get(p.id)
        positions.append(
            Position(
                p.ppe,
                str(p.node_id),
                d.bought.get(p.id, ZERO),
                d.sold.get(p.id, ZERO),
                reading[0] if reading else None,
                reading[1] if reading else None,
                da.imports.get(p.id, ZERO) if da else ZERO,
                da.exports.get(p.id, ZERO) if da else ZERO,
            )
        )
    imp, exp = scope.import_reference, scope.export_reference
    if d.grid:
        imp, exp = d.grid[0].import_price_pln_per_kwh, d.grid[0].export_price_pln_per_kwh
    settlement = settle_interval(
        IntervalInput(run.start_utc, _PriceMap(d.prices), positions, d.grid, imp, exp)
    )
    fields = interval_fields(run.start_utc, run.minutes, scope.timezone)
    return SettledInterval(run, fields, points, d, settlement)


async def settled_intervals(
    session: AsyncSession, scope: ExportScope, *, idle_points: bool = True
) -> AsyncIterator[SettledInterval]:
    """Every cleared interval of the scope, settled, in time order."""
    for chunk in _chunks(scope):
        data = await _load_chunk(session, scope, chunk)
        for run in chunk:
            yield settle(scope, run, data[run.interval_id], idle_points=idle_points)


def metering_rows(scope: ExportScope, s: SettledInterval) -> list[MeteringRow]:
    f, run, d = s.fields, s.run, s.data
    stamps: dict[int | None, tuple[str, datetime]] = {None: (run.version, _second(run.finished_at))}
    rows = []
    for p, line in zip(s.points, s.settlement.lines, strict=True):
        reading = d.readings.get(p.id)
        key = reading[3] if reading else None
        stamp = stamps.get(key)
        if stamp is None:  # first row of this interval with this meter import
            imported = scope.meter_imports.get(key or 0, run.finished_at)
            stamp = stamps[key] = (f"{run.version}-m{key}", _second(max(run.finished_at, imported)))
        extra = metering_columns(
            d.day_ahead, p.id, line.matched_import_kwh, line.matched_export_kwh
        )
        da_amount = d.day_ahead.amounts.get(p.id, ZERO) if d.day_ahead else ZERO
        rows.append(
            MeteringRow(
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
                line.matched_import_kwh + extra.da_import_kwh,
                line.matched_export_kwh + extra.da_export_kwh,
                d.prices.get(p.node_id),
                line.traded_amount_pln + da_amount,
                line.metered_import_kwh,
                line.metered_export_kwh,
                line.grid_import_kwh,
                line.grid_export_kwh,
                line.grid_amount_pln,
                p.node_id in d.binding_nodes,
                reading[2] if reading else None,
                stamp[0],
                stamp[1],
                *extra,
            )
        )
    return rows


def _second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


async def metering_batches(
    session: AsyncSession, scope: ExportScope
) -> AsyncIterator[list[MeteringRow]]:
    """The metering table, one interval per batch."""
    async for s in settled_intervals(session, scope):
        yield metering_rows(scope, s)
