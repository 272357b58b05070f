"""The statutory report: a range of local days → hours, months or years of figures.

`parse_statutory_request` is the one parser (CLI, page, API); `statutory_report` reads the
database (meter data over cleared positions, `inputs`), matches each hour (`hourly`), rolls
up (`figures`) and returns `Period`s; `period_row` is the flat JSON/CSV form of one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from market.access.actor import READ, Actor, require_role
from market.cluster.service import get_cluster
from market.core import fields as f
from market.core.errors import ValidationFailed
from market.settlement.stored import days_between
from market.statutory.figures import Granularity, Period, roll_up, roll_up_days
from market.statutory.hourly import HourResult, match_hour
from market.statutory.inputs import load_points, point_hours
from market.statutory.rates import load_rate_book
from market.statutory.rules import RULES, RuleSet
from market.statutory.stored import cluster_days, ensure_statutory_days

#: The longest report, in local days.
MAX_DAYS = 366 * 6


@dataclass(frozen=True, slots=True)
class StatutoryRequest:
    first_day: date
    last_day: date  # included
    granularity: Granularity

    def bounds(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """[start, end) of the requested local days, as aware datetimes in `zone`."""
        start = datetime.combine(self.first_day, datetime.min.time(), zone)
        end = datetime.combine(self.last_day + timedelta(days=1), datetime.min.time(), zone)
        return start, end


def _day_or_month(raw: object, field: str, *, end: bool) -> date:
    text = str(raw or "").strip()
    try:
        if len(text) == 7:
            first = date.fromisoformat(text + "-01")
            if not end:
                return first
            following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
            return following - timedelta(days=1)
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationFailed(field, "must be a date (YYYY-MM-DD) or a month (YYYY-MM)") from None


def parse_statutory_request(
    start: object, end: object, granularity: object = Granularity.MONTH.value
) -> StatutoryRequest:
    """`start`/`end`: local days or months, both included (`end` empty: as `start`)."""
    if f.blank(start):
        raise ValidationFailed("from", "required")
    first = _day_or_month(start, "from", end=False)
    last = _day_or_month(
        start if f.blank(end) else end, "to" if not f.blank(end) else "from", end=True
    )
    if last < first:
        raise ValidationFailed("to", "must not be before %(start)s", start=first)
    if (last - first).days + 1 > MAX_DAYS:
        raise ValidationFailed("to", "the range is too long (more than six years)")
    level = f.choice(granularity or Granularity.MONTH.value, "granularity", Granularity)
    return StatutoryRequest(first, last, level)


def request_for_range(
    start_utc: datetime, end_utc: datetime, tz: str, granularity: Granularity
) -> StatutoryRequest:
    """The local days covering [start_utc, end_utc) (the cluster report's range)."""
    zone = ZoneInfo(tz)
    first = start_utc.astimezone(zone).date()
    last = (end_utc - timedelta(microseconds=1)).astimezone(zone).date()
    return StatutoryRequest(first, max(first, last), granularity)


async def statutory_report(
    session: AsyncSession,
    actor: Actor | None,
    request: StatutoryRequest,
    rules: RuleSet = RULES,
    *,
    stored: bool = True,
) -> AsyncIterator[Period]:
    """The periods of the report, in time order (`actor` None: a trusted command). Months
    and years come from the settled days (`statutory.stored`: the cluster's hours matched
    once a day and stored; `stored=False`: every hour matched here, the same periods);
    hours are matched here."""
    if actor is not None:
        require_role(actor, *READ)
    cluster = await get_cluster(session)
    zone = ZoneInfo(cluster.timezone)
    start, end = request.bounds(zone)
    points, capacity = await load_points(session, rules)
    if stored and request.granularity is not Granularity.HOUR:
        days = days_between(request.first_day, request.last_day)
        await ensure_statutory_days(session, days, cluster.timezone, rules)
        sums = await cluster_days(session, days)
        for period in roll_up_days(sums, request.granularity, cluster.timezone, capacity, rules):
            yield period
        return
    rates = await load_rate_book(session)
    hours: list[HourResult] = []
    async for hour, figures in point_hours(session, points, start, end):
        day = hour.astimezone(zone).date()
        hours.append(match_hour(hour, day, figures, rules, rates))
    for period in roll_up(hours, request.granularity, cluster.timezone, capacity, rules):
        yield period


def _num(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def period_row(p: Period) -> dict[str, Any]:
    """One period as a JSON object (Decimals as strings, exact)."""
    s = p.sums
    return {
        "period_start": p.start.isoformat(timespec="seconds"),
        "granularity": p.granularity.value,
        "source": p.source,
        "hours": s.hours,
        "renewable_fed_in_kwh": _num(s.renewable_fed_in_kwh),
        "generation_fed_in_kwh": _num(s.generation_fed_in_kwh),
        "member_consumption_kwh": _num(s.member_consumption_kwh),
        "matched_kwh": _num(s.matched_kwh),
        "exempt_kwh": _num(s.exempt_kwh),
        "avoided_fees_pln": _num(s.avoided_fees_pln),
        "self_consumption_ratio": _num(p.self_consumption_ratio),
        "discount_tier": p.discount_tier,
        "discount_pay_share": _num(p.discount_pay_share),
        "discount_base_pln": _num(s.discount_base_pln),
        "discount_pln": _num(s.discount_pln),
        "renewable_share": _num(p.renewable_share),
        "missing_rates": sorted(s.missing_rates),
        "conditions": [
            {
                "name": c.name,
                "value": _num(c.value),
                "threshold": _num(c.threshold),
                "valid_from": c.valid_from.isoformat(),
                "met": c.met,
                "draft": c.draft,
            }
            for c in p.conditions
        ],
    }
