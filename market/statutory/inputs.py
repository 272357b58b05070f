"""The hourly inputs of the statutory figures, read from the database week by week.

Per metering point and interval: the **meter data** where a reading was imported, else the
**cleared position** (accepted buy − accepted sell of the point's orders in a cleared
interval, netted: a positive net is consumption, a negative one feed-in). Intervals are
summed into hours of UTC (= local hours) per point, keeping which source each came from.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
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


async def _chunk(
    session: AsyncSession, start: datetime, end: datetime
) -> dict[tuple[datetime, int], tuple[Decimal, Decimal, DataSource]]:
    """(interval start, point) → (import, export, source), meter data over cleared."""
    cells: dict[tuple[datetime, int], tuple[Decimal, Decimal, DataSource]] = {}
    net: dict[tuple[datetime, int], Decimal] = defaultdict(Decimal)
    cleared = await session.execute(
        select(
            Interval.start_utc, Order.metering_point_id, Order.side, func.sum(Order.accepted_kwh)
        )
        .join(Interval, Interval.id == Order.interval_id)
        .where(
            Interval.start_utc >= start,
            Interval.start_utc < end,
            Interval.status == IntervalStatus.CLEARED.value,
            Order.accepted_kwh > 0,
        )
        .group_by(Interval.start_utc, Order.metering_point_id, Order.side)
    )
    hours: dict[datetime, datetime] = {}

    def utc(moment: datetime) -> datetime:
        found = hours.get(moment)
        if found is None:
            found = hours[moment] = as_utc(moment)
        return found

    for at, pid, side, kwh in cleared:
        sign = 1 if side == Side.BUY.value else -1
        net[(utc(at), pid)] += sign * Decimal(kwh or 0)
    for key, value in net.items():
        cells[key] = (max(value, ZERO), max(-value, ZERO), DataSource.CLEARED)
    readings = await session.execute(
        select(
            MeterReading.start_utc,
            MeterReading.metering_point_id,
            MeterReading.import_kwh,
            MeterReading.export_kwh,
        ).where(MeterReading.start_utc >= start, MeterReading.start_utc < end)
    )
    for at, pid, imp, exp in readings:
        cells[(utc(at), pid)] = (imp, exp, DataSource.METER)
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
        hour_of: dict[datetime, datetime] = {}
        hours: dict[datetime, dict[int, list[Any]]] = defaultdict(dict)
        for (moment, pid), (imp, exp, source) in cells.items():
            hour = hour_of.get(moment)
            if hour is None:
                hour = hour_of[moment] = _hour(moment)
            slot = hours[hour].get(pid)
            if slot is None:
                hours[hour][pid] = [imp, exp, source]
            else:
                slot[0] += imp
                slot[1] += exp
                if slot[2] is not source:
                    slot[2] = DataSource.MIXED
        for hour in sorted(hours):
            out = []
            for pid, (imp, exp, label) in sorted(hours[hour].items()):
                info = points.get(pid) or PointInfo(pid, Technology.NONE.value, "G11")
                out.append(PointHour(pid, info.technology, info.tariff_group, imp, exp, label))
            yield hour, out
        at = stop
