"""The delivery-interval grid: UTC interval starts and their local-day numbering.

Intervals are stored by their UTC start. A local day (in the cluster's zone,
`DEFAULT_TIMEZONE` unless a caller names another) runs from
local midnight to the next local midnight, which is 23, 24 or 25 hours long; its intervals are
numbered 1…N in time order, so a 15-minute day has 92 (spring change), 96 or 100 (autumn
change, the repeated hour 02:00–03:00 counted twice, first at +02:00 then at +01:00)
intervals. Interval starts are aligned to multiples of the interval length in UTC, which for
15 and 60 minutes coincides with local quarter-hours and hours in Poland.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from market.core.settings import DEFAULT_TIMEZONE

ALLOWED_MINUTES = (15, 60)


def as_utc(moment: datetime) -> datetime:
    """An aware UTC datetime; naive values are taken to be UTC already (as SQLite returns)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _check_minutes(minutes: int) -> None:
    if minutes <= 0 or (24 * 60) % minutes:
        raise ValueError(f"interval length must divide a day evenly (got {minutes} min)")


def floor_interval(moment: datetime, minutes: int = 15) -> datetime:
    """Start (UTC) of the interval containing `moment`."""
    _check_minutes(minutes)
    t = as_utc(moment)
    step = minutes * 60
    epoch = int(t.timestamp())
    return datetime.fromtimestamp(epoch - epoch % step, tz=UTC)


def next_interval(start: datetime, minutes: int = 15, count: int = 1) -> datetime:
    return as_utc(start) + timedelta(minutes=minutes * count)


def iter_intervals(start: datetime, end: datetime, minutes: int = 15) -> Iterator[datetime]:
    """UTC starts of the intervals that begin in [start, end), start floored to the grid."""
    t = floor_interval(start, minutes)
    if t < as_utc(start):
        t = next_interval(t, minutes)
    stop = as_utc(end)
    while t < stop:
        yield t
        t = next_interval(t, minutes)


def local_day_bounds(day: date, tz: str = DEFAULT_TIMEZONE) -> tuple[datetime, datetime]:
    """UTC start and end of a local day."""
    zone = ZoneInfo(tz)
    start = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    return start, end


def intervals_in_local_day(
    day: date, minutes: int = 15, tz: str = DEFAULT_TIMEZONE
) -> list[datetime]:
    """UTC starts of every interval of a local day, in order (interval 1 first)."""
    _check_minutes(minutes)
    start, end = local_day_bounds(day, tz)
    return list(iter_intervals(start, end, minutes))


def intervals_per_local_day(day: date, minutes: int = 15, tz: str = DEFAULT_TIMEZONE) -> int:
    start, end = local_day_bounds(day, tz)
    return int((end - start).total_seconds()) // (minutes * 60)


@dataclass(frozen=True, slots=True)
class IntervalLabel:
    """How an interval is named in a local calendar (what a DSO export shows)."""

    start_utc: datetime
    end_utc: datetime
    local_start: datetime
    local_end: datetime
    local_day: date
    number: int
    count_in_day: int

    @property
    def resolution(self) -> str:
        minutes = int((self.end_utc - self.start_utc).total_seconds() // 60)
        return f"PT{minutes}M" if minutes < 60 else f"PT{minutes // 60}H"


def label(start: datetime, minutes: int = 15, tz: str = DEFAULT_TIMEZONE) -> IntervalLabel:
    """Local day and 1-based number of the interval starting at `start` (UTC)."""
    _check_minutes(minutes)
    start_utc = as_utc(start)
    if floor_interval(start_utc, minutes) != start_utc:
        raise ValueError(f"{start_utc.isoformat()} is not on the {minutes}-minute grid")
    zone = ZoneInfo(tz)
    local_start = start_utc.astimezone(zone)
    day = local_start.date()
    day_start, _ = local_day_bounds(day, tz)
    number = int((start_utc - day_start).total_seconds()) // (minutes * 60) + 1
    end_utc = start_utc + timedelta(minutes=minutes)
    return IntervalLabel(
        start_utc=start_utc,
        end_utc=end_utc,
        local_start=local_start,
        local_end=end_utc.astimezone(zone),
        local_day=day,
        number=number,
        count_in_day=intervals_per_local_day(day, minutes, tz),
    )


def interval_start(
    day: date, number: int, minutes: int = 15, tz: str = DEFAULT_TIMEZONE
) -> datetime:
    """Inverse of `label`: the UTC start of interval `number` (1-based) of a local day."""
    count = intervals_per_local_day(day, minutes, tz)
    if not 1 <= number <= count:
        raise ValueError(f"interval number must be 1…{count} on {day.isoformat()}")
    day_start, _ = local_day_bounds(day, tz)
    return day_start + timedelta(minutes=minutes * (number - 1))
