"""A month with day-ahead trades only (no interval cleared intraday), by hand.

The export tests' cluster (`tests.support.clusters.EXPORT`, no intraday result stored):
prosumer A (anna, PV, household → G11) and the bakery's consumer point B (business → C11).
Fee rates (PLN/kWh): OZE 0.0035 + cogeneration 0.0068 = 0.0103 avoided per exempt kWh;
quality 0.0331 + variable distribution C11 0.30 = 0.3331 the discount base per kWh of B.
Grid connection: import 0.89, export 0.1829. The day-ahead auction of 2026-06-10 (cleared,
version 1) at 0.50 PLN/kWh; the intraday clearing of every interval failed.

Hour H1 = 10:00Z (12:00 local), four quarter-hours, **cleared positions** (no meter data):
A sells 2 kWh each (−1.00 each), B buys 1.5 kWh each (+0.75 each).
Hour H2 = 11:00Z, **meter data** imported: firm A sells 1, B buys 2 kWh each quarter
(−0.50, +1.00); metered A exports 0.5, 1.0, 1.5, 2.0 (5 kWh), B imports 2.25 each (9 kWh).

Statutory figures (June 2026 is inside the exemption 2024-07-02 … 2029-12-31):
- H1: renewable fed in 8, consumption 6, matched = exempt 6 → all to B; avoided 6 × 0.0103
  = 0.0618; discount base 6 × 0.3331 = 1.9986; source cleared_positions;
- H2: renewable 5, consumption 9, matched = exempt 5 → B; avoided 0.0515; base 2.9979;
  source meter_data;
- June: renewable 13, consumption 15, matched = exempt 11, avoided 0.1133;
  self-consumption 11 / 13 = 0.8462 > 0.80 → tier 3 (pay 85 %): discount 4.9965 × 0.15 =
  0.749475 → 0.7495; source mixed.

B's statement: day-ahead 4 × 0.75 + 4 × 1.00 = 7.00 for 14 kWh; H2 residual per quarter
(2.25 − 2) × 0.89 = 0.2225 → 0.22, × 4 = 0.88 for 1 kWh; total 7.88. Grid-only: H1 4 ×
round(1.5 × 0.89 = 1.335) = 4 × 1.34 = 5.36, H2 4 × round(2.25 × 0.89 = 2.0025) = 8.00.
With the cluster 7.88 − 0.1133 − 0.7495 = 7.0172; without it 6 × 0.89 + 9 × 0.89 = 13.35;
benefit 6.3328.

A's statement: day-ahead −4.00 − 2.00 = −6.00 for 12 kWh sold; H2 residual per quarter
(firm −1 kWh net): 0.5 → +0.5 × 0.89 = 0.445 → 0.45 paid; 1.0 → 0.00; 1.5 → 0.5 ×
0.1829 = 0.09145 → 0.09 received; 2.0 → 0.1829 → 0.18 received: cost 0.45, revenue 0.27;
total −6.00 + 0.45 − 0.27 = −5.82. Without the cluster (net-billing): H1 8 kWh at June's
RCEm 136.30 PLN/MWh = 1.0904; H2 at the imported 15-minute RCE 100, 200, 300, 400 PLN/MWh,
each quarter's own energy (from 2025-10-01): 0.05 + 0.20 + 0.45 + 0.80 = 1.50 (the hourly
mean 0.25 × 5 kWh would give 1.25). Without = −2.5904; benefit −2.5904 + 5.82 = 3.2296.
"""

from __future__ import annotations

import zlib
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D
from typing import Any

import pytest
from sqlalchemy import select

from market.access.actor import Actor
from market.access.models import Role
from market.clearing.day_ahead_models import DayAheadPosition, DayAheadPrice, DayAheadRun
from market.core.timegrid import label
from market.metering.models import MeterImport, MeterReading
from market.network.models import MeteringPoint
from market.prices.models import MarketPrice
from market.reports.benefits import benefit_rows, member_benefits
from market.reports.service import default_month, latest_data
from market.statutory.figures import Granularity
from market.statutory.models import Fee, FeeRate
from market.statutory.points import point_periods
from market.statutory.prices import PriceBook, hourly_means, quarter_prices
from market.statutory.report import StatutoryRequest, statutory_report
from market.trading.day_ahead_models import DayAheadAuction
from market.trading.models import Interval
from tests.support.clusters import EXPORT, PPE_A, PPE_B, PPE_C, build

