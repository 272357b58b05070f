"""Cluster reports and member statements, computed from the settled intervals.

Definitions (per interval t, C = members' consumption, G = members' generation fed in; both
metered when meter data exists, else what the market matched):

- self-sufficiency = Σ min(C_t, G_t) / Σ C_t — consumption covered by cluster generation in
  the same interval;
- self-consumption = Σ min(C_t, G_t) / Σ G_t — cluster generation used inside the cluster;
- share traded locally = Σ min(bought_t, sold_t) / Σ C_t — energy the markets matched between
  members, where bought_t and sold_t are the members' purchases and sales in *both* markets
  (the day-ahead auction's firm positions + the intraday auction's trades of interval t);
- savings = Σ (what members would have paid with the grid alone − what they paid), what
  they paid counting the day-ahead positions' amounts.

Intervals with firm day-ahead positions that the intraday market did not clear (its clearing
failed, or it has not run yet) are in the report too, as the statements have them
(`market.reports.day_ahead_only`): their quantities are each point's meter data where
imported, else its firm position; what members paid is the positions' stored amounts plus the
residual against the meter data (metered − firm, at the reference prices); grid-only prices
the net metered (else firm) energy at the grid connection's reference prices. So Σ of the
members' statements' totals (day-ahead + intraday + residuals) = the report's money.

Intervals with meter data and no market at all (not cleared intraday, no firm day-ahead
position: `market.reports.meter_only`) are in the report too, from the meter data: what
members paid is the grid at the tariff and net-billing, and the grid-only cost is the same
(no savings), as in their statements. So a month with no intraday clearing has a report
from its day-ahead positions and/or its meter data; every interval says which
(`IntervalFigures.kind` and `source`, rolled up in `Figures.kinds` and `Figures.source`).

Statutory shares (draft rules for clusters, see docs/export-format.md): renewable share of the
energy fed in ≥ 30 %; ability to cover ≥ 40 % of members' annual demand (from installed
capacity: PV kWp × 1,050 kWh/kWp and other generation × 8,000 h, against the members'
annual use); storage ≥ 2 % of generation capacity (storage power taken as
min(contracted power, storage kWh / 1 h)). The metering-point model has no fuel type, so all
generation (PV, landfill gas) counts as renewable and storage discharge does not.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from market.access.actor import Actor, require_role
from market.access.models import Member, Role
from market.clearing.results import cleared_with_runs
from market.core.errors import Forbidden, NotFound, ValidationFailed
from market.core.timegrid import as_utc
from market.export.day_ahead import (
    DayAheadData,
    UnsettledInterval,
    day_ahead_amounts,
    day_ahead_only_intervals,
    load_day_ahead,
)
from market.export.metering import SettledInterval, settled_intervals
from market.export.request import LOCAL_TZ, month_range, parse_range
from market.export.scope import ExportScope, PointInfo, line_names, load_scope
from market.export.tables import interval_fields
from market.metering.models import MeterReading
from market.network.models import MeteringPoint
from market.reports.day_ahead_only import day_ahead_only_lines
from market.reports.meter_only import GridSettledLine, count_readings, meter_only_lines
from market.reports.settled import (
    add_settled_month,
    cluster_intervals,
    ensure_statement_days,
    settlement_scope,
)
from market.settlement.settle import ZERO, Line, Statement, to_grosz
from market.settlement.stored import cluster_timezone
from market.trading.day_ahead_models import AuctionStatus, DayAheadAuction
from market.trading.models import Interval, IntervalStatus

PV_YIELD_KWH_PER_KWP = Decimal(1050)
OTHER_GENERATION_HOURS = Decimal(8000)


class Period(StrEnum):
    """What a report row covers (local time)."""

    INTERVAL = "interval"
    DAY = "day"
    MONTH = "month"
    YEAR = "year"


PERIODS = tuple(Period)


@dataclass(frozen=True, slots=True)
class ReportRequest:
    """A report's range [start, end) in UTC and its period, parsed from the page's query."""

    start: datetime
    end: datetime
    period: Period


def parse_report_request(
    start: str, end: str | None = None, period: str = Period.DAY, tz: str = LOCAL_TZ
) -> ReportRequest:
    """`start`/`end` as for an export (2026-10, 2026-10-25, ISO times); `period` one of
    `PERIODS`."""
    begin, finish = parse_range(start, end or None, tz)
    try:
        per = Period(period)
    except ValueError:
        raise ValidationFailed(
            "period",
            "unknown period %(value)s; use one of %(choices)s",
            value=period,
            choices=", ".join(PERIODS),
        ) from None
    return ReportRequest(begin, finish, per)


@dataclass(frozen=True, slots=True)
class IntervalFigures:
    start_utc: datetime
    local_start: datetime
    local_day: date
    consumption_kwh: Decimal
    generation_kwh: Decimal
    bought_kwh: Decimal
    sold_kwh: Decimal
    renewable_fed_in_kwh: Decimal
    cost_pln: Decimal
    grid_only_pln: Decimal
    price_pln_per_kwh: Decimal | None
    congested_lines: tuple[int, ...]
    #: What settled the interval (`IntervalKind`) and what its energy stands on
    #: (`meter_data`, `cleared_positions`, `mixed`; None: no point had anything).
    kind: str = "intraday"
    source: str | None = None


class IntervalKind(StrEnum):
    """How an interval of a report was settled."""

    INTRADAY = "intraday"  # cleared by the intraday market (its day-ahead positions too)
    DAY_AHEAD_ONLY = "day_ahead_only"  # firm day-ahead positions, no intraday clearing
    METER_ONLY = "meter_only"  # meter data, no market: settled against the grid


def _source(metered: int, lines: int) -> str | None:
    if lines == 0:
        return None
    if metered == lines:
        return "meter_data"
    return "cleared_positions" if metered == 0 else "mixed"


def _ratio(a: Decimal, b: Decimal) -> float | None:
    return float(a / b) if b else None


@dataclass(slots=True)
class Figures:
    """Totals over any set of intervals, with the derived shares."""

    intervals: int = 0
    consumption_kwh: Decimal = ZERO
    generation_kwh: Decimal = ZERO
    covered_kwh: Decimal = ZERO
    local_kwh: Decimal = ZERO
    renewable_fed_in_kwh: Decimal = ZERO
    cost_pln: Decimal = ZERO
    grid_only_pln: Decimal = ZERO
    price_sum: Decimal = ZERO
    priced: int = 0
    congestion: dict[int, int] = field(default_factory=dict)
    #: Intervals per `IntervalKind`, and the sources of their energy.
    kinds: dict[str, int] = field(default_factory=dict)
    sources: set[str] = field(default_factory=set)

    def add(self, f: IntervalFigures) -> None:
        self.intervals += 1
        self.kinds[f.kind] = self.kinds.get(f.kind, 0) + 1
        if f.source is not None:
            self.sources.add(f.source)
        self.consumption_kwh += f.consumption_kwh
        self.generation_kwh += f.generation_kwh
        self.covered_kwh += min(f.consumption_kwh, f.generation_kwh)
        self.local_kwh += min(f.bought_kwh, f.sold_kwh)
        self.renewable_fed_in_kwh += f.renewable_fed_in_kwh
        self.cost_pln += f.cost_pln
        self.grid_only_pln += f.grid_only_pln
        if f.price_pln_per_kwh is not None:
            self.price_sum += f.price_pln_per_kwh
            self.priced += 1
        for line in f.congested_lines:
            self.congestion[line] = self.congestion.get(line, 0) + 1

    @property
    def source(self) -> str | None:
        """`meter_data`, `cleared_positions`, `mixed`, or None (no energy at all)."""
        if not self.sources:
            return None
        return next(iter(self.sources)) if len(self.sources) == 1 else "mixed"

    @property
    def self_sufficiency(self) -> float | None:
        return _ratio(self.covered_kwh, self.consumption_kwh)

    @property
    def self_consumption(self) -> float | None:
        return _ratio(self.covered_kwh, self.generation_kwh)

    @property
    def local_share(self) -> float | None:
        return _ratio(self.local_kwh, self.consumption_kwh)

    @property
    def renewable_share(self) -> float | None:
        return _ratio(self.renewable_fed_in_kwh, self.generation_kwh)

    @property
    def savings_pln(self) -> Decimal:
        return self.grid_only_pln - self.cost_pln

    @property
    def mean_price(self) -> Decimal | None:
        return (self.price_sum / self.priced).quantize(Decimal("0.0001")) if self.priced else None


def period_key(f: IntervalFigures, period: Period) -> str:
    if period == Period.INTERVAL:
        return f.local_start.isoformat(timespec="minutes")
    if period == Period.DAY:
        return f.local_day.isoformat()
    if period == Period.MONTH:
        return f.local_day.isoformat()[:7]
    if period == Period.YEAR:
        return str(f.local_day.year)
    raise ValueError(f"unknown period {period!r}; use one of {', '.join(PERIODS)}")


def rollup(figures: Iterable[IntervalFigures], period: Period) -> list[tuple[str, Figures]]:
    """Figures per period, in time order (local days, months, years)."""
    out: dict[str, Figures] = {}
    for f in figures:
        out.setdefault(period_key(f, period), Figures()).add(f)
    return list(out.items())


@dataclass(frozen=True, slots=True)
class StatutoryShare:
    key: str
    value: float | None
    threshold: float
    basis: str

    @property
    def met(self) -> bool:
        return self.value is not None and self.value >= self.threshold


def _generates(p: PointInfo) -> bool:
    return p.pv_kwp > 0 or p.other_generation_kw > 0


def statutory_shares(points: Iterable[PointInfo], totals: Figures) -> list[StatutoryShare]:
    points = list(points)
    generation_kw = sum((p.pv_kwp + p.other_generation_kw for p in points), ZERO)
    storage_kw = sum((min(p.contracted_power_kw, p.storage_kwh) for p in points), ZERO)
    annual_yield = sum(
        (
            p.pv_kwp * PV_YIELD_KWH_PER_KWP + p.other_generation_kw * OTHER_GENERATION_HOURS
            for p in points
        ),
        ZERO,
    )
    annual_use = sum((p.annual_use_kwh for p in points), ZERO)
    return [
        StatutoryShare("renewable_fed_in", totals.renewable_share, 0.30, "period"),
        StatutoryShare("annual_demand_cover", _ratio(annual_yield, annual_use), 0.40, "capacity"),
        StatutoryShare(
            "storage_to_generation", _ratio(storage_kw, generation_kw), 0.02, "capacity"
        ),
    ]


def figures_of(s: SettledInterval, renewable: set[int]) -> IntervalFigures:
    consumption = generation = bought = sold = renewable_in = ZERO
    cost = grid_only = ZERO
    # the day-ahead money of the interval's firm positions: `grid_only` counts their energy
    da = s.data.day_ahead
    day_ahead = da.amounts if da is not None else {}
    day_ahead_in = da.imports if da is not None else {}
    day_ahead_out = da.exports if da is not None else {}
    metered = 0
    for p, line in zip(s.points, s.settlement.lines, strict=True):
        if line.metered_import_kwh is not None:
            metered += 1
        imp = (
            line.metered_import_kwh
            if line.metered_import_kwh is not None
            else line.matched_import_kwh
        )
        exp = (
            line.metered_export_kwh
            if line.metered_export_kwh is not None
            else line.matched_export_kwh
        )
        firm_in = day_ahead_in.get(p.id, ZERO)
        firm_out = day_ahead_out.get(p.id, ZERO)
        if line.metered_import_kwh is None:  # unmetered: what both markets matched
            imp += firm_in
        if line.metered_export_kwh is None:
            exp += firm_out
        consumption += imp
        generation += exp
        if p.id in renewable:
            renewable_in += exp
        bought += line.matched_import_kwh + firm_in
        sold += line.matched_export_kwh + firm_out
        cost += line.total_pln + day_ahead.get(p.id, ZERO)
        grid_only += line.grid_only_amount_pln
    d = s.data
    price = d.prices.get(d.grid_nodes[0]) if d.grid_nodes else None
    if price is None and d.prices:
        price = sorted(d.prices.values())[len(d.prices) // 2]
    return IntervalFigures(
        s.run.start_utc,
        s.fields.local_start,
        s.fields.local_day,
        consumption,
        generation,
        bought,
        sold,
        renewable_in,
        cost,
        grid_only,
        price,
        tuple(d.congested_lines),
        IntervalKind.INTRADAY,
        _source(metered, len(s.settlement.lines)),
    )


class IntervalRow:
    """`figures_of` an interval settled for the settled days (`reports.settled`), as JSON
    (decimals as strings); `stored_figures` reads it back. One per computation (it keeps the
    renewable points of the scope it last saw)."""

    def __init__(self) -> None:
        self._scope: ExportScope | None = None
        self._renewable: set[int] = set()

    def __call__(self, scope: ExportScope, s: SettledInterval) -> dict[str, Any]:
        if scope is not self._scope:
            self._scope = scope
            self._renewable = {p.id for p in scope.points if _generates(p)}
        return _interval_row(s, self._renewable)


def _interval_row(s: SettledInterval, renewable: set[int]) -> dict[str, Any]:
    f = figures_of(s, renewable)
    return {
        "start": f.start_utc.isoformat(),
        "minutes": s.run.minutes,
        "values": [
            str(v)
            for v in (
                f.consumption_kwh,
                f.generation_kwh,
                f.bought_kwh,
                f.sold_kwh,
                f.renewable_fed_in_kwh,
                f.cost_pln,
                f.grid_only_pln,
            )
        ],
        "price": None if f.price_pln_per_kwh is None else str(f.price_pln_per_kwh),
        "congested": list(f.congested_lines),
        "source": f.source,
    }


def stored_figures(row: dict[str, Any], tz: str) -> IntervalFigures:
    """`IntervalRow` read back: the same `IntervalFigures` as `figures_of`."""
    start = datetime.fromisoformat(row["start"]).astimezone(UTC)
    fields = interval_fields(start, row["minutes"], tz)
    values = [Decimal(v) for v in row["values"]]
    return IntervalFigures(
        start, fields.local_start, fields.local_day, *values,
        None if row["price"] is None else Decimal(row["price"]),
        tuple(row["congested"]), IntervalKind.INTRADAY, row["source"],
    )  # fmt: skip


def day_ahead_only_figures(
    interval: UnsettledInterval,
    d: DayAheadData,
    scope: ExportScope,
    renewable: set[int],
    lines: Sequence[Line] = (),
) -> IntervalFigures:
    """An interval with firm day-ahead positions that the intraday market did not clear:
    the positions' stored amounts, and per point its meter data where imported, else its
    firm position; `lines` (`reports.day_ahead_only.day_ahead_only_lines` of the interval)
    add the residual against the meter data and give the grid-only amount, as the
    statements have them. Without lines (no meter data) grid-only prices the net firm
    energy at the reference prices (what the lines would say)."""
    bought = sum(d.imports.values(), ZERO)
    sold = sum(d.exports.values(), ZERO)
    ids = {p.ppe: p.id for p in scope.points}
    consumption = generation = renewable_in = residual = grid_only = ZERO
    seen: set[int] = set()
    metered = 0
    for line in lines:
        pid = ids.get(line.ppe)
        if pid is None:
            continue
        seen.add(pid)
        if line.metered_import_kwh is not None:
            metered += 1
        firm_in, firm_out = d.imports.get(pid, ZERO), d.exports.get(pid, ZERO)
        imp = line.metered_import_kwh if line.metered_import_kwh is not None else firm_in
        exp = line.metered_export_kwh if line.metered_export_kwh is not None else firm_out
        consumption += imp
        generation += exp
        if pid in renewable:
            renewable_in += exp
        residual += line.grid_amount_pln or ZERO
        grid_only += line.grid_only_amount_pln
    for point in (set(d.imports) | set(d.exports)) - seen:
        imp, exp = d.imports.get(point, ZERO), d.exports.get(point, ZERO)
        consumption += imp
        generation += exp
        if point in renewable:
            renewable_in += exp
        net = imp - exp
        if net > 0:
            grid_only += to_grosz(net * scope.import_reference)
        elif net < 0:
            grid_only -= to_grosz(-net * scope.export_reference)
    f = interval_fields(interval.start_utc, interval.minutes, scope.timezone)
    return IntervalFigures(
        interval.start_utc,
        f.local_start,
        f.local_day,
        consumption,
        generation,
        bought,
        sold,
        renewable_in,
        sum(d.amounts.values(), ZERO) + residual,
        grid_only,
        None,
        (),
        IntervalKind.DAY_AHEAD_ONLY,
        _source(metered, len(seen | set(d.imports) | set(d.exports))),
    )


def meter_only_figures(
    lines: Sequence[GridSettledLine], scope: ExportScope, renewable: set[int]
) -> IntervalFigures:
    """An interval with meter data and no market (`reports.meter_only`): the metered energy,
    nothing traded, and the grid amounts as both what members paid and the grid-only cost
    (so no savings), as in their statements."""
    consumption = sum((line.import_kwh for line in lines), ZERO)
    generation = sum((line.export_kwh for line in lines), ZERO)
    renewable_in = sum((line.export_kwh for line in lines if line.point_id in renewable), ZERO)
    cost = sum((line.amount_pln for line in lines), ZERO)
    start = lines[0].start
    f = interval_fields(start, scope.minutes, scope.timezone)
    return IntervalFigures(
        start, f.local_start, f.local_day, consumption, generation, ZERO, ZERO, renewable_in,
        cost, cost, None, (), IntervalKind.METER_ONLY, "meter_data",
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class ClusterReport:
    scope: ExportScope
    period: Period
    rows: list[tuple[str, Figures]]
    totals: Figures
    shares: list[StatutoryShare]
    #: Price and volume per interval of the last local day in the range (for the day chart).
    last_day: list[IntervalFigures]
    line_names: dict[int, str]


#: A report page reads every settled interval; beyond this many metering-point-intervals
#: (about a minute of work) the page asks for a shorter range instead of timing out.
WEB_REPORT_MAX_POINT_INTERVALS = 6_000_000


async def _intraday_figures(
    session: AsyncSession, scope: ExportScope, renewable: set[int], *, stored: bool
) -> AsyncIterator[IntervalFigures]:
    """The figures of the scope's intervals cleared intraday, in time order."""
    if not scope.runs:
        return
    if stored and scope.timezone == LOCAL_TZ:
        zone = ZoneInfo(scope.timezone)
        first = scope.runs[0].start_utc.astimezone(zone).date()
        last = scope.runs[-1].start_utc.astimezone(zone).date()
        days = await ensure_statement_days(session, first, last, scope.timezone, IntervalRow())
        for row in await cluster_intervals(session, days):
            f = stored_figures(row, scope.timezone)
            if scope.start <= f.start_utc < scope.end:
                yield f
        return
    async for s in settled_intervals(session, scope, idle_points=False):
        yield figures_of(s, renewable)


