"""The statutory figures from the settled days (`market.settlement.stored`, kind
`statutory`): each local day's hours matched once for the whole cluster (`match_hour`, the
exemption allocated between all the points consuming in each hour) and stored as

- the cluster's sums of the day (member 0: `figures.sums_figures`), which the statutory
  report rolls up to months and years (`figures.roll_up_days`);
- each member's sums of the day: consumption, exempt energy and avoided fees, the discount
  base, energy fed in and the counterfactual without the cluster (tariff, net-billing), as
  `points.member_benefit` sums them hour by hour.

Every figure is an exact sum of per-hour amounts already rounded (kWh to the Wh, PLN to
0.0001), so a month summed from its days is the month summed from its hours. The stamp adds
to the common one (`stored.day_stamps`) the rule set, the fee rates and the day's market
prices (the hour before the day too: the net-billing price book reads it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from market.core.timegrid import as_utc
from market.network.models import GridConnection, MeteringPoint
from market.prices.models import MarketPrice
from market.settlement.stored import (
    CLUSTER,
    Figures,
    day_bounds,
    day_stamps,
    ensure_days,
    member_days,
    stable_repr,
)
from market.statutory.figures import Sums, sums_figures, sums_from
from market.statutory.hourly import PLN4, ZERO, DataSource, match_hour
from market.statutory.inputs import load_points, point_hours
from market.statutory.models import Fee, FeeRate
from market.statutory.prices import load_price_book
from market.statutory.rates import load_rate_book
from market.statutory.rules import RuleSet

KIND = "statutory"
#: A member's day: the decimal sums (strings) and the labels.
MEMBER_SUMS = (
    "consumption_kwh",
    "exempt_kwh",
    "avoided_fees_pln",
    "discount_base_pln",
    "export_kwh",
    "counterfactual_import_pln",
    "counterfactual_export_pln",
)


async def _stamps(
    session: AsyncSession, days: list[date], tz: str, rules: RuleSet
) -> dict[date, str]:
    rates = await session.execute(
        select(
            FeeRate.id,
            FeeRate.fee,
            FeeRate.tariff_group,
            FeeRate.rate_pln_per_kwh,
            FeeRate.valid_from,
            FeeRate.valid_to,
        ).order_by(FeeRate.id)
    )
    extra = hashlib.sha256(stable_repr((rules, *map(tuple, rates))).encode()).hexdigest()
    start, end = day_bounds(days, tz)
    zone = ZoneInfo(tz)
    prices: dict[date, list[object]] = {}
    rows = await session.execute(
        select(MarketPrice.start_utc, MarketPrice.resolution_minutes, MarketPrice.price_pln_per_mwh)
        .where(MarketPrice.start_utc >= start - timedelta(hours=1), MarketPrice.start_utc < end)
        .order_by(MarketPrice.start_utc, MarketPrice.resolution_minutes)
    )
    for at, minutes, price in rows:
        moment = as_utc(at)
        for day in {
            moment.astimezone(zone).date(),
            (moment + timedelta(hours=1)).astimezone(zone).date(),
        }:
            prices.setdefault(day, []).append((moment.isoformat(), minutes, str(price)))
    by_day = {d: hashlib.sha256(stable_repr(prices.get(d, [])).encode()).hexdigest() for d in days}
    return await day_stamps(session, KIND, days, tz, extra, by_day)


def _new_member() -> dict[str, object]:
    return {**{name: ZERO for name in MEMBER_SUMS}, "sources": set(), "price_sources": set()}


async def compute_statutory_days(
    session: AsyncSession, days: list[date], tz: str, rules: RuleSet
) -> dict[date, dict[int, Figures]]:
    """Day → member (0: the cluster) → the day's sums, for consecutive `days`."""
    zone = ZoneInfo(tz)
    start, end = day_bounds(days, tz)
    points, _capacity = await load_points(session, rules)
    member_of = dict(
        (await session.execute(select(MeteringPoint.id, MeteringPoint.member_id))).all()
    )
    rates = await load_rate_book(session)
    prices = await load_price_book(session, start, end)
    tariff = await import_tariff(session)
    cluster: dict[date, Sums] = {}
    members: dict[date, dict[int, dict[str, object]]] = {}
    grid_rates: dict[tuple[date, str], Decimal] = {}
    every = frozenset(points)
    async for hour, figures in point_hours(session, points, start, end, quarters_of=every):
        day = hour.astimezone(zone).date()
        result = match_hour(hour, day, figures, rules, rates)
        cluster.setdefault(day, Sums()).add_hour(result)
        per = members.setdefault(day, {})
        for p in figures:
            member = member_of.get(p.point_id)
            if member is None:
                continue
            m = per.get(member)
            if m is None:
                m = per[member] = _new_member()
            m["sources"].add(p.source)  # type: ignore[attr-defined]
            m["consumption_kwh"] += p.import_kwh  # type: ignore[operator]
            if p.export_kwh:
                value, kind = prices.export_value(hour, day, p.export_kwh, p.export_by_start)
                m["price_sources"].add(kind)  # type: ignore[attr-defined]
                m["export_kwh"] += p.export_kwh  # type: ignore[operator]
                m["counterfactual_export_pln"] += value.quantize(PLN4, rounding=ROUND_HALF_UP)  # type: ignore[operator]
            m["counterfactual_import_pln"] += (p.import_kwh * tariff).quantize(  # type: ignore[operator]
                PLN4, rounding=ROUND_HALF_UP
            )
            rate = grid_rates.get((day, p.tariff_group))
            if rate is None:
                rate = grid_rates[(day, p.tariff_group)] = sum(
                    (
                        rates.rate(fee, day, p.tariff_group) or ZERO
                        for fee in (Fee.DISTRIBUTION_VARIABLE, Fee.QUALITY)
                    ),
                    ZERO,
                )
            m["discount_base_pln"] += (p.import_kwh * rate).quantize(  # type: ignore[operator]
                PLN4, rounding=ROUND_HALF_UP
            )
        for a in result.allocations:
            member = member_of.get(a.point_id)
            if member is None:
                continue
            m = per[member]
            m["exempt_kwh"] += a.exempt_kwh  # type: ignore[operator]
            m["avoided_fees_pln"] += a.avoided_fees_pln  # type: ignore[operator]
    out: dict[date, dict[int, Figures]] = {}
    for day, sums in cluster.items():
        row: dict[int, Figures] = {CLUSTER: sums_figures(sums)}
        for member, m in members.get(day, {}).items():
            row[member] = {
                **{name: str(m[name]) for name in MEMBER_SUMS},
                "sources": sorted(s.value for s in m["sources"]),  # type: ignore[attr-defined]
                "price_sources": sorted(m["price_sources"]),  # type: ignore[call-overload]
            }
        out[day] = row
    return out


