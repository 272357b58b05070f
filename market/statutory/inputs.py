"""The hourly inputs of the statutory figures, read from the database week by week.

Per metering point and interval: the **meter data** where a reading was imported, else the
**cleared position**: the point's firm day-ahead position (import − export of the day-ahead
run in force: simple orders, blocks and storage, `day_ahead_positions`) plus its intraday
trades (accepted buy − accepted sell of its `market='id'` orders in an interval the intraday
market cleared), netted per interval: a positive net is consumption, a negative one feed-in.
The day-ahead position counts whether or not the intraday market cleared the interval (it is
firm once the auction cleared, and the statements bill it), so a month with day-ahead trades
only has its figures too. Intervals are summed into hours of UTC (= local hours) per point,
keeping which source each came from: readings by the database (GROUP BY hour and point),
cleared positions — far fewer rows, and only for the intervals and points without a reading
(an outer join) — here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from market.clearing.day_ahead_models import DayAheadPosition, DayAheadRun
from market.core.timegrid import as_utc
from market.metering.models import MeterReading
from market.network.models import MeteringPoint, Technology
from market.statutory.figures import Capacity
from market.statutory.hourly import ZERO, DataSource, PointHour
from market.statutory.rates import TARIFF_GROUP
from market.statutory.rules import RuleSet
from market.trading.day_ahead_models import AuctionStatus, DayAheadAuction, Market
from market.trading.models import Interval, IntervalStatus, Order, Side

CHUNK = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class PointInfo:
    id: int
    technology: str
    tariff_group: str


async def load_points(
    session: AsyncSession, rules: RuleSet
) -> tuple[dict[int, PointInfo], Capacity]:
    """Every metering point (inactive ones may have history) and the active capacity."""
    rows = await session.execute(
        select(
            MeteringPoint.id,
            MeteringPoint.technology,
            MeteringPoint.load_profile,
            MeteringPoint.pv_kwp,
            MeteringPoint.other_generation_kw,
            MeteringPoint.contracted_power_kw,
            MeteringPoint.active,
        )
    )
    points: dict[int, PointInfo] = {}
    generation = storage = ZERO
    for pid, tech, profile, pv, other, contracted, active in rows:
        points[pid] = PointInfo(pid, tech, TARIFF_GROUP.get(profile, "G11"))
        if not active:
            continue
        if tech == Technology.STORAGE.value:
            storage += contracted
        elif rules.generates(tech) or pv > 0 or other > 0:
            generation += pv + other
    return points, Capacity(generation, storage)


def _hour(moment: datetime) -> datetime:
    return as_utc(moment).replace(minute=0, second=0, microsecond=0)


def _hour_bucket(dialect: str) -> Any:
    """The UTC hour of a reading's start, computed by the database."""
    if dialect == "sqlite":  # stored as naive UTC text 'YYYY-MM-DD HH:MM:SS.ffffff'
        return func.substr(MeterReading.start_utc, 1, 13)
    return func.date_trunc("hour", func.timezone("UTC", MeterReading.start_utc))


def _bucket_time(value: Any) -> datetime:
    if isinstance(value, str):  # 'YYYY-MM-DD HH'
        return datetime.fromisoformat(value + ":00").replace(tzinfo=UTC)
    moment: datetime = value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


Cells = dict[datetime, dict[int, list[Any]]]
#: (hour, point) → [(interval start, kWh fed in)], for the points asked for.
Quarters = dict[tuple[datetime, int], list[tuple[datetime, Decimal]]]


def _add(
    cells: Cells, hour: datetime, pid: int, imp: Decimal, exp: Decimal, src: DataSource
) -> None:
    slot = cells[hour].get(pid)
    if slot is None:
        cells[hour][pid] = [imp, exp, src]
        return
    slot[0] += imp
    slot[1] += exp
    if slot[2] is not src:
        slot[2] = DataSource.MIXED


