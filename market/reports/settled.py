"""The intraday part of the members' statements and of the cluster report from the settled
days (`market.settlement.stored`, kind `statement`): each local day's cleared intervals
settled once for the whole cluster, each member's lines summed per day (`Statement.add`,
then `Statement.intraday_figures`) and stored; a statement adds its member's days
(`Statement.add_intraday_figures`): the same sums as adding the month's lines one by one.
The cluster's row of the day (member 0) holds each interval's report figures (`cluster`,
`reports.service.figures_of` as JSON), which the cluster report reads instead of settling.
Each member's row also holds its intervals (`ROWS`: start, bought, sold, purchase cost, sales
revenue of the member's lines in each interval cleared that day, exact decimals), which
the month statement's day table reads (`reports.member_days.member_days(stored=True)`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from market.clearing.models import ClearingRun
from market.core.timegrid import as_utc
from market.export.metering import SettledInterval, settled_intervals
from market.export.scope import ExportScope, RunInfo, aware, load_scope
from market.settlement.settle import ZERO, Line, Statement, split_traded_amount
from market.settlement.stored import (
    CLUSTER,
    Figures,
    day_bounds,
    day_stamps,
    days_between,
    ensure_days,
    member_days,
)
from market.trading.models import Interval, IntervalStatus

KIND = "statement"
#: A member's figures key: its intervals of the day in time order, one string
#: (`encode_rows`): the start (minutes since the epoch for the first interval, since the
#: previous interval's start after it), bought kWh, sold kWh, purchase cost PLN and sales
#: revenue PLN (exact decimal strings), ";" between intervals. An interval of the member's
#: lines with nothing traded (meter data only: 0, 0, 0.00, 0) is its start alone.
ROWS = "interval_rows"
#: The sums of an interval of lines with nothing traded, written as its start alone.
_NOTHING = ("0", "0", "0.00", "0")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

#: One interval of a member's stored row: (start, bought, sold, cost, revenue).
IntervalSums = tuple[datetime, Decimal, Decimal, Decimal, Decimal]


def interval_sums_of(start_utc: datetime, lines: list[Line]) -> IntervalSums:
    """The member's lines of one interval summed as `MemberInterval.add` sums them."""
    bought = sold = cost = revenue = ZERO
    for line in lines:
        bought += line.matched_import_kwh
        sold += line.matched_export_kwh
        c, r = split_traded_amount(line)
        cost += c
        revenue += r
    return start_utc, bought, sold, cost, revenue


def encode_rows(rows: list[IntervalSums]) -> str:
    """The intervals as `ROWS` stores them (the decimals exact, to the exponent)."""
    parts: list[str] = []
    previous = 0
    for start, *sums in rows:
        minutes = (start - _EPOCH) // timedelta(minutes=1)
        texts = tuple(str(v) for v in sums)
        delta = str(minutes - previous)
        parts.append(delta if texts == _NOTHING else ":".join((delta, *texts)))
        previous = minutes
    return ";".join(parts)


def decode_rows(text: str) -> list[IntervalSums]:
    """`encode_rows` read back."""
    out: list[IntervalSums] = []
    minutes = 0
    for part in text.split(";") if text else []:
        delta, *texts = part.split(":")
        minutes += int(delta)
        b, s, c, r = (Decimal(t) for t in (texts or _NOTHING))
        out.append((_EPOCH + timedelta(minutes=minutes), b, s, c, r))
    return out