pytestmark = pytest.mark.anyio
COORD = Actor(0, Role.COORDINATOR.value, "coordinator")
JUNE = date(2026, 6, 1)
DAY = date(2026, 6, 10)
H1 = datetime(2026, 6, 10, 10, tzinfo=UTC)
H2 = datetime(2026, 6, 10, 11, tzinfo=UTC)
Q = timedelta(minutes=15)
PRICE = D("0.50")


def _quarters(hour: datetime) -> list[datetime]:
    return [hour + k * Q for k in range(4)]


async def _month(s: Any, *, rce: bool = True) -> dict[str, int]:
    """The cluster, its fee rates, the day-ahead day and H2's meter data; → PPE → member id."""
    built = await build(s, EXPORT)
    a, b, c = (built.points[p] for p in (PPE_A, PPE_B, PPE_C))
    for pid, tech in ((a, "pv"), (b, "none"), (c, "pv")):
        point = await s.get(MeteringPoint, pid)
        assert point is not None
        point.technology = tech
    for fee, group, rate in (
        (Fee.OZE, None, "0.0035"),
        (Fee.COGENERATION, None, "0.0068"),
        (Fee.QUALITY, None, "0.0331"),
        (Fee.DISTRIBUTION_VARIABLE, "C11", "0.30"),
        (Fee.DISTRIBUTION_VARIABLE, "G11", "0.35"),
    ):
        s.add(
            FeeRate(
                fee=fee.value,
                tariff_group=group,
                rate_pln_per_kwh=D(rate),
                valid_from=date(2026, 1, 1),
                valid_to=None,
            )
        )
    auction = DayAheadAuction(
        local_day=DAY,
        gate_closure_utc=datetime(2026, 6, 9, 10, tzinfo=UTC),
        status="cleared",
        version=1,
    )
    s.add(auction)
    await s.flush()
    run = DayAheadRun(
        auction_id=auction.id,
        version=1,
        input_hash="i" * 64,
        result_hash="r" * 64,
        problem_gz=zlib.compress(b"{}"),
        status="optimal",
        reason="",
        interval_count=8,
        order_count=16,
        welfare_pln=D("1.00"),
        timings={},
        worker_id="test",
        started_at=H1,
    )
    s.add(run)
    await s.flush()
    for hour, sell, buy in ((H1, D(2), D("1.5")), (H2, D(1), D(2))):
        for start in _quarters(hour):
            lab = label(start, 15)
            interval = Interval(
                start_utc=start,
                minutes=15,
                gate_closure_utc=start - timedelta(minutes=5),
                local_day=lab.local_day,
                number=lab.number,
                status="failed",  # the intraday clearing failed: day-ahead only
            )
            s.add(interval)
            await s.flush()
            for node in built.nodes.values():
                s.add(
                    DayAheadPrice(run_id=run.id, interval_id=interval.id, node_id=node, price=PRICE)
                )
            s.add_all(
                [
                    DayAheadPosition(
                        run_id=run.id, interval_id=interval.id, metering_point_id=a,
                        import_kwh=D(0), export_kwh=sell, amount_pln=-sell * PRICE,
                    ),
                    DayAheadPosition(
                        run_id=run.id, interval_id=interval.id, metering_point_id=b,
                        import_kwh=buy, export_kwh=D(0), amount_pln=buy * PRICE,
                    ),
                ]
            )  # fmt: skip
    imp = MeterImport(
        filename="h2.csv", sha256="0" * 64, resolution_minutes=15, rows=8, stored_readings=8
    )
    s.add(imp)
    await s.flush()
    for start, a_out in zip(_quarters(H2), ("0.5", "1.0", "1.5", "2.0"), strict=True):
        for pid, i_kwh, e_kwh in ((a, D(0), D(a_out)), (b, D("2.25"), D(0))):
            s.add(
                MeterReading(
                    start_utc=start, metering_point_id=pid, import_kwh=i_kwh, export_kwh=e_kwh,
                    quality="measured", source_minutes=15, import_id=imp.id,
                )
            )  # fmt: skip
    if rce:
        for start, price in zip(_quarters(H2), (100, 200, 300, 400), strict=True):
            s.add(
                MarketPrice(
                    start_utc=start,
                    resolution_minutes=15,
                    price_pln_per_mwh=D(price),
                    source="test",
                )
            )
    await s.commit()
    return {PPE_A: built.members["anna"], PPE_B: built.members["bakery"]}


