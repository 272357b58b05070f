"""A month with intervals cleared by the day-ahead auction and intervals with meter data but
no market at all, by hand (issue 14).

The day-ahead-only month of `test_day_ahead_only_month` (H1 = 10:00Z cleared positions, H2 =
11:00Z day-ahead positions with meter data; its docstring has the figures), plus **H3 =
12:00Z, meter data and no market**: no intraday clearing, no day-ahead position, no interval
row at all. Per quarter-hour: A (anna, PV) exports 1.001, 1, 1, 1 kWh (4.001); B (bakery)
imports 2.001, 2, 2, 2 kWh (8.001). Imported 15-minute RCE for H3: 123.45, 200, 300, 400
PLN/MWh. Tariff (the grid connection's import price) 0.89 PLN/kWh.

H3 settled against the grid, as without the cluster:
- B: 8.001 × 0.89 = 7.12089 → 7.1209 (per quarter 1.7809, 1.78, 1.78, 1.78);
- A: 1.001 × 0.12345 + 0.2 + 0.3 + 0.4 = 1.02357345 → 1.0236 (0.1236, 0.2, 0.3, 0.4).

Statutory H3 (meter data): renewable 4.001, consumption 8.001, matched = exempt 4.001 → B:
avoided 4.001 × 0.0103 = 0.0412; discount base 8.001 × 0.3331 = 2.6651. June: renewable
17.001, matched 15.001, ratio 0.8824 → tier 3 (pay 85 %): discount (1.9986 + 2.9979 +
2.6651) × 0.15 = 1.14924 → 1.1492; avoided 0.1133 + 0.0412 = 0.1545.

B: statement 7.88 + 7.1209 = 15.0009 (grid-only 13.36 + 7.1209 = 20.4809, savings 5.48 as
before); with the cluster 15.0009 − 0.1545 − 1.1492 = 13.6972; without 13.35 + 7.1209 =
20.4709; benefit 6.7737 = 6.3328 (H1, H2) + 0.0412 (H3's exemption) + 0.3997 (the discount
on H3's consumption): H3's market part adds exactly 0.
A: statement −5.82 − 1.0236 = −6.8436; without −2.5904 − 1.0236 = −3.6140; benefit 3.2296,
as without H3.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D
from typing import Any

import pytest

from market.metering.models import MeterImport, MeterReading
from market.prices.models import MarketPrice
from market.reports.benefits import benefit_rows, member_benefits
from market.reports.meter_only import spread
from market.reports.service import Period, cluster_report
from market.statutory.figures import Granularity
from market.statutory.points import point_periods
from market.statutory.report import StatutoryRequest, statutory_report
from tests.statutory.test_day_ahead_only_month import COORD, JUNE, PPE_A, PPE_B, _month

pytestmark = pytest.mark.anyio
H3 = datetime(2026, 6, 10, 12, tzinfo=UTC)
Q = timedelta(minutes=15)
QUARTERS = [H3 + k * Q for k in range(4)]
MONTH = StatutoryRequest(JUNE, date(2026, 6, 30), Granularity.MONTH)


async def _meter_only_hour(s: Any, points: dict[str, int]) -> None:
    imp = MeterImport(
        filename="h3.csv", sha256="3" * 64, resolution_minutes=15, rows=8, stored_readings=8
    )
    s.add(imp)
    await s.flush()
    a_out = ("1.001", "1", "1", "1")
    b_in = ("2.001", "2", "2", "2")
    prices = ("123.45", "200", "300", "400")
    for start, out, take, price in zip(QUARTERS, a_out, b_in, prices, strict=True):
        for pid, i_kwh, e_kwh in ((points[PPE_A], D(0), D(out)), (points[PPE_B], D(take), D(0))):
            s.add(
                MeterReading(
                    start_utc=start, metering_point_id=pid, import_kwh=i_kwh, export_kwh=e_kwh,
                    quality="measured", source_minutes=15, import_id=imp.id,
                )
            )  # fmt: skip
        s.add(
            MarketPrice(
                start_utc=start, resolution_minutes=15, price_pln_per_mwh=D(price), source="t"
            )
        )
    await s.commit()


async def _point_ids(s: Any) -> dict[str, int]:
    from sqlalchemy import select

    from market.network.models import MeteringPoint

    rows = await s.execute(select(MeteringPoint.ppe_code, MeteringPoint.id))
    return dict(rows.all())


def test_spread_keeps_the_rounded_total() -> None:
    assert spread(D("7.1209"), [D("1.78089"), D("1.78"), D("1.78"), D("1.78")]) == [
        D("1.7809"), D("1.7800"), D("1.7800"), D("1.7800"),
    ]  # fmt: skip
    assert spread(D("0.0001"), [D("0.00004"), D("0.00004"), D("0.00004")]) == [
        D("0.0000"), D("0.0000"), D("0.0001"),
    ]  # fmt: skip
    assert spread(D(0), []) == []


async def test_meter_only_intervals_add_no_market_benefit(db: Any) -> None:
    async with db.session() as s:
        members = await _month(s)
    async with db.session() as s:
        before_b = await member_benefits(s, COORD, JUNE, members[PPE_B])
        before_a = await member_benefits(s, COORD, JUNE, members[PPE_A])
    async with db.session() as s:
        await _meter_only_hour(s, await _point_ids(s))
    async with db.session() as s:
        bakery = await member_benefits(s, COORD, JUNE, members[PPE_B])
        anna = await member_benefits(s, COORD, JUNE, members[PPE_A])
        (month,) = [p async for p in statutory_report(s, None, MONTH)]
        hours = [
            p
            async for p in statutory_report(
                s, None, StatutoryRequest(JUNE, date(2026, 6, 30), Granularity.HOUR)
            )
        ]
        by_point = {p.ppe_code: p async for p in point_periods(s, None, MONTH)}
    sb, b = bakery.statement, bakery.statutory
    assert sb is not None
    # H3 in the statement: grid import at the tariff, nothing traded, no savings
    assert sb.grid_settled_lines == 4
    assert (sb.grid_settled_import_kwh, sb.grid_settled_import_cost_pln) == (
        D("8.001"), D("7.1209"),
    )  # fmt: skip
    assert (sb.grid_settled_export_kwh, sb.grid_settled_export_revenue_pln) == (D(0), D(0))
    assert sb.total_pln == D("15.0009") and sb.grid_only_pln == D("20.4809")
    assert sb.savings_pln == D("5.48") == before_b.statement.savings_pln  # type: ignore[union-attr]
    assert (sb.bought_grid_kwh, sb.grid_cost_pln) == (D(1), D("0.88"))  # residuals unchanged
    # the statutory part, by the hourly rules (H3's matched energy is exempt)
    assert (b.exempt_kwh, b.avoided_fees_pln) == (D("15.001"), D("0.1545"))
    assert (b.discount_tier, b.discount_base_pln, b.discount_pln) == (3, D("7.6616"), D("1.1492"))
    assert b.counterfactual_import_pln == D("20.4709") and b.consumption_kwh == D("23.001")
    assert bakery.with_cluster_pln == D("13.6972")
    assert bakery.without_cluster_pln == D("20.4709")
    assert bakery.total_benefit_pln == D("6.7737")
    # H3 adds exactly its fee exemption and discount, nothing from the market
    delta_fees = (b.avoided_fees_pln - before_b.statutory.avoided_fees_pln) + (
        b.discount_pln - before_b.statutory.discount_pln
    )
    assert delta_fees == D("0.0412") + D("0.3997")
    assert bakery.total_benefit_pln - before_b.total_benefit_pln == delta_fees
    assert (
        bakery.without_cluster_pln - before_b.without_cluster_pln
        == sb.total_pln - before_b.market_pln
        == D("7.1209")
    )
    # A: export under net-billing at the 15-minute RCE, the benefit unchanged
    sa, a = anna.statement, anna.statutory
    assert sa is not None
    assert (sa.grid_settled_export_kwh, sa.grid_settled_export_revenue_pln) == (
        D("4.001"), D("1.0236"),
    )  # fmt: skip
    assert sa.total_pln == D("-6.8436") and sa.source == "mixed"
    assert a.counterfactual_export_pln == D("3.6140") and anna.without_cluster_pln == D("-3.6140")
    assert anna.total_benefit_pln == D("3.2296") == before_a.total_benefit_pln
    # statement ↔ statutory report: the month's figures, H3 from meter data
    assert [h.start.astimezone(UTC) for h in hours][-1] == H3
    assert hours[-1].source == "meter_data" and hours[-1].sums.exempt_kwh == D("4.001")
    assert month.sums.exempt_kwh == a.exempt_kwh + b.exempt_kwh == D("15.001")
    assert month.sums.avoided_fees_pln == a.avoided_fees_pln + b.avoided_fees_pln
    assert month.sums.discount_pln == a.discount_pln + b.discount_pln == D("1.1492")
    assert month.discount_tier == 3
    assert by_point[PPE_B].consumption_kwh == b.consumption_kwh
    assert by_point[PPE_A].fed_in_kwh == a.export_kwh == D("17.001")
    rows = {key: value for key, _unit, value in benefit_rows(bakery)}
    assert rows["total_benefit"] == rows["without_cluster"] - rows["with_cluster"]
    keys = [key for key, _unit, _value in sb.rows()]
    assert keys.index("grid_settled_import") == keys.index("grid_revenue") + 1


async def test_cluster_report_of_a_month_without_intraday_clearing(db: Any) -> None:
    """The coordinator's report of June (no interval cleared intraday): 8 day-ahead-only
    intervals and H3's 4 meter-only ones; Σ statements = the report's money; H3 saves 0."""
    async with db.session() as s:
        members = await _month(s)
        await _meter_only_hour(s, await _point_ids(s))
    async with db.session() as s:
        report = await cluster_report(
            s, COORD, datetime(2026, 5, 31, 22, tzinfo=UTC), datetime(2026, 6, 30, 22, tzinfo=UTC),
            Period.INTERVAL,
        )  # fmt: skip
        bakery = await member_benefits(s, COORD, JUNE, members[PPE_B])
        anna = await member_benefits(s, COORD, JUNE, members[PPE_A])
    t = report.totals
    assert t.intervals == 12
    assert t.kinds == {"day_ahead_only": 8, "meter_only": 4}
    assert t.source == "mixed"
    statements = [bakery.statement, anna.statement]
    assert t.cost_pln == sum((st.total_pln for st in statements if st), D(0)) == D("8.1573")
    assert t.savings_pln == sum((st.savings_pln for st in statements if st), D(0))
    h3 = [f for label, f in report.rows if label >= "2026-06-10T14:00"]
    assert len(h3) == 4 and all(f.savings_pln == 0 and f.local_kwh == 0 for f in h3)
    assert sum((f.consumption_kwh for f in h3), D(0)) == D("8.001")
    assert sum((f.generation_kwh for f in h3), D(0)) == D("4.001")
    assert sum((f.cost_pln for f in h3), D(0)) == D("7.1209") - D("1.0236")
