"""The statutory figures per metering point: what each point consumed and fed in, the exempt
energy allocated to it (pro rata to its consumption in each hour, `hourly.allocate`) and
its avoided fees, per hour, month or year. The hourly table behind the distributor's and
the members' view of the fee exemption; Σ over points = the cluster's figures.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from market.access.actor import READ, Actor, require_role
from market.access.models import Member, Role
from market.cluster.service import get_cluster
from market.core.errors import Forbidden
from market.network.models import MeteringPoint
from market.settlement.stored import days_between, member_days
from market.statutory.figures import Capacity, Granularity, roll_up, roll_up_days
from market.statutory.hourly import PLN4, ZERO, DataSource, combine, match_hour
from market.statutory.inputs import load_points, point_hours
from market.statutory.models import Fee
from market.statutory.prices import load_price_book
from market.statutory.rates import load_rate_book
from market.statutory.report import StatutoryRequest
from market.statutory.rules import RULES, RuleSet
from market.statutory.stored import (
    KIND,
    MemberSums,
    cluster_days,
    ensure_statutory_days,
    import_tariff,
)


@dataclass(slots=True)
class PointPeriod:
    start: datetime  # local, with its offset
    point_id: int
    ppe_code: str
    member: str
    technology: str
    renewable: bool
    consumption_kwh: Decimal = ZERO
    fed_in_kwh: Decimal = ZERO
    exempt_kwh: Decimal = ZERO
    avoided_fees_pln: Decimal = ZERO
    sources: set[DataSource] = field(default_factory=set)

    @property
    def source(self) -> str | None:
        label = combine(self.sources)
        return label.value if label else None

    def row(self) -> dict[str, Any]:
        return {
            "period_start": self.start.isoformat(timespec="seconds"),
            "ppe_code": self.ppe_code,
            "member": self.member,
            "technology": self.technology,
            "renewable": self.renewable,
            "source": self.source,
            "consumption_kwh": str(self.consumption_kwh),
            "fed_in_kwh": str(self.fed_in_kwh),
            "exempt_kwh": str(self.exempt_kwh),
            "avoided_fees_pln": str(self.avoided_fees_pln),
        }


def _period_start(local: datetime, granularity: Granularity) -> datetime:
    if granularity is Granularity.HOUR:
        return local
    if granularity is Granularity.MONTH:
        return datetime(local.year, local.month, 1, tzinfo=local.tzinfo)
    return datetime(local.year, 1, 1, tzinfo=local.tzinfo)


async def point_periods(
    session: AsyncSession,
    actor: Actor | None,
    request: StatutoryRequest,
    rules: RuleSet = RULES,
) -> AsyncIterator[PointPeriod]:
    """Per period (in time order) the points with data, by PPE code."""
    if actor is not None:
        require_role(actor, *READ)
    cluster = await get_cluster(session)
    zone = ZoneInfo(cluster.timezone)
    start, end = request.bounds(zone)
    points, _capacity = await load_points(session, rules)
    names = {
        pid: (ppe, member)
        for pid, ppe, member in await session.execute(
            select(MeteringPoint.id, MeteringPoint.ppe_code, Member.name).join(
                Member, Member.id == MeteringPoint.member_id
            )
        )
    }
    rates = await load_rate_book(session)
    current: datetime | None = None
    rows: dict[int, PointPeriod] = {}

    def flush() -> list[PointPeriod]:
        return sorted(rows.values(), key=lambda r: r.ppe_code)

    async for hour, figures in point_hours(session, points, start, end):
        local = hour.astimezone(zone)
        key = _period_start(local, request.granularity)
        # Compared in UTC: with one tzinfo Python compares wall times, and the repeated
        # autumn hour (02:00+02:00, 02:00+01:00) would look like one.
        if current is not None and key.astimezone(UTC) != current.astimezone(UTC):
            for row in flush():
                yield row
            rows = {}
        current = key
        result = match_hour(hour, local.date(), figures, rules, rates)
        allocated = {a.point_id: a for a in result.allocations}
        for p in figures:
            if p.point_id not in rows:
                ppe, member = names.get(p.point_id, (str(p.point_id), ""))
                rows[p.point_id] = PointPeriod(
                    key, p.point_id, ppe, member, p.technology, rules.is_renewable(p.technology)
                )
            row = rows[p.point_id]
            row.consumption_kwh += p.import_kwh
            row.fed_in_kwh += p.export_kwh
            row.sources.add(p.source)
            share = allocated.get(p.point_id)
            if share is not None:
                row.exempt_kwh += share.exempt_kwh
                row.avoided_fees_pln += share.avoided_fees_pln
    for row in flush():
        yield row


@dataclass(frozen=True, slots=True)
class MemberBenefit:
    """A member's share of the month's statutory benefits."""

    member_id: int
    month_start: datetime
    consumption_kwh: Decimal
    exempt_kwh: Decimal
    avoided_fees_pln: Decimal
    #: The member's consumption × (variable distribution + quality rate).
    discount_base_pln: Decimal
    #: The cluster's tier for the month (0: none) and what the member saves with it.
    discount_tier: int
    discount_pln: Decimal
    source: str | None
    #: The counterfactual without the cluster: the member's grid import at its tariff (the
    #: cluster's import reference price) and its energy fed in under net-billing at the
    #: hour's market price (RCE where imported, else the month's RCEm).
    export_kwh: Decimal = ZERO
    tariff_pln_per_kwh: Decimal = ZERO
    counterfactual_import_pln: Decimal = ZERO
    counterfactual_export_pln: Decimal = ZERO
    #: `rce`, `rcem` or `mixed`: which prices valued the energy fed in (None: none fed in).
    export_price_source: str | None = None

    @property
    def counterfactual_pln(self) -> Decimal:
        """What the member would have paid without the cluster (negative: received)."""
        return self.counterfactual_import_pln - self.counterfactual_export_pln


async def member_benefit(
    session: AsyncSession,
    actor: Actor,
    member_id: int,
    request: StatutoryRequest,
    rules: RuleSet = RULES,
    *,
    stored: bool = True,
) -> MemberBenefit:
    """The member's exempt energy, avoided fees and distribution discount over the request's
    range (a month: the discount tier is the cluster's for the month, applied to the
    member's own discount base). Members see their own; the coordinator and the distributor
    anyone's. From the settled days (`statutory.stored`: the cluster's hours matched once a
    day and stored); `stored=False` matches every hour of the range here — the same
    figures."""
    if member_id != actor.member_id and actor.role not in (Role.COORDINATOR, Role.DISTRIBUTOR):
        raise Forbidden("member", "you can only see your own statement")
    cluster = await get_cluster(session)
    if stored:
        return await _stored_member_benefit(session, member_id, request, cluster.timezone, rules)
    zone = ZoneInfo(cluster.timezone)
    start, end = request.bounds(zone)
    points, _capacity = await load_points(session, rules)
    mine = frozenset(
        await session.scalars(select(MeteringPoint.id).where(MeteringPoint.member_id == member_id))
    )
    rates = await load_rate_book(session)
    prices = await load_price_book(session, start, end)
    tariff = await import_tariff(session)
    hours = []
    consumption = exempt = avoided = base = ZERO
    exported = cf_import = cf_export = ZERO
    price_sources: set[str] = set()
    sources: set[DataSource] = set()
    async for hour, figures in point_hours(session, points, start, end, quarters_of=mine):
        day = hour.astimezone(zone).date()
        result = match_hour(hour, day, figures, rules, rates)
        hours.append(result)
        for a in result.allocations:
            if a.point_id in mine:
                exempt += a.exempt_kwh
                avoided += a.avoided_fees_pln
        for p in figures:
            if p.point_id in mine:
                sources.add(p.source)
                consumption += p.import_kwh
                if p.export_kwh:
                    value, kind = prices.export_value(hour, day, p.export_kwh, p.export_by_start)
                    price_sources.add(kind)
                    exported += p.export_kwh
                    cf_export += value.quantize(PLN4, rounding=ROUND_HALF_UP)
                cf_import += (p.import_kwh * tariff).quantize(PLN4, rounding=ROUND_HALF_UP)
                rate = sum(
                    (
                        rates.rate(fee, day, p.tariff_group) or ZERO
                        for fee in (Fee.DISTRIBUTION_VARIABLE, Fee.QUALITY)
                    ),
                    ZERO,
                )
                base += (p.import_kwh * rate).quantize(PLN4, rounding=ROUND_HALF_UP)
    months = list(roll_up(hours, Granularity.MONTH, cluster.timezone, Capacity(ZERO, ZERO), rules))
    tier = months[-1].discount_tier if len(months) == 1 else 0
    share = months[-1].discount_pay_share if len(months) == 1 else None
    discount = ZERO
    if share is not None:
        discount = (base * (1 - share)).quantize(PLN4, rounding=ROUND_HALF_UP)
    label = combine(sources)
    return MemberBenefit(
        member_id,
        start,
        consumption,
        exempt,
        avoided,
        base,
        tier,
        discount,
        label.value if label else None,
        exported,
        tariff,
        cf_import,
        cf_export,
        (price_sources.pop() if len(price_sources) == 1 else "mixed") if price_sources else None,
    )


async def _stored_member_benefit(
    session: AsyncSession, member_id: int, request: StatutoryRequest, tz: str, rules: RuleSet
) -> MemberBenefit:
    """`member_benefit` from the stored days: the member's sums and the cluster's month."""
    days = days_between(request.first_day, request.last_day)
    await ensure_statutory_days(session, days, tz, rules)
    mine = MemberSums(await member_days(session, KIND, member_id, days))
    months = list(
        roll_up_days(
            await cluster_days(session, days), Granularity.MONTH, tz, Capacity(ZERO, ZERO), rules
        )
    )
    tier = months[-1].discount_tier if len(months) == 1 else 0
    share = months[-1].discount_pay_share if len(months) == 1 else None
    v = mine.values
    discount = ZERO
    if share is not None:
        discount = (v["discount_base_pln"] * (1 - share)).quantize(PLN4, rounding=ROUND_HALF_UP)
    label = combine(mine.sources)
    kinds = mine.price_sources
    return MemberBenefit(
        member_id,
        request.bounds(ZoneInfo(tz))[0],
        v["consumption_kwh"],
        v["exempt_kwh"],
        v["avoided_fees_pln"],
        v["discount_base_pln"],
        tier,
        discount,
        label.value if label else None,
        v["export_kwh"],
        await import_tariff(session),
        v["counterfactual_import_pln"],
        v["counterfactual_export_pln"],
        (kinds.pop() if len(kinds) == 1 else "mixed") if kinds else None,
    )