async def test_statutory_figures_of_a_day_ahead_only_month(db: Any) -> None:
    async with db.session() as s:
        await _month(s)
    request = StatutoryRequest(JUNE, date(2026, 6, 30), Granularity.HOUR)
    async with db.session() as s:
        hours = [p async for p in statutory_report(s, None, request)]
        months = [
            p
            async for p in statutory_report(
                s, None, StatutoryRequest(JUNE, date(2026, 6, 30), Granularity.MONTH)
            )
        ]
        years = [
            p
            async for p in statutory_report(
                s, None, StatutoryRequest(JUNE, date(2026, 6, 30), Granularity.YEAR)
            )
        ]
    assert [h.start.astimezone(UTC) for h in hours] == [H1, H2]
    first, second = hours
    assert (first.sums.renewable_fed_in_kwh, first.sums.member_consumption_kwh) == (D(8), D(6))
    assert (first.sums.exempt_kwh, first.sums.avoided_fees_pln) == (D(6), D("0.0618"))
    assert first.sums.discount_base_pln == D("1.9986") and first.source == "cleared_positions"
    assert (second.sums.renewable_fed_in_kwh, second.sums.member_consumption_kwh) == (D(5), D(9))
    assert (second.sums.exempt_kwh, second.sums.avoided_fees_pln) == (D(5), D("0.0515"))
    assert second.sums.discount_base_pln == D("2.9979") and second.source == "meter_data"
    (month,) = months
    assert month.sums.matched_kwh == month.sums.exempt_kwh == D(11)
    assert (
        month.sums.avoided_fees_pln
        == D("0.1133")
        == sum((h.sums.avoided_fees_pln for h in hours), D(0))
    )
    assert month.self_consumption_ratio == D("0.8462")
    assert (month.discount_tier, month.discount_pay_share) == (3, D("0.85"))
    assert month.sums.discount_pln == D("0.7495") and month.source == "mixed"
    # hour → month → year: the energies and money are exact sums
    (year,) = years
    for name in ("renewable_fed_in_kwh", "member_consumption_kwh", "exempt_kwh",
                 "avoided_fees_pln", "discount_base_pln"):  # fmt: skip
        assert (
            getattr(year.sums, name)
            == getattr(month.sums, name)
            == sum((getattr(h.sums, name) for h in hours), D(0))
        ), name
    assert year.sums.discount_pln == month.sums.discount_pln


async def test_statements_and_benefits_of_a_day_ahead_only_month(db: Any) -> None:
    async with db.session() as s:
        members = await _month(s)
    async with db.session() as s:
        bakery = await member_benefits(s, COORD, JUNE, members[PPE_B])
        anna = await member_benefits(s, COORD, JUNE, members[PPE_A])
        by_point = [
            p
            async for p in point_periods(
                s, None, StatutoryRequest(JUNE, date(2026, 6, 30), Granularity.MONTH)
            )
        ]
    b, sb = bakery.statutory, bakery.statement
    assert sb is not None
    # the statement: day-ahead, then the residual against H2's meter data
    assert (sb.bought_day_ahead_kwh, sb.day_ahead_amount_pln) == (D(14), D("7.00"))
    assert (sb.bought_grid_kwh, sb.grid_cost_pln, sb.grid_revenue_pln) == (D(1), D("0.88"), D(0))
    assert sb.total_pln == D("7.88") and sb.grid_only_pln == D("13.36")
    assert (sb.lines, sb.day_ahead_only_lines, sb.intervals_with_meter_data) == (0, 8, 4)
    assert sb.source == "mixed"
    # the statutory part: all the exempt energy and the whole discount are B's
    assert (b.exempt_kwh, b.avoided_fees_pln) == (D(11), D("0.1133"))
    assert (b.discount_tier, b.discount_base_pln, b.discount_pln) == (3, D("4.9965"), D("0.7495"))
    assert b.source == "mixed" and b.consumption_kwh == D(15)
    assert bakery.with_cluster_pln == D("7.0172")
    assert b.counterfactual_import_pln == D("13.35") and bakery.without_cluster_pln == D("13.35")
    assert bakery.total_benefit_pln == D("6.3328")
    a, sa = anna.statutory, anna.statement
    assert sa is not None
    assert (sa.sold_day_ahead_kwh, sa.day_ahead_amount_pln) == (D(12), D("-6.00"))
    assert (sa.sold_grid_kwh, sa.grid_cost_pln, sa.grid_revenue_pln) == (
        D("1.5"), D("0.45"), D("0.27"),
    )  # fmt: skip
    assert sa.total_pln == D("-5.82")
    assert (a.exempt_kwh, a.avoided_fees_pln, a.discount_pln) == (D(0), D(0), D(0))
    assert a.export_kwh == D(13) and a.counterfactual_export_pln == D("2.5904")
    assert a.export_price_source == "mixed"  # RCEm for H1, the 15-minute RCE for H2
    assert anna.with_cluster_pln == D("-5.82") and anna.total_benefit_pln == D("3.2296")
    # the month → statements: Σ members' exempt energy, avoided fees and discounts = the
    # cluster's; Σ per point = the cluster's
    assert a.exempt_kwh + b.exempt_kwh == D(11)
    assert a.avoided_fees_pln + b.avoided_fees_pln == D("0.1133")
    assert a.discount_pln + b.discount_pln == D("0.7495")
    assert sum((p.exempt_kwh for p in by_point), D(0)) == D(11)
    assert sum((p.avoided_fees_pln for p in by_point), D(0)) == D("0.1133")
    rows = {key: value for key, _unit, value in benefit_rows(bakery)}
    assert rows["total_benefit"] == rows["without_cluster"] - rows["with_cluster"] == D("6.3328")


