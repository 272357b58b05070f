"""A member's month day by day, and a day interval by interval: metered consumption and
production next to what the member bought and sold in the cluster, with the purchase cost and
the sales revenue (the prosumer's own view of the statement)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from market.access.actor import Actor
from market.access.models import Role
from market.core.errors import Forbidden
from market.core.timegrid import as_utc
from market.export.metering import settled_intervals
from market.export.request import LOCAL_TZ, local_midnight, month_range
from market.export.scope import load_scope
from market.settlement.settle import ZERO, Line, split_traded_amount


@dataclass
class MemberInterval:
    """One interval of a member's points together (several points add up)."""

    start_utc: datetime
    local_day: date
    #: The price at the member's node (of the first point when the points sit at several).
    price_pln_per_kwh: Decimal
    bought_kwh: Decimal = ZERO
    sold_kwh: Decimal = ZERO
    cost_pln: Decimal = ZERO
    revenue_pln: Decimal = ZERO
    #: Metered consumption (import) and production (export); None before meter data arrives.
    metered_import_kwh: Decimal | None = None
    metered_export_kwh: Decimal | None = None

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
    def net_pln(self) -> Decimal:
        """Earned (positive) or paid (negative) in the cluster that day."""
        return self.revenue_pln - self.cost_pln


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
) -> list[MemberDay]:
    """The member's cleared intervals in [start, end) grouped by local day, oldest first
    (`NotFound` from `load_scope` when nothing was cleared there)."""
    target = _target(actor, member_id)
    scope = await load_scope(session, start, end)
    mine = {p.ppe for p in scope.points if p.member_id == target}
    days: dict[date, MemberDay] = {}
    async for s in settled_intervals(session, scope, idle_points=False):
        lines = [line for line in s.settlement.lines if line.ppe in mine]
        if not lines:
            continue
        start_utc = as_utc(s.settlement.start)
        local_day = _local_day(start_utc, tz)
        row = MemberInterval(start_utc, local_day, lines[0].price_pln_per_kwh)
        for line in lines:
            row.add(line)
        days.setdefault(local_day, MemberDay(local_day)).intervals.append(row)
    return list(days.values())


def _local_day(moment: datetime, tz: str) -> date:
    return moment.astimezone(ZoneInfo(tz)).date()


def month_bounds(month: date, tz: str = LOCAL_TZ) -> tuple[datetime, datetime]:
    return month_range(month, tz)


def day_bounds(day: date, tz: str = LOCAL_TZ) -> tuple[datetime, datetime]:
    return local_midnight(day, tz), local_midnight(day + timedelta(days=1), tz)
