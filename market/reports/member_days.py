"""A member's month day by day, and a day interval by interval: metered consumption and
production next to what the member bought and sold in the cluster, with the purchase cost and
the sales revenue (the prosumer's own view of the statement).

Both markets appear: the intraday auctions' trades (`bought_kwh`, `cost_pln`, …) and the
day-ahead auction's firm positions (`day_ahead_*`, the stored amounts of the run in force),
also in intervals the intraday market has not cleared. Summed over the month, the days give
the statement's market figures exactly: Σ `cost_pln − revenue_pln` = `local_amount_pln`,
Σ `day_ahead_amount_pln` = `day_ahead_amount_pln` (see `MonthDays.totals`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from market.access.actor import Actor
from market.access.models import Role
from market.core.errors import Forbidden, NotFound
from market.core.timegrid import as_utc
from market.export.day_ahead import day_ahead_amounts
from market.export.metering import settled_intervals
from market.export.request import LOCAL_TZ, local_midnight, month_range
from market.export.scope import load_scope
from market.reports.service import IntervalRow, cleared_runs
from market.reports.settled import KIND, ROWS, IntervalSums, decode_rows, ensure_statement_days
from market.settlement.settle import ZERO, DayAheadAmount, Line, split_traded_amount
from market.settlement.stored import cluster_timezone
from market.settlement.stored import member_days as stored_member_days


@dataclass
class MemberInterval:
    """One interval of a member's points together (several points add up)."""

    start_utc: datetime
    local_day: date
    #: The intraday price at the member's node (of the first point when the points sit at
    #: several); None when the intraday market has not cleared the interval.
    price_pln_per_kwh: Decimal | None
    bought_kwh: Decimal = ZERO
    sold_kwh: Decimal = ZERO
    cost_pln: Decimal = ZERO
    revenue_pln: Decimal = ZERO
    #: Metered consumption (import) and production (export); None before meter data arrives.
    metered_import_kwh: Decimal | None = None
    metered_export_kwh: Decimal | None = None
    #: The day-ahead auction's firm positions (cost − revenue = the stored amount).
    day_ahead_bought_kwh: Decimal = ZERO
    day_ahead_sold_kwh: Decimal = ZERO
    day_ahead_cost_pln: Decimal = ZERO
    day_ahead_revenue_pln: Decimal = ZERO
    day_ahead_amount_pln: Decimal = ZERO
    #: The day-ahead price at the member's node (of the first point with a position).
    day_ahead_price_pln_per_kwh: Decimal | None = None
    #: Whether the intraday market cleared this interval (False: day-ahead positions only).
    cleared_intraday: bool = False

    @property
    def net_pln(self) -> Decimal:
        """Earned (positive) or paid (negative) in both markets in the interval."""
        return self.revenue_pln - self.cost_pln - self.day_ahead_amount_pln

    def add_day_ahead(self, position: DayAheadAmount) -> None:
        self.day_ahead_bought_kwh += position.import_kwh
        self.day_ahead_sold_kwh += position.export_kwh
        self.day_ahead_amount_pln += position.amount_pln
        cost, revenue = position.split()
        self.day_ahead_cost_pln += cost
        self.day_ahead_revenue_pln += revenue
        if self.day_ahead_price_pln_per_kwh is None:
            self.day_ahead_price_pln_per_kwh = position.price_pln_per_kwh

    def add(self, line: Line) -> None:
        self.bought_kwh += line.matched_import_kwh
        self.sold_kwh += line.matched_export_kwh
        cost, revenue = split_traded_amount(line)
        self.cost_pln += cost
        self.revenue_pln += revenue
        if line.metered_import_kwh is not None:
            self.metered_import_kwh = (self.metered_import_kwh or ZERO) + line.metered_import_kwh
        if line.metered_export_kwh is not None:
            self.metered_export_kwh = (self.metered_export_kwh or ZERO) + line.metered_export_kwh


@dataclass
class MemberDay:
    day: date
    intervals: list[MemberInterval] = field(default_factory=list)

    @property
    def bought_kwh(self) -> Decimal:
        return sum((i.bought_kwh for i in self.intervals), ZERO)

    @property
    def sold_kwh(self) -> Decimal:
        return sum((i.sold_kwh for i in self.intervals), ZERO)

    @property
    def cost_pln(self) -> Decimal:
        return sum((i.cost_pln for i in self.intervals), ZERO)

    @property
    def revenue_pln(self) -> Decimal:
        return sum((i.revenue_pln for i in self.intervals), ZERO)

    @property
    def purchase_cost_pln(self) -> Decimal:
        """What buying cost that day in both markets."""
        return self.cost_pln + self.day_ahead_cost_pln

    @property
    def sales_revenue_pln(self) -> Decimal:
        """What selling earned that day in both markets."""
        return self.revenue_pln + self.day_ahead_revenue_pln

    @property
    def intraday_net_pln(self) -> Decimal:
        """Earned (positive) or paid (negative) in the intraday auctions that day."""
        return self.revenue_pln - self.cost_pln

    @property
    def day_ahead_bought_kwh(self) -> Decimal:
        return sum((i.day_ahead_bought_kwh for i in self.intervals), ZERO)

    @property
    def day_ahead_sold_kwh(self) -> Decimal:
        return sum((i.day_ahead_sold_kwh for i in self.intervals), ZERO)

    @property
    def day_ahead_cost_pln(self) -> Decimal:
        return sum((i.day_ahead_cost_pln for i in self.intervals), ZERO)

    @property
    def day_ahead_revenue_pln(self) -> Decimal:
        return sum((i.day_ahead_revenue_pln for i in self.intervals), ZERO)

    @property
    def day_ahead_amount_pln(self) -> Decimal:
        """Paid (positive) or received (negative) for the day's firm day-ahead positions."""
        return sum((i.day_ahead_amount_pln for i in self.intervals), ZERO)

    @property
    def day_ahead_net_pln(self) -> Decimal:
        """Earned (positive) or paid (negative) in the day-ahead auction that day."""
        return -self.day_ahead_amount_pln

    @property
    def net_pln(self) -> Decimal:
        """Earned (positive) or paid (negative) in both markets that day."""
        return self.intraday_net_pln + self.day_ahead_net_pln