async def test_net_billing_before_the_quarter_hour_switch_is_hourly(db: Any) -> None:
    """The same month without imported RCE: H2 at June's RCEm too, 13 × 0.1363 = 1.7719."""
    async with db.session() as s:
        members = await _month(s, rce=False)
    async with db.session() as s:
        anna = await member_benefits(s, COORD, JUNE, members[PPE_A])
    assert anna.statutory.counterfactual_export_pln == D("1.7719")
    assert anna.statutory.export_price_source == "rcem"


def test_quarter_hour_valuation_starts_on_2025_10_01() -> None:
    """Before 2025-10-01 the hour's energy is valued at the hour's RCE (the mean of its
    quarter-hours), from then on each quarter-hour's energy at its own RCE."""
    rows = [(H2 + k * Q, 15, D(100 * (k + 1))) for k in range(4)]
    book = PriceBook(hourly_means(rows), quarter_prices(rows))
    fed = tuple(zip(_quarters(H2), (D("0.5"), D(1), D("1.5"), D(2)), strict=True))
    assert book.export_value(H2, date(2025, 9, 30), D(5), fed) == (D("1.25"), "rce")
    assert book.export_value(H2, date(2025, 10, 1), D(5), fed) == (D("1.50"), "rce")
    # an hour whose quarters are not known: the hour's mean price
    assert book.export_value(H2, date(2025, 10, 1), D(5)) == (D("1.25"), "rce")
    # a quarter without a 15-minute price: the rest of the hour at RCEm → mixed
    part = PriceBook({}, {H2: D("0.1")})
    value, kind = part.export_value(H2, date(2026, 6, 10), D(3), ((H2, D(1)), (H2 + Q, D(2))))
    assert (value, kind) == (D("0.1") + 2 * D("0.1363"), "mixed")


async def test_day_ahead_positions_in_intervals_cleared_intraday_count_too(db: Any) -> None:
    """The export tests' intervals (tests.market.test_day_ahead_settlement): day-ahead
    positions stored without orders (as blocks and storage are) count beside the intraday
    trades. 00Z: A sells 3 intraday and buys 4 day-ahead → net import 1; B buys 2.5 and sells
    1 → 1.5: renewable fed in 0, consumption 2.5, nothing matched (only the intraday sale
    counted before: 3 fed in, 2.5 matched). 01Z: A 3 fed in, B 2.5 → matched 2.5. 02Z (not
    cleared intraday): A's battery 2 in, 1 out → 1 consumed (missing before)."""
    from tests.market.test_day_ahead_settlement import _day_ahead
    from tests.support.exports import STARTS, build_cluster

    async with db.session() as s:
        await build_cluster(s, STARTS)
        await _day_ahead(s)
        point = await s.scalar(select(MeteringPoint).where(MeteringPoint.ppe_code == PPE_A))
        assert point is not None
        point.technology = "pv"
        await s.commit()
    request = StatutoryRequest(date(2026, 10, 25), date(2026, 10, 25), Granularity.HOUR)
    async with db.session() as s:
        hours = [p async for p in statutory_report(s, None, request)]
    starts = [h.start.astimezone(UTC).hour for h in hours]
    assert starts == [0, 1, 2]
    first, second, late = (h.sums for h in hours)
    assert (first.renewable_fed_in_kwh, first.member_consumption_kwh) == (D(0), D("2.5"))
    assert first.matched_kwh == D(0)
    assert (second.renewable_fed_in_kwh, second.matched_kwh) == (D(3), D("2.5"))
    assert (late.member_consumption_kwh, late.renewable_fed_in_kwh) == (D(1), D(0))
    assert {h.source for h in hours} == {"cleared_positions"}