async def cluster_report(
    session: AsyncSession,
    actor: Actor | None,
    start: datetime,
    end: datetime,
    period: Period = Period.DAY,
    *,
    max_point_intervals: int | None = WEB_REPORT_MAX_POINT_INTERVALS,
    stored: bool = True,
) -> ClusterReport:
    """The coordinator's report for [start, end) (the distributor may read it too). The
    intervals cleared intraday come from the settled days (`reports.settled`: settled once
    a day and stored; `stored=False`: settled here — the same figures)."""
    if actor is not None:
        require_role(actor, Role.COORDINATOR, Role.DISTRIBUTOR)
    # A month without intraday clearing still has a report: from the day-ahead positions
    # and/or the meter data (each interval says which, `IntervalFigures.kind`/`source`).
    if stored:  # the meter imports' summary is the export's, not the report's
        scope = await settlement_scope(session, start, end, allow_empty=True)
    else:
        scope = await load_scope(session, start, end, allow_empty=True)
    unsettled = await day_ahead_only_intervals(
        session, scope.start, scope.end, (r.interval_id for r in scope.runs)
    )
    readings = await count_readings(session, scope.start, scope.end)
    # the cleared intervals' rows, or the readings where they are more (meter-only months)
    size = max(scope.metering_rows_estimate, readings)
    if max_point_intervals is not None and size > max_point_intervals:
        points = max(1, sum(1 for p in scope.points if p.active))
        raise ValidationFailed(
            "start",
            "%(intervals)s intervals × %(points)s metering points is too much for one page; "
            "choose a shorter range",
            intervals=size // points,
            points=points,
        )
    renewable = {p.id for p in scope.points if _generates(p)}
    per: dict[str, Figures] = {}
    totals = Figures()
    last_day: list[IntervalFigures] = []

    def add(f: IntervalFigures) -> None:
        nonlocal last_day
        totals.add(f)
        per.setdefault(period_key(f, period), Figures()).add(f)
        if last_day and last_day[-1].local_day != f.local_day:
            last_day = []
        last_day.append(f)

    firm = await load_day_ahead(session, (u.interval_id for u in unsettled))
    by_start: dict[datetime, list[Line]] = {}
    if unsettled:
        settled = [r.interval_id for r in scope.runs]
        lines = await day_ahead_only_lines(
            session, scope.start, scope.end, settled, firm=firm, metered_only=True
        )
        for line in lines:
            by_start.setdefault(line.start, []).append(line)
    extra = [
        day_ahead_only_figures(
            u, firm[u.interval_id], scope, renewable, by_start.get(u.start_utc, [])
        )
        for u in unsettled
    ]
    covered = {r.start_utc for r in scope.runs} | {u.start_utc for u in unsettled}
    grid_lines: dict[datetime, list[GridSettledLine]] = {}
    if readings:
        for g in await meter_only_lines(session, scope.start, scope.end, covered):
            grid_lines.setdefault(g.start, []).append(g)
    extra.extend(meter_only_figures(lines, scope, renewable) for lines in grid_lines.values())
    extra.sort(key=lambda f: f.start_utc)
    if not scope.runs and not extra:
        raise NotFound(
            "from",
            "nothing cleared and no meter data between %(start)s and %(end)s; "
            "choose a range in which the market has cleared or readings were imported",
            start=scope.start,
            end=scope.end,
        )
    waiting = iter(extra)
    pending = next(waiting, None)
    async for f in _intraday_figures(session, scope, renewable, stored=stored):
        while pending is not None and pending.start_utc < f.start_utc:
            add(pending)
            pending = next(waiting, None)
        add(f)
    while pending is not None:
        add(pending)
        pending = next(waiting, None)
    return ClusterReport(
        scope,
        period,
        list(per.items()),
        totals,
        statutory_shares(scope.points, totals),
        last_day,
        await line_names(session),
    )


