"""A metering point's net energy forecast from its own meter history (standing orders in
forecast mode).

The estimator: **the same weekday over the last four weeks, per local wall-clock interval**.
For an interval that starts at local wall-clock time hh:mm on local day D, the forecast net
energy (export − import, kWh; > 0 a surplus) is the mean of the point's readings that start
at hh:mm local time on D − 7, D − 14, D − 21 and D − 28 days, over the readings present.

- DST-aware: intervals are matched by local wall-clock time, not by UTC offset from D. On the
  spring day (23 h) the missing hour 02:00–02:59 is simply not asked for; when a history day
  is the spring day it has no 02:xx readings, so those wall-clock times average the other
  weeks. On the autumn day (25 h) both occurrences of 02:xx get the same forecast; when a
  history day is the autumn day, both of its 02:xx readings count as samples.
- Missing data: weeks without a reading at that wall-clock time are left out of the mean; an
  interval with no reading in any of the four weeks has no history forecast (the caller falls
  back to the point's synthetic profile, `market.metering.profiles`, for that interval).
- Set-based: one query per target local day for every point asked about: the history
  instants with their wall-clock minute as an inline table (a `VALUES` CTE) joined on the
  readings' primary key and grouped by point and wall-clock minute in the database (at most
  points × intervals-per-day rows come back). Before it, a probe per history week of the
  primary key's leading column: with no reading in those weeks (a simulation, a new
  cluster) the join is not built at all.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Float, Integer, cast, column, func, select, text, values
from sqlalchemy.ext.asyncio import AsyncSession

from market.db.base import UTCDateTime
from market.metering.models import MeterReading

#: How many weeks back the estimator looks (same weekday each week).
WEEKS = 4
#: PostgreSQL's memory for the grouping (about 100 bytes a group; 5,000 points × 96 fit).
AGGREGATE_WORK_MEM = "64MB"


def wall_clock_minute(start_utc: datetime, zone: ZoneInfo) -> int:
    """Minutes after local midnight on the wall clock (the autumn day's repeated 02:15 is 135
    both times)."""
    local = start_utc.astimezone(zone)
    return local.hour * 60 + local.minute


def local_starts(day: date, wall_minute: int, zone: ZoneInfo) -> list[datetime]:
    """The UTC instants at which local `day` shows wall-clock `wall_minute`: none in the spring
    gap, two in the autumn repeated hour, else one."""
    naive = datetime.combine(day, time(wall_minute // 60, wall_minute % 60))
    found: list[datetime] = []
    for fold in (0, 1):
        moment = naive.replace(tzinfo=zone, fold=fold).astimezone(UTC)
        back = moment.astimezone(zone).replace(tzinfo=None)
        if back == naive and moment not in found:
            found.append(moment)
    return found


def history_days(day: date, weeks: int = WEEKS) -> list[date]:
    return [day - timedelta(days=7 * k) for k in range(1, weeks + 1)]


async def _day_means(
    session: AsyncSession, point_ids: list[int], day: date, minutes: set[int], zone: ZoneInfo
) -> dict[tuple[int, int], float]:
    """(point, wall-clock minute) → mean net kWh over the history readings (one query)."""
    key_of: dict[datetime, int] = {}
    for past in history_days(day):
        for minute in minutes:
            for start in local_starts(past, minute, zone):
                key_of[start] = minute
    if not key_of or not point_ids:
        return {}
    # No reading at any of the instants (a what-if simulation stores no meter data; a new
    # cluster has none yet): nothing to group. One probe of the primary key's leading
    # column per week instead of compiling and running the grouped join (≈ 45 ms a day).
    if not await _any_reading(session, sorted(key_of)):
        return {}
    # The history instants and their wall-clock minute as a small inline table, joined on
    # the readings' primary key (start_utc, metering_point_id): an index lookup per instant.
    mapping = (
        values(column("start_utc", UTCDateTime()), column("wall_minute", Integer), name="history")
        .data(sorted(key_of.items()))
        .cte("history")
    )
    net = MeterReading.export_kwh - MeterReading.import_kwh
    if session.get_bind().dialect.name == "postgresql":
        # One group per point and interval (480,000 at 5,000 points): PostgreSQL's default 4 MB
        # made the hash aggregate spill to disk (8.6 s at 5,000 points). For this transaction.
        await session.execute(text(f"SET LOCAL work_mem = '{AGGREGATE_WORK_MEM}'"))
    rows = await session.execute(
        select(
            MeterReading.metering_point_id,
            mapping.c.wall_minute,
            # Float sum and count (the forecast is an estimate, rounded to the Wh by the order):
            # their states are single machine words, so PostgreSQL's hash aggregate of 480,000
            # groups (5,000 points) stays small instead of spilling NUMERIC states to disk.
            func.sum(cast(net, Float)),
            func.count(),
        )
        .join(mapping, mapping.c.start_utc == MeterReading.start_utc)
        .where(MeterReading.metering_point_id.in_(point_ids))
        .group_by(MeterReading.metering_point_id, mapping.c.wall_minute)
    )
    return {(pid, int(minute)): float(total) / n for pid, minute, total, n in rows if n}


async def _any_reading(session: AsyncSession, instants: list[datetime]) -> bool:
    """Whether any reading starts within the history days' spans of `instants` (sorted): a
    cheap superset test of the join below (a reading between two instants of a week also
    counts; the join then decides)."""
    spans: list[tuple[datetime, datetime]] = []
    for at in instants:
        if spans and at - spans[-1][1] < timedelta(days=1):
            spans[-1] = (spans[-1][0], at)
        else:
            spans.append((at, at))
    for first, last in spans:
        found = await session.scalar(
            select(MeterReading.start_utc)
            .where(MeterReading.start_utc >= first, MeterReading.start_utc <= last)
            .limit(1)
        )
        if found is not None:
            return True
    return False


async def history_net_kwh(
    session: AsyncSession, point_ids: Iterable[int], starts: Iterable[datetime], tz: str
) -> dict[tuple[int, datetime], float]:
    """(point, interval start UTC) → forecast net kWh from the point's history, for the pairs
    that have history (see the module's docstring); one query per local day of `starts`."""
    zone = ZoneInfo(tz)
    pids = sorted(set(point_ids))
    # local day → wall-clock minute → the interval starts showing it (two in the autumn hour)
    by_day: dict[date, dict[int, list[datetime]]] = defaultdict(lambda: defaultdict(list))
    for start in starts:
        local = start.astimezone(zone)
        by_day[local.date()][local.hour * 60 + local.minute].append(start)
    out: dict[tuple[int, datetime], float] = {}
    if not pids:
        return out
    for day, targets in sorted(by_day.items()):
        means = await _day_means(session, pids, day, set(targets), zone)
        for (pid, minute), mean in means.items():
            for start in targets.get(minute, ()):
                out[(pid, start)] = mean
    return out