async def ensure_statutory_days(
    session: AsyncSession, days: list[date], tz: str, rules: RuleSet
) -> None:
    """Make the stored statutory days current (compute the missing or stale ones)."""
    stamps = await _stamps(session, days, tz, rules)

    async def compute(span: list[date]) -> dict[date, dict[int, Figures]]:
        return await compute_statutory_days(session, span, tz, rules)

    await ensure_days(session, KIND, days, stamps, compute, tz)


async def cluster_days(session: AsyncSession, days: list[date]) -> list[tuple[date, Sums]]:
    """The cluster's stored sums per day (days with data), in day order."""
    return [(d, sums_from(f)) for d, f in await member_days(session, KIND, CLUSTER, days)]


class MemberSums:
    """A member's stored days summed (as `points.member_benefit` sums its hours)."""

    def __init__(self, rows: Iterable[tuple[date, Figures]]) -> None:
        self.values: dict[str, Decimal] = {name: ZERO for name in MEMBER_SUMS}
        self.sources: set[DataSource] = set()
        self.price_sources: set[str] = set()
        for _day, figures in rows:
            for name in MEMBER_SUMS:
                self.values[name] += Decimal(figures[name])
            self.sources.update(DataSource(s) for s in figures["sources"])
            self.price_sources.update(figures["price_sources"])


async def import_tariff(session: AsyncSession) -> Decimal:
    """The price of a kWh from the grid for a member without the cluster: the cluster's
    import reference (its grid connection's import price; energy, distribution and fees).
    Per-member tariffs are not modelled yet."""
    price = await session.scalar(
        select(GridConnection.import_price).order_by(GridConnection.id).limit(1)
    )
    return Decimal(price) if price is not None else ZERO