async def cleared_runs(
    session: AsyncSession, start: datetime, end: datetime
) -> list[tuple[int, datetime]]:
    """(interval id, start) of the intervals cleared intraday in [start, end) with a run, as
    `load_scope` finds them."""
    rows = await session.execute(cleared_with_runs(start, end, Interval.id, Interval.start_utc))
    return [(interval_id, as_utc(at)) for interval_id, at in rows]


def _nothing_cleared(start: datetime, end: datetime) -> NotFound:
    """`load_scope`'s answer for a range without cleared intervals."""
    return NotFound(
        "from",
        "no cleared intervals between %(start)s and %(end)s; "
        "choose a range in which the market has cleared",
        start=start,
        end=end,
    )


async def _point_member_name(session: AsyncSession, member_id: int) -> str:
    """The member's name as the export scope has it: through its metering points (a member
    without any has none)."""
    name = await session.scalar(
        select(Member.name)
        .join(MeteringPoint, MeteringPoint.member_id == Member.id)
        .where(Member.id == member_id)
        .limit(1)
    )
    return name or ""


async def member_statement(
    session: AsyncSession,
    actor: Actor,
    month: date,
    member_id: int | None = None,
    *,
    field: str = "member",
    intraday: list[tuple[datetime, list[Line]]] | None = None,
    stored: bool = True,
) -> Statement:
    """A member's statement for the local month of `month` (parsed at the boundary by
    `market.export.request.parse_month`): the intraday trades and grid residuals of the settled
    intervals, and the firm day-ahead positions of the month at the day-ahead prices.

    Members see their own (`Forbidden` on `field` for another's); the coordinator and the
    distributor any member's (`NotFound` on `field` for an unknown one). A month with
    day-ahead positions but no interval cleared intraday has a statement of its day-ahead
    part; a month with neither raises `NotFound` on `from`. `intraday`, when given, receives
    the member's lines of each interval cleared intraday (start, lines), for
    `reports.member_days.member_days(intraday=…)`: the month is settled once, not twice.
    Without `intraday` the intraday lines come summed per day from the settled days
    (`reports.settled`; `stored=False`: settled here, as with `intraday`) — the same sums."""
    target = actor.member_id if member_id is None else member_id
    if target != actor.member_id:
        if actor.role not in (Role.COORDINATOR, Role.DISTRIBUTOR):
            raise Forbidden(field, "you can only see your own statement")
        if await session.get(Member, target) is None:
            raise NotFound(field, "no member %(member_id)s", member_id=target)
    start, end = month_range(month)
    day_ahead = await day_ahead_amounts(session, start, end, target)
    settled: list[int] = []
    covered: set[datetime] = set()
    statement: Statement | None = None
    tz = await cluster_timezone(session)
    if intraday is None and tz == LOCAL_TZ and stored:
        # the intraday lines from the settled days (`reports.settled`): the member's rows,
        # the cluster's month settled once and stored, not at every request
        runs = await cleared_runs(session, start, end)
        if not runs:
            missing = _nothing_cleared(start, end)
        else:
            settled = [interval_id for interval_id, _ in runs]
            covered = {at for _, at in runs}
            statement = Statement(
                member=await _point_member_name(session, target),
                period=month.strftime("%Y-%m"),
            )
            last = (end - timedelta(microseconds=1)).astimezone(ZoneInfo(tz)).date()
            await add_settled_month(
                session, statement, target, month.replace(day=1), last, tz, IntervalRow()
            )
    else:
        try:
            scope = await load_scope(session, start, end)
        except NotFound as error:
            if error.field != "from":
                raise
            missing = error
        else:
            settled = [r.interval_id for r in scope.runs]
            covered = {r.start_utc for r in scope.runs}
            mine = {p.ppe for p in scope.points if p.member_id == target}
            name = next((p.member for p in scope.points if p.member_id == target), "")
            statement = Statement(member=name, period=month.strftime("%Y-%m"))
            async for s in settled_intervals(session, scope, idle_points=False):
                lines = [line for line in s.settlement.lines if line.ppe in mine]
                for line in lines:
                    statement.add(line)
                if intraday is not None and lines:
                    intraday.append((as_utc(s.settlement.start), lines))
    # intervals with day-ahead positions only: the member's firm positions and readings
    # there, settled like the intervals cleared intraday (residual, grid-only amount)
    extra = await day_ahead_only_lines(session, start, end, settled, target)
    # intervals with readings and no market at all: settled against the grid, as the month
    # without the cluster prices them (`reports.meter_only`)
    unsettled = await day_ahead_only_intervals(session, start, end, settled)
    covered |= {u.start_utc for u in unsettled}
    grid = await meter_only_lines(session, start, end, covered, target)
    if statement is None:
        # a month with firm day-ahead positions, or readings, but no interval cleared
        # intraday yet still has a statement; without any, nothing
        if not day_ahead and not extra and not grid:
            raise missing
        known = await session.scalar(select(Member.name).where(Member.id == target))
        statement = Statement(member=known or "", period=month.strftime("%Y-%m"))
    for line in extra:
        statement.add(line, intraday=False)
    for g in grid:
        statement.add_grid_settled(
            g.ppe, g.import_kwh, g.export_kwh, g.import_cost_pln, g.export_revenue_pln
        )
    for position in day_ahead:
        statement.add_day_ahead(position)
    return statement


