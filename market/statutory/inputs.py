"""The hourly inputs of the statutory figures, read from the database week by week.

Per metering point and interval: the **meter data** where a reading was imported, else the
**cleared position** (accepted buy − accepted sell of the point's orders in a cleared
interval, netted: a positive net is consumption, a negative one feed-in). Intervals are
summed into hours of UTC (= local hours) per point, keeping which source each came from:
readings by the database (GROUP BY hour and point), cleared positions — far fewer rows, and
only for the intervals and points without a reading (an outer join) — here.
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

from market.core.timegrid import as_utc
from market.metering.models import MeterReading
from market.network.models import MeteringPoint, Technology
from market.statutory.figures import Capacity
from market.statutory.hourly import ZERO, DataSource, PointHour
from market.statutory.rates import TARIFF_GROUP
from market.statutory.rules import RuleSet
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


async def _chunk(session: AsyncSession, start: datetime, end: datetime) -> Cells:
    """hour → point → [import, export, source]: meter data summed per hour by the database;
    cleared positions only for the intervals and points without a reading."""
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
    cleared = await session.execute(
        select(
            Interval.start_utc, Order.metering_point_id, Order.side, func.sum(Order.accepted_kwh)
        )
        .join(Interval, Interval.id == Order.interval_id)
        .outerjoin(
            MeterReading,
            and_(
                MeterReading.start_utc == Interval.start_utc,
                MeterReading.metering_point_id == Order.metering_point_id,
            ),
        )
        .where(
            Interval.start_utc >= start,
            Interval.start_utc < end,
            Interval.status == IntervalStatus.CLEARED.value,
            Order.accepted_kwh > 0,
            MeterReading.metering_point_id.is_(None),
        )
        .group_by(Interval.start_utc, Order.metering_point_id, Order.side)
    )
    net: dict[tuple[datetime, int], Decimal] = defaultdict(Decimal)
    for at, pid, side, kwh in cleared:
        sign = 1 if side == Side.BUY.value else -1
        net[(at, pid)] += sign * Decimal(kwh or 0)
    for (at, pid), value in net.items():
        _add(cells, _hour(at), pid, max(value, ZERO), max(-value, ZERO), DataSource.CLEARED)
    return cells


async def point_hours(
    session: AsyncSession, points: dict[int, PointInfo], start: datetime, end: datetime
) -> AsyncIterator[tuple[datetime, list[PointHour]]]:
    """(hour start UTC, the points' figures) for every hour in [start, end) with data, in
    time order; read a week at a time."""
    at = start
    while at < end:
        stop = min(end, at + CHUNK)
        cells = await _chunk(session, at, stop)
        for hour in sorted(cells):
            out = []
            for pid, (imp, exp, label) in sorted(cells[hour].items()):
                info = points.get(pid) or PointInfo(pid, Technology.NONE.value, "G11")
                out.append(PointHour(pid, info.technology, info.tariff_group, imp, exp, label))
            yield hour, out
        at = stop