def month_totals(days: list[MemberDay]) -> MemberDay:
    """The days added up (one `MemberDay` holding every interval): its intraday net is
    −`Statement.local_amount_pln`, its day-ahead amount `Statement.day_ahead_amount_pln`."""
    total = MemberDay(days[0].day if days else date.min)
    for d in days:
        total.intervals.extend(d.intervals)
    return total


def _target(actor: Actor, member_id: int | None) -> int:
    target = actor.member_id if member_id is None else member_id
    if target != actor.member_id and actor.role not in (Role.COORDINATOR, Role.DISTRIBUTOR):
        raise Forbidden("member", "you can only see your own statement")
    return target


async def member_days(
    session: AsyncSession,
    actor: Actor,
    start: datetime,
    end: datetime,
    member_id: int | None = None,
    tz: str = LOCAL_TZ,
    *,
    intraday: Sequence[tuple[datetime, Sequence[Line]]] | None = None,
    stored: bool = False,
) -> list[MemberDay]:
    """The member's intervals in [start, end) with an intraday trade or a firm day-ahead
    position, grouped by local day, oldest first (`NotFound` from `load_scope` when nothing
    was cleared there in either market). `intraday`: the member's lines of the intervals
    cleared intraday in [start, end), when the caller has them already
    (`reports.service.member_statement(intraday=…)` of the same month): not settled again.

    `stored=True` (without `intraday`): the intraday part from the settled days
    (`reports.settled`, computed and stored first where missing or stale; `tz` must be the
    cluster's, else the lines are settled here): the same days, intervals and sums, except
    that the intervals carry no intraday price and no metered values (None; the month's day
    table does not show them — `/statement/day` settles its day)."""
    target = _target(actor, member_id)
    day_ahead = await day_ahead_amounts(session, start, end, target)
    rows: dict[datetime, MemberInterval] = {}
    if intraday is None and stored and await cluster_timezone(session) == tz:
        for at, bought, sold, cost, revenue in await _stored_intervals(
            session, start, end, target, tz, bool(day_ahead)
        ):
            row = MemberInterval(at, _local_day(at, tz), None, bought, sold, cost, revenue)
            row.cleared_intraday = True
            rows[at] = row
        intraday = []
    if intraday is None:
        try:
            scope = await load_scope(session, start, end)
        except NotFound as error:
            if error.field != "from" or not day_ahead:
                raise
            intraday = []
        else:
            mine = {p.ppe for p in scope.points if p.member_id == target}
            intraday = [
                (as_utc(s.settlement.start), own)
                async for s in settled_intervals(session, scope, idle_points=False)
                if (own := [line for line in s.settlement.lines if line.ppe in mine])
            ]
    for start_utc, lines in intraday:
        row = MemberInterval(start_utc, _local_day(start_utc, tz), lines[0].price_pln_per_kwh)
        row.cleared_intraday = True
        for line in lines:
            row.add(line)
        rows[start_utc] = row
    for position in day_ahead:
        start_utc = as_utc(position.start_utc or start)
        found = rows.get(start_utc)
        if found is None:  # not cleared intraday (yet, or its clearing failed)
            found = rows[start_utc] = MemberInterval(start_utc, _local_day(start_utc, tz), None)
        found.add_day_ahead(position)
    days: dict[date, MemberDay] = {}
    for start_utc in sorted(rows):
        row = rows[start_utc]
        days.setdefault(row.local_day, MemberDay(row.local_day)).intervals.append(row)
    return list(days.values())


async def _stored_intervals(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    member_id: int,
    tz: str,
    any_day_ahead: bool,
) -> list[IntervalSums]:
    """The member's intervals cleared intraday in [start, end), from the settled days;
    `NotFound` on `from` (as `load_scope`) when none was cleared and no day-ahead position
    stands either."""
    first, last = as_utc(start), as_utc(end)
    if not await cleared_runs(session, first, last):
        if not any_day_ahead:
            await load_scope(session, first, last)  # its NotFound, worded as ever
        return []
    zone = ZoneInfo(tz)
    days = await ensure_statement_days(
        session,
        first.astimezone(zone).date(),
        (last - timedelta(microseconds=1)).astimezone(zone).date(),
        tz,
        IntervalRow(),
    )
    out: list[IntervalSums] = []
    for _day, figures in await stored_member_days(session, KIND, member_id, days):
        for sums in decode_rows(figures[ROWS]):
            if first <= sums[0] < last:
                out.append(sums)
    return out


def _local_day(moment: datetime, tz: str) -> date:
    return moment.astimezone(ZoneInfo(tz)).date()


def month_bounds(month: date, tz: str = LOCAL_TZ) -> tuple[datetime, datetime]:
    return month_range(month, tz)


def day_bounds(day: date, tz: str = LOCAL_TZ) -> tuple[datetime, datetime]:
    return local_midnight(day, tz), local_midnight(day + timedelta(days=1), tz)
