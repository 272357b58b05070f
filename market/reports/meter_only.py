"""Intervals with meter data but no market at all (the intraday market did not clear them and
no one holds a firm day-ahead position there): settled against the grid, as the member would
have been without the cluster.

The statutory figures count these intervals (meter data where imported), and so does the
month without the cluster (`statutory.points.member_benefit`): grid import at the member's
tariff, energy fed in under net-billing. So that the statement's "with the cluster" covers the
same intervals, each metering point's readings there are priced by the same rule:

- import: the metered import × the grid connection's import price (`import_tariff`);
- export: the metered energy fed in under net-billing (`PriceBook.export_value`: the 15-minute
  RCE from 2025-10-01 where imported, else the hour's RCE, else the month's RCEm).

Rounding follows the counterfactual exactly: per metering point and hour, each amount is
rounded to 0.0001 PLN (half up) over the hour's meter-only intervals; it is then spread over
those intervals (each rounded to 0.0001, the last one taking what is left), so the hour's
lines sum to the hour's rounded amount. In an hour made only of such intervals the amounts
equal the counterfactual's to the 0.0001 PLN: the market part of the benefit there is exactly
0 (the fee exemption and the distribution discount follow the hourly rules as everywhere).
In an hour that mixes them with market intervals, the counterfactual rounds the whole hour
once, so the two may differ by 0.0001 PLN per point and hour.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from market.clearing.day_ahead_models import DayAheadPosition, DayAheadRun
from market.cluster.models import Cluster
from market.core.timegrid import as_utc
from market.metering.models import MeterReading
from market.network.models import MeteringPoint
from market.statutory.points import import_tariff
from market.statutory.prices import PriceBook, load_price_book
from market.trading.day_ahead_models import AuctionStatus, DayAheadAuction
from market.trading.models import Interval, IntervalStatus

ZERO = Decimal(0)
PLN4 = Decimal("0.0001")


class GridSettledLine(NamedTuple):
    """One metering point in one interval without a market, settled against the grid."""

    start: datetime
    point_id: int
    ppe: str
    member_id: int
    import_kwh: Decimal
    export_kwh: Decimal
    #: PLN to 0.0001 (see the module docstring), both ≥ 0.
    import_cost_pln: Decimal
    export_revenue_pln: Decimal

    @property
    def amount_pln(self) -> Decimal:
        """What the member pays for the line (negative: receives)."""
        return self.import_cost_pln - self.export_revenue_pln


def _round(value: Decimal) -> Decimal:
    return value.quantize(PLN4, rounding=ROUND_HALF_UP)


def spread(total: Decimal, exact: Sequence[Decimal]) -> list[Decimal]:
    """`exact` rounded to 0.0001 each, the last taking what makes the sum `total` exactly."""
    out = [_round(x) for x in exact[:-1]]
    return [*out, total - sum(out, ZERO)] if exact else []


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def price_hour(
    rows: Sequence[tuple[datetime, Decimal, Decimal]],
    hour: datetime,
    zone: ZoneInfo,
    tariff: Decimal,
    book: PriceBook,
) -> list[tuple[Decimal, Decimal]]:
    """(import cost, export revenue) per row of one point's meter-only intervals of `hour`
    ((start UTC, import kWh, export kWh) in time order): the hour's amounts as the
    counterfactual rounds them, spread over the rows."""
    day = hour.astimezone(zone).date()
    imports = [imp * tariff for _, imp, _ in rows]
    cost = _round(sum((imp for _, imp, _ in rows), ZERO) * tariff)
    exported = sum((exp for _, _, exp in rows), ZERO)
    by_start = [(start, exp) for start, _, exp in rows if exp]
    revenue = ZERO
    values = [ZERO] * len(rows)
    if exported:
        total, _kind = book.export_value(hour, day, exported, by_start)
        revenue = _round(total)
        hour_price = book.price(hour, day)[0]
        values = []
        for start, _, exp in rows:
            quarter = book.quarter_price(start, day)
            values.append(exp * (quarter if quarter is not None else hour_price))
    return list(zip(spread(cost, imports), spread(revenue, values), strict=True))


async def count_readings(session: AsyncSession, start: datetime, end: datetime) -> int:
    """Readings in [start, end): an upper bound of the meter-only lines (for size guards)."""
    count = await session.scalar(
        select(func.count())
        .select_from(MeterReading)
        .where(MeterReading.start_utc >= start, MeterReading.start_utc < end)
    )
    return int(count or 0)


def _market_starts(start: datetime, end: datetime) -> Any:
    """The starts of the intervals in [start, end) that had a market: cleared intraday, or
    with a firm position of the day-ahead run in force (the database leaves their readings
    out, so a month cleared throughout reads none)."""
    firm = (
        select(DayAheadPosition.interval_id)
        .join(DayAheadRun, DayAheadRun.id == DayAheadPosition.run_id)
        .join(
            DayAheadAuction,
            and_(
                DayAheadAuction.id == DayAheadRun.auction_id,
                DayAheadAuction.status == AuctionStatus.CLEARED.value,
                DayAheadRun.version == DayAheadAuction.version,
            ),
        )
    )
    return select(Interval.start_utc).where(
        Interval.start_utc >= start,
        Interval.start_utc < end,
        or_(Interval.status == IntervalStatus.CLEARED.value, Interval.id.in_(firm)),
    )


#: Readings lie on the cluster's grid of 15 or 60 minutes: every one starts on a quarter-hour.
QUARTER = timedelta(minutes=15)
#: Beyond this many quarter-hours without a market, the database filters the readings itself.
MAX_CANDIDATES = 5000


async def _starts_without_market(
    session: AsyncSession, start: datetime, end: datetime, covered: set[datetime]
) -> list[datetime] | None:
    """The quarter-hours of [start, end) that had no market (not in `covered`, not cleared
    intraday, no firm day-ahead position): the only starts whose readings are meter-only. So
    a month cleared throughout reads no reading at all (the `NOT IN` filter read every one of
    the range to keep none). None when there are more than `MAX_CANDIDATES`."""
    begin, finish = as_utc(start), as_utc(end)
    market = {as_utc(t) for t in await session.scalars(_market_starts(begin, finish))}
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    at = epoch + -((epoch - begin) // QUARTER) * QUARTER  # the first quarter-hour ≥ begin
    out: list[datetime] = []
    while at < finish:
        if at not in covered and at not in market:
            out.append(at)
            if len(out) > MAX_CANDIDATES:
                return None
        at += QUARTER
    return out


async def meter_only_lines(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    covered: set[datetime],
    member_id: int | None = None,
) -> list[GridSettledLine]:
    """The lines of every reading in [start, end) whose interval had no market: not in
    `covered` (the caller's intervals cleared intraday and with firm day-ahead positions) and
    not cleared intraday or with a firm day-ahead position in the database, of the points of
    `member_id` (None: everyone's), in time order then by PPE code."""
    candidates = await _starts_without_market(session, start, end, covered)
    if candidates is not None and not candidates:
        return []  # every quarter-hour of the range had a market: no reading to read
    # by the candidates alone (a range next to them makes SQLite scan the whole range)
    without_market = (
        [MeterReading.start_utc.in_(candidates)]
        if candidates is not None
        else [
            MeterReading.start_utc >= start,
            MeterReading.start_utc < end,
            MeterReading.start_utc.not_in(_market_starts(start, end)),
        ]
    )
    stmt = (
        select(
            MeterReading.start_utc,
            MeterReading.metering_point_id,
            MeteringPoint.ppe_code,
            MeteringPoint.member_id,
            MeterReading.import_kwh,
            MeterReading.export_kwh,
        )
        .join(MeteringPoint, MeteringPoint.id == MeterReading.metering_point_id)
        .where(*without_market)
        .order_by(MeterReading.start_utc, MeteringPoint.ppe_code)
    )
    if member_id is not None:
        stmt = stmt.where(MeteringPoint.member_id == member_id)
    groups: dict[tuple[datetime, int], list[tuple[datetime, Decimal, Decimal]]] = defaultdict(list)
    who: dict[int, tuple[str, int]] = {}
    for at, pid, ppe, member, imp, exp in await session.execute(stmt):
        at = as_utc(at)
        if at in covered:
            continue
        who[pid] = (ppe, member)
        groups[(_hour(at), pid)].append((at, Decimal(imp), Decimal(exp)))
    if not groups:
        return []
    timezone = await session.scalar(select(Cluster.timezone).order_by(Cluster.id).limit(1))
    zone = ZoneInfo(timezone or "Europe/Warsaw")
    tariff = await import_tariff(session)
    book = await load_price_book(session, start, end)
    lines: list[GridSettledLine] = []
    for (hour, pid), rows in groups.items():
        ppe, member = who[pid]
        for (at, imp, exp), (cost, revenue) in zip(
            rows, price_hour(rows, hour, zone, tariff, book), strict=True
        ):
            lines.append(GridSettledLine(at, pid, ppe, member, imp, exp, cost, revenue))
    lines.sort(key=lambda line: (line.start, line.ppe))
    return lines