def local_month(moment: datetime, tz: str = LOCAL_TZ) -> str:
    return moment.astimezone(ZoneInfo(tz)).strftime("%Y-%m")


async def latest_data(
    session: AsyncSession, until: datetime | None = None, tz: str = LOCAL_TZ
) -> datetime | None:
    """The start of the latest data a report can show, not after `until` (None: no bound):
    an interval cleared intraday, the local day of a cleared day-ahead auction, or a meter
    reading, whichever is latest."""
    zone = ZoneInfo(tz)
    cleared = select(func.max(Interval.start_utc)).where(
        Interval.status == IntervalStatus.CLEARED.value
    )
    day_ahead = select(func.max(DayAheadAuction.local_day)).where(
        DayAheadAuction.status == AuctionStatus.CLEARED.value
    )
    metered = select(func.max(MeterReading.start_utc))
    if until is not None:
        cleared = cleared.where(Interval.start_utc <= until)
        day_ahead = day_ahead.where(DayAheadAuction.local_day <= until.astimezone(zone).date())
        metered = metered.where(MeterReading.start_utc <= until)
    found = [as_utc(t) for t in (await session.scalar(cleared), await session.scalar(metered)) if t]
    day = await session.scalar(day_ahead)
    if day is not None:
        found.append(datetime.combine(day, time(), zone).astimezone(UTC))
    return max(found, default=None)


async def default_month(session: AsyncSession, now: datetime | None = None) -> str:
    """The local month a report opens on, as `2026-10`: that of the latest data up to `now`
    (intraday clearing, a day-ahead result or meter data — a cluster that trades only day
    ahead, or only has meter data, opens on its own month), else that of the latest data at
    all (everything lies after `now`), else `now`'s month."""
    now = now or datetime.now(UTC)
    latest = await latest_data(session, now) or await latest_data(session)
    return local_month(latest or now)
