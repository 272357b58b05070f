"""The intraday part of the members' statements from the settled days
(`market.settlement.stored`, kind `statement`): each local day's cleared intervals settled
once for the whole cluster, each member's lines summed per day (`Statement.add`, then
`Statement.intraday_figures`) and stored; a statement adds its member's days
(`Statement.add_intraday_figures`). The same sums as adding the month's lines one by one.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from market.export.metering import settled_intervals
from market.export.scope import load_scope
from market.settlement.settle import Statement
from market.settlement.stored import (
    Figures,
    day_bounds,
    day_stamps,
    days_between,
    ensure_days,
    member_days,
)

KIND = "statement"


async def compute_statement_days(
    session: AsyncSession, days: list[date], tz: str
) -> dict[date, dict[int, Figures]]:
    """Day → member → the intraday sums of the member's lines that day, for consecutive
    `days`: every cleared interval settled once (`idle_points=False`, as the statements)."""
    start, end = day_bounds(days, tz)
    scope = await load_scope(session, start, end, allow_empty=True)
    member_of = {p.ppe: p.member_id for p in scope.points}
    out: dict[date, dict[int, Statement]] = {}
    async for s in settled_intervals(session, scope, idle_points=False):
        per = out.setdefault(s.fields.local_day, {})
        for line in s.settlement.lines:
            member = member_of[line.ppe]
            statement = per.get(member)
            if statement is None:
                statement = per[member] = Statement(member="", period="")
            statement.add(line)
    return {
        day: {member: s.intraday_figures() for member, s in per.items()} for day, per in out.items()
    }


async def add_settled_month(
    session: AsyncSession, statement: Statement, member_id: int, first: date, last: date, tz: str
) -> None:
    """Add the member's intraday lines of the local days first … last to `statement`, from
    the settled days (computed and stored first where missing or stale)."""
    days = days_between(first, last)
    stamps = await day_stamps(session, KIND, days, tz)

    async def compute(span: list[date]) -> dict[date, dict[int, Figures]]:
        return await compute_statement_days(session, span, tz)

    await ensure_days(session, KIND, days, stamps, compute, tz)
    for _day, figures in await member_days(session, KIND, member_id, days):
        statement.add_intraday_figures(figures)