async def test_reports_open_on_the_month_of_the_latest_data(db: Any) -> None:
    """No interval of June was cleared intraday: the reports still open on June (its
    day-ahead result and meter data), not on the current month; data after `now` waits."""
    async with db.session() as s:
        await _month(s)
    async with db.session() as s:
        # the day-ahead day starts at local midnight; H2's last reading at 11:45Z
        before_readings = datetime(2026, 6, 10, 10, 30, tzinfo=UTC)
        assert await latest_data(s, before_readings) == datetime(2026, 6, 9, 22, tzinfo=UTC)
        assert await latest_data(s, H2 + timedelta(hours=2)) == H2 + 3 * Q
        assert await latest_data(s) == H2 + 3 * Q
        assert await default_month(s, datetime(2026, 12, 1, tzinfo=UTC)) == "2026-06"
        # everything lies after `now`: the earliest month that has any (June, not May)
        assert await default_month(s, datetime(2026, 5, 20, tzinfo=UTC)) == "2026-06"
        assert await latest_data(s, datetime(2026, 5, 20, tzinfo=UTC)) is None


async def test_a_members_statement_reads_only_their_day_ahead_positions(
    db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The day-ahead-only intervals of one member's statement load that member's firm
    positions, not the whole cluster's (a 5,000-point day holds ~200,000 of them: the
    statement page took 5–9 s reading them all)."""
    from market.reports import day_ahead_only
    from market.reports.service import member_statement

    loaded: list[int] = []
    real = day_ahead_only.load_day_ahead

    async def spy(*args: Any, **kwargs: Any) -> Any:
        out = await real(*args, **kwargs)
        loaded.extend(mp for d in out.values() for mp in (*d.imports, *d.exports))
        return out

    monkeypatch.setattr(day_ahead_only, "load_day_ahead", spy)
    async with db.session() as s:
        members = await _month(s)
        b_point = await s.scalar(select(MeteringPoint.id).where(MeteringPoint.ppe_code == PPE_B))
    async with db.session() as s:
        statement = await member_statement(s, COORD, JUNE, members[PPE_B])
    assert statement.day_ahead_only_lines == 8  # the same statement as before
    assert loaded and set(loaded) == {b_point}


async def test_the_cluster_report_reads_the_day_ahead_positions_once(db: Any) -> None:
    """The report's day-ahead-only intervals: their positions are read once, not once for the
    figures and again for the settlement lines (a 5,000-point day: 2 × ~200,000 rows)."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from market.reports.service import cluster_report

    reads: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if "day_ahead_positions.amount_pln" in statement:
            reads.append(statement)

    async with db.session() as s:
        await _month(s)
    event.listen(Engine, "before_cursor_execute", seen)
    try:
        async with db.session() as s:
            report = await cluster_report(
                s,
                COORD,
                datetime(2026, 5, 31, 22, tzinfo=UTC),
                datetime(2026, 6, 30, 22, tzinfo=UTC),
            )
    finally:
        event.remove(Engine, "before_cursor_execute", seen)
    assert (report.totals.intervals, report.totals.consumption_kwh) == (8, D(15))  # as before
    assert len(reads) == 1


async def test_the_cluster_report_settles_only_the_metered_day_ahead_positions(
    db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A day-ahead-only quarter without meter data has no residual, and the report prices its
    net firm energy itself: only H2's metered positions (A and B, four quarters) go through
    the settlement, not H1's too (5,000 points: ~480,000 lines a day for nothing). The
    cluster's cost is the members' statements' totals: B 7.88 + A −5.82 = 2.06."""
    from market.reports import day_ahead_only
    from market.reports.service import cluster_report

    settled: list[int] = []
    real = day_ahead_only.settle_interval

    def spy(data: Any) -> Any:
        settled.append(len(data.positions))
        return real(data)

    monkeypatch.setattr(day_ahead_only, "settle_interval", spy)
    async with db.session() as s:
        await _month(s)
    async with db.session() as s:
        report = await cluster_report(
            s, COORD, datetime(2026, 5, 31, 22, tzinfo=UTC), datetime(2026, 6, 30, 22, tzinfo=UTC)
        )
    assert report.totals.cost_pln == D("2.06")
    assert report.totals.source == "mixed"
    assert settled == [2, 2, 2, 2]