async def _chunk(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    quarters_of: frozenset[int] = frozenset(),
    quarters: Quarters | None = None,
) -> Cells:
    """hour → point → [import, export, source]: meter data summed per hour by the database;
    cleared positions only for the intervals and points without a reading. For the points in
    `quarters_of`, each interval's energy fed in goes to `quarters` too."""
    cells: Cells = defaultdict(dict)
    hour = _hour_bucket(session.get_bind().dialect.name).label("hour")
    readings = await session.execute(
        select(
            hour,
            MeterReading.metering_point_id,
            func.sum(MeterReading.import_kwh),
            func.sum(MeterReading.export_kwh),
        )
        .where(MeterReading.start_utc >= start, MeterReading.start_utc < end)
        .group_by(hour, MeterReading.metering_point_id)
    )
    times: dict[Any, datetime] = {}
    for bucket, pid, imp, exp in readings:
        at = times.get(bucket)
        if at is None:
            at = times[bucket] = _bucket_time(bucket)
        _add(cells, at, pid, imp, exp, DataSource.METER)
    no_reading = and_(
        MeterReading.start_utc == Interval.start_utc,
        MeterReading.metering_point_id == Order.metering_point_id,
    )
    intraday = await session.execute(
        select(
            Interval.start_utc, Order.metering_point_id, Order.side, func.sum(Order.accepted_kwh)
        )
        .join(Interval, Interval.id == Order.interval_id)
        .outerjoin(MeterReading, no_reading)
        .where(
            Interval.start_utc >= start,
            Interval.start_utc < end,
            Interval.status == IntervalStatus.CLEARED.value,
            Order.market == Market.INTRADAY.value,
            Order.accepted_kwh > 0,
            MeterReading.metering_point_id.is_(None),
        )
        .group_by(Interval.start_utc, Order.metering_point_id, Order.side)
    )
    net: dict[tuple[datetime, int], Decimal] = defaultdict(Decimal)
    for at, pid, side, kwh in intraday:
        sign = 1 if side == Side.BUY.value else -1
        net[(as_utc(at), pid)] += sign * Decimal(kwh or 0)
    # the firm day-ahead positions of the run in force (simple orders, blocks, storage), in
    # any interval (cleared intraday or not), where the point has no reading
    firm = await session.execute(
        select(
            Interval.start_utc,
            DayAheadPosition.metering_point_id,
            DayAheadPosition.import_kwh,
            DayAheadPosition.export_kwh,
        )
        .select_from(DayAheadPosition)
        .join(DayAheadRun, DayAheadRun.id == DayAheadPosition.run_id)
        .join(
            DayAheadAuction,
            and_(
                DayAheadAuction.id == DayAheadRun.auction_id,
                DayAheadAuction.status == AuctionStatus.CLEARED.value,
                DayAheadRun.version == DayAheadAuction.version,
            ),
        )
        .join(Interval, Interval.id == DayAheadPosition.interval_id)
        .outerjoin(
            MeterReading,
            and_(
                MeterReading.start_utc == Interval.start_utc,
                MeterReading.metering_point_id == DayAheadPosition.metering_point_id,
            ),
        )
        .where(
            Interval.start_utc >= start,
            Interval.start_utc < end,
            MeterReading.metering_point_id.is_(None),
        )
    )
    for at, pid, imp, exp in firm:
        net[(as_utc(at), pid)] += Decimal(imp or 0) - Decimal(exp or 0)
    for (at, pid), value in net.items():
        _add(cells, _hour(at), pid, max(value, ZERO), max(-value, ZERO), DataSource.CLEARED)
        if quarters is not None and value < 0 and pid in quarters_of:
            quarters.setdefault((_hour(at), pid), []).append((at, -value))
    if quarters is not None and quarters_of:
        fed_in = await session.execute(
            select(
                MeterReading.start_utc, MeterReading.metering_point_id, MeterReading.export_kwh
            ).where(
                MeterReading.start_utc >= start,
                MeterReading.start_utc < end,
                MeterReading.metering_point_id.in_(sorted(quarters_of)),
                MeterReading.export_kwh > 0,
            )
        )
        for at, pid, kwh in fed_in:
            at = as_utc(at)
            quarters.setdefault((_hour(at), pid), []).append((at, Decimal(kwh)))
    return cells


async def point_hours(
    session: AsyncSession,
    points: dict[int, PointInfo],
    start: datetime,
    end: datetime,
    *,
    quarters_of: frozenset[int] = frozenset(),
) -> AsyncIterator[tuple[datetime, list[PointHour]]]:
    """(hour start UTC, the points' figures) for every hour in [start, end) with data, in
    time order; read a week at a time. The points in `quarters_of` also carry their energy
    fed in per interval (`PointHour.export_by_start`, for net-billing per quarter-hour)."""
    at = start
    while at < end:
        stop = min(end, at + CHUNK)
        quarters: Quarters = {}
        cells = await _chunk(session, at, stop, quarters_of, quarters)
        for hour in sorted(cells):
            out = []
            for pid, (imp, exp, label) in sorted(cells[hour].items()):
                info = points.get(pid) or PointInfo(pid, Technology.NONE.value, "G11")
                fed = tuple(sorted(quarters.get((hour, pid), ()))) if exp else ()
                out.append(PointHour(pid, info.technology, info.tariff_group, imp, exp, label, fed))
            yield hour, out
        at = stop