async def settlement_scope(
    session: AsyncSession, start: datetime, end: datetime, *, allow_empty: bool = False
) -> ExportScope:
    """`load_scope` without its summary of the range's meter imports (which reads every
    reading of the range, ~2.4 million rows for 5,000 points over 5 days, for the export's
    version and timestamp): what settling and reports need (points, runs, reference prices).
    Its `meter_imports` are empty and `version` and `generated_at` are not the export's."""
    first = aware(start)
    shell = await load_scope(session, first, first + timedelta(microseconds=1), allow_empty=True)
    rows = await session.execute(
        select(
            Interval.id,
            Interval.start_utc,
            Interval.minutes,
            ClearingRun.id,
            ClearingRun.finished_at,
        )
        .join(ClearingRun, ClearingRun.interval_id == Interval.id)
        .where(
            Interval.start_utc >= first,
            Interval.start_utc < aware(end),
            Interval.status == IntervalStatus.CLEARED.value,
        )
        .order_by(Interval.start_utc)
    )
    runs = tuple(
        RunInfo(iid, aware(at), minutes, rid, f"r{rid}", aware(finished))
        for iid, at, minutes, rid, finished in rows
    )
    if not runs and not allow_empty:
        await load_scope(session, start, end)  # its NotFound, worded as ever
    return replace(shell, start=first, end=aware(end), runs=runs, version="")


#: (the day's scope, one settled interval) → the interval's figures for the cluster's row.
ClusterFigures = Callable[[ExportScope, SettledInterval], Figures]


async def compute_statement_days(
    session: AsyncSession, days: list[date], tz: str, cluster: ClusterFigures
) -> dict[date, dict[int, Figures]]:
    """Day → member → the intraday sums of the member's lines that day (and its intervals,
    `ROWS`), and member 0 → the day's intervals (`cluster` of each, `{"intervals": [...]}`),
    for consecutive `days`: every cleared interval settled once (`idle_points=False`, as the
    statements)."""
    start, end = day_bounds(days, tz)
    scope = await settlement_scope(session, start, end, allow_empty=True)
    member_of = {p.ppe: p.member_id for p in scope.points}
    out: dict[date, dict[int, Statement]] = {}
    intervals: dict[date, list[Figures]] = {}
    rows: dict[date, dict[int, list[IntervalSums]]] = {}
    async for s in settled_intervals(session, scope, idle_points=False):
        intervals.setdefault(s.fields.local_day, []).append(cluster(scope, s))
        per = out.setdefault(s.fields.local_day, {})
        mine: dict[int, list[Line]] = {}
        for line in s.settlement.lines:
            member = member_of[line.ppe]
            statement = per.get(member)
            if statement is None:
                statement = per[member] = Statement(member="", period="")
            statement.add(line)
            mine.setdefault(member, []).append(line)
        start = as_utc(s.settlement.start)
        day_rows = rows.setdefault(s.fields.local_day, {})
        for member, lines in mine.items():
            day_rows.setdefault(member, []).append(interval_sums_of(start, lines))
    result: dict[date, dict[int, Figures]] = {}
    for day, per in out.items():
        result[day] = {
            member: {**s.intraday_figures(), ROWS: encode_rows(rows[day][member])}
            for member, s in per.items()
        }
        result[day][CLUSTER] = {"intervals": intervals[day]}
    return result


async def ensure_statement_days(
    session: AsyncSession, first: date, last: date, tz: str, cluster: ClusterFigures
) -> list[date]:
    """Make the settled days first … last current; returns them."""
    days = days_between(first, last)
    stamps = await day_stamps(session, KIND, days, tz)

    async def compute(span: list[date]) -> dict[date, dict[int, Figures]]:
        return await compute_statement_days(session, span, tz, cluster)

    await ensure_days(session, KIND, days, stamps, compute, tz)
    return days


async def add_settled_month(
    session: AsyncSession,
    statement: Statement,
    member_id: int,
    first: date,
    last: date,
    tz: str,
    cluster: ClusterFigures,
) -> None:
    """Add the member's intraday lines of the local days first … last to `statement`, from
    the settled days (computed and stored first where missing or stale)."""
    days = await ensure_statement_days(session, first, last, tz, cluster)
    for _day, figures in await member_days(session, KIND, member_id, days):
        statement.add_intraday_figures(figures)


async def cluster_intervals(session: AsyncSession, days: list[date]) -> list[Figures]:
    """The stored report figures of every interval cleared on `days`, in time order."""
    out: list[Figures] = []
    for _day, figures in await member_days(session, KIND, CLUSTER, days):
        out.extend(figures["intervals"])
    return out
