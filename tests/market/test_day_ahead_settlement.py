"""The day-ahead auction's firm positions in a member's monthly statement, by hand.

The export tests' cluster (tests.support.exports): in each of two intervals of 2026-10-25
(00:00Z, 01:00Z) prosumer A (member anna, node LV-1) sells 3 kWh intraday at 0.1829 →
receives 0.55; bakery B (LV-2) buys 2.5 kWh at 0.8 → pays 2.00. No meter data.

The day-ahead auction of 2026-10-25 (version 2 in force; version 1's positions are stale):

- 00:00Z: A buys 4 kWh at LV-1's day-ahead price 0.45 → 1.80; B sells 1 kWh at LV-2's 0.70
  → −0.70;
- 02:00Z (an interval the intraday market has not cleared): A's battery charges 2 kWh and
  discharges 1 kWh at 0.3333 → net 0.3333 → stored 0.33; cost 2 × 0.3333 = 0.6666 → 0.67,
  revenue 0.67 − 0.33 = 0.34.

A's October: day-ahead bought 6 kWh for 2.47, sold 1 kWh for 0.34, amount 2.13; intraday sold
6 kWh for 1.10 (amount −1.10); total 2.13 − 1.10 = 1.03. Σ day-ahead over the members
= 2.13 − 0.70 = 1.43 = Σ the stored positions of the run in force.
"""

from __future__ import annotations

import re
import zlib
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D
from typing import Any

import pytest
from sqlalchemy import func, select, update

from market.access.actor import Actor
from market.access.models import Role
from market.clearing.day_ahead_models import DayAheadPosition, DayAheadPrice, DayAheadRun
from market.core.errors import NotFound
from market.core.timegrid import label
from market.export.day_ahead import day_ahead_amounts
from market.export.request import month_range
from market.metering.models import MeterImport, MeterReading
from market.network.models import MeteringPoint, Node
from market.reports.member_days import member_days, month_totals
from market.reports.service import Period, cluster_report, member_statement
from market.reports.statement_csv import statement_csv
from market.settlement.settle import DayAheadAmount
from market.trading.day_ahead_models import DayAheadAuction
from market.trading.models import Interval
from tests.exports.test_export_web import app, client, sign_in, token_for
from tests.support.exports import PPE_A, PPE_B, STARTS, build_cluster

__all__ = ["app", "client"]

pytestmark = pytest.mark.anyio
COORD = Actor(0, Role.COORDINATOR.value, "coordinator")
OCTOBER = date(2026, 10, 1)
DAY = date(2026, 10, 25)
LATE = datetime(2026, 10, 25, 2, 0, tzinfo=UTC)  # not cleared intraday


async def _day_ahead(s: Any) -> dict[str, int]:
    nodes = {code: nid for code, nid in await s.execute(select(Node.code, Node.id))}
    points = {
        ppe: (pid, mid)
        for ppe, pid, mid in await s.execute(
            select(MeteringPoint.ppe_code, MeteringPoint.id, MeteringPoint.member_id)
        )
    }
    lab = label(LATE, 15)
    late = Interval(
        start_utc=LATE,
        minutes=15,
        gate_closure_utc=LATE - timedelta(minutes=5),
        local_day=lab.local_day,
        number=lab.number,
        status="open",
    )
    s.add(late)
    auction = DayAheadAuction(
        local_day=DAY,
        gate_closure_utc=datetime(2026, 10, 24, 10, tzinfo=UTC),
        status="cleared",
        version=2,
    )
    s.add(auction)
    await s.flush()
    first = await s.scalar(select(Interval.id).where(Interval.start_utc == STARTS[0]))
    a, b = points[PPE_A][0], points[PPE_B][0]
    runs = []
    for version in (1, 2):
        run = DayAheadRun(
            auction_id=auction.id,
            version=version,
            input_hash="i" * 64,
            result_hash="r" * 64,
            problem_gz=zlib.compress(b"{}"),
            status="optimal",
            reason="",
            interval_count=3,
            order_count=3,
            welfare_pln=D("1.00"),
            timings={},
            worker_id="test",
            started_at=LATE,
        )
        s.add(run)
        runs.append(run)
    await s.flush()
    stale, current = runs
    s.add(
        DayAheadPosition(
            run_id=stale.id,
            interval_id=first,
            metering_point_id=a,
            import_kwh=D(100),
            export_kwh=D(0),
            amount_pln=D("99.99"),
        )
    )
    for interval, code, price in (
        (first, "LV-1", "0.45"),
        (first, "LV-2", "0.70"),
        (late.id, "LV-1", "0.3333"),
    ):
        s.add(
            DayAheadPrice(
                run_id=current.id, interval_id=interval, node_id=nodes[code], price=D(price)
            )
        )
    for interval, point, imp, exp, amount in (
        (first, a, "4", "0", "1.80"),
        (first, b, "0", "1", "-0.70"),
        (late.id, a, "2", "1", "0.33"),
    ):
        s.add(
            DayAheadPosition(
                run_id=current.id,
                interval_id=interval,
                metering_point_id=point,
                import_kwh=D(imp),
                export_kwh=D(exp),
                amount_pln=D(amount),
            )
        )
    await s.commit()
    return {ppe: mid for ppe, (_, mid) in points.items()}


async def test_day_ahead_buy_and_intraday_sell_in_the_statement(db: Any) -> None:
    async with db.session() as s:
        await build_cluster(s, STARTS)
        members = await _day_ahead(s)
    async with db.session() as s:
        anna = await member_statement(s, COORD, OCTOBER, members[PPE_A])
        bakery = await member_statement(s, COORD, OCTOBER, members[PPE_B])
        stored = await s.scalar(
            select(func.sum(DayAheadPosition.amount_pln))
            .join(DayAheadRun, DayAheadRun.id == DayAheadPosition.run_id)
            .where(DayAheadRun.version == 2)
        )
    # intraday: as before
    assert (anna.sold_local_kwh, anna.bought_local_kwh) == (D(6), D(0))
    assert anna.local_sales_revenue_pln == D("1.10") and anna.local_amount_pln == D("-1.10")
    # day-ahead: the buy at 00:00Z and the battery at 02:00Z (not cleared intraday)
    assert (anna.bought_day_ahead_kwh, anna.sold_day_ahead_kwh) == (D(6), D(1))
    assert anna.day_ahead_purchase_cost_pln == D("2.47")
    assert anna.day_ahead_sales_revenue_pln == D("0.34")
    assert anna.day_ahead_amount_pln == D("2.13")
    assert anna.day_ahead_positions == 2  # version 1's stale position is not counted
    assert anna.market_amount_pln == D("1.03")
    assert anna.total_pln == D("1.03")  # no meter data: no grid residual
    assert anna.savings_pln == anna.grid_only_pln - D("1.03")
    rows = {key: value for key, _unit, value in anna.rows()}
    assert rows["day_ahead_purchase_cost"] - rows["day_ahead_sales_revenue"] == D("2.13")
    assert rows["total"] == (
        rows["day_ahead_amount"] + rows["local_amount"] + rows["grid_cost"] - rows["grid_revenue"]
    )
    # the bakery: its intraday purchases and its day-ahead sale
    assert bakery.local_amount_pln == D("4.00") and bakery.day_ahead_amount_pln == D("-0.70")
    assert bakery.day_ahead_sales_revenue_pln == D("0.70") and bakery.total_pln == D("3.30")
    # the cluster's day-ahead money reconciles with the stored results, to the grosz
    assert anna.day_ahead_amount_pln + bakery.day_ahead_amount_pln == stored == D("1.43")
    # the cluster report's cost counts the day-ahead money of every interval (00:00Z:
    # 1.80 − 0.70; 02:00Z, not cleared intraday: 0.33): intraday A −1.10, B +4.00
    async with db.session() as s:
        report = await cluster_report(s, None, *month_range(OCTOBER), Period.MONTH)
    assert report.totals.cost_pln == D("-1.10") + D("4.00") + D("1.80") - D("0.70") + D("0.33")
    assert report.totals.cost_pln == anna.total_pln + bakery.total_pln
    text = statement_csv(anna).decode("utf-8-sig")
    assert ";day_ahead_amount;PLN;2,13" in text and ";total;PLN;1,03" in text


async def test_every_member_day_ahead_reconciles(db: Any) -> None:
    """Σ over all positions (no member filter) = Σ of the members' day-ahead amounts."""
    async with db.session() as s:
        await build_cluster(s, STARTS)
        await _day_ahead(s)
    async with db.session() as s:
        everyone = await day_ahead_amounts(s, *month_range(OCTOBER))
        november = await day_ahead_amounts(s, *month_range(date(2026, 11, 1)))
    assert sum((p.amount_pln for p in everyone), D(0)) == D("1.43")
    assert sum((p.split()[0] - p.split()[1] for p in everyone), D(0)) == D("1.43")
    assert november == []


def test_split_of_a_two_sided_position() -> None:
    p = DayAheadAmount("X", D("2"), D("1"), D("0.33"), D("0.3333"))
    assert p.split() == (D("0.67"), D("0.34"))
    assert DayAheadAmount("X", D(0), D("1.5"), D("-0.60"), D("0.4")).split() == (D(0), D("0.60"))
    assert DayAheadAmount("X", D("4"), D(0), D("1.80")).split() == (D("1.80"), D(0))


async def test_statement_page_and_csv_show_both_markets(db: Any, client: Any) -> None:
    """The member's page, its CSV and the statutory part: day-ahead and intraday apart, the
    total over both (the app's cluster is the same; the auction is stored after it)."""
    async with db.session() as s:
        await _day_ahead(s)
    sign_in(client, "anna")
    page = client.get("/statement/", params={"month": "2026-10"}).text
    assert "Kupiono na aukcji dnia następnego (koszt zakupu)" in page and "2,47" in page
    assert "Sprzedano na aukcjach śróddziennych (przychód ze sprzedaży)" in page
    assert "1,03" in page  # the total
    rows = dict(
        line.split(";")[2:5:2]
        for line in client.get("/statement/csv", params={"month": "2026-10"})
        .content.decode("utf-8-sig")
        .splitlines()[1:]
    )
    assert rows["Koszt zakupów na aukcji dnia następnego"] == "2,47"
    assert rows["Przychód ze sprzedaży na aukcji dnia następnego"] == "0,34"
    assert rows["Kwota za aukcję dnia następnego"] == "2,13"
    assert rows["Kwota za aukcje śróddzienne"] == "-1,10"
    assert rows["Razem za miesiąc"] == "1,03"
    statutory = client.get("/statement/statutory", params={"month": "2026-10"}).text
    assert "Kupiono na aukcji dnia następnego (koszt zakupu)" in statutory


async def test_the_statement_page_settles_the_month_once(
    db: Any, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The statement and its days come from one settlement of the month's intraday
    intervals, not one each (each reads every point's positions of every cleared interval:
    the page took 2 s of its 6 s at 5,000 points twice over): the settled days
    (`reports.settled`), computed on the first read and read from the stored rows after
    that. The days still add up to the statement (−1.03, as below)."""
    from market.reports import member_days as days_module
    from market.reports import service as service_module
    from market.reports import settled as settled_module

    runs: list[int] = []
    real = service_module.settled_intervals

    def counted(*args: Any, **kwargs: Any) -> Any:
        runs.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(service_module, "settled_intervals", counted)
    monkeypatch.setattr(days_module, "settled_intervals", counted)
    monkeypatch.setattr(settled_module, "settled_intervals", counted)
    async with db.session() as s:
        await _day_ahead(s)
    sign_in(client, "anna")
    page = client.get("/statement/", params={"month": "2026-10"})
    assert page.status_code == 200 and "1,03" in page.text
    assert "/statement/day?day=2026-10-25" in page.text  # the day's row
    assert len(runs) == 1
    again = client.get("/statement/", params={"month": "2026-10"})
    assert again.text == page.text
    assert len(runs) == 1  # the stored days: not settled again


# --- the day-by-day views, a month with day-ahead positions only, the cluster report, the API


async def test_member_days_show_both_markets_and_add_up_to_the_statement(db: Any) -> None:
    """A's 2026-10-25 by interval (all three intervals fall on the local day):
    00:00Z intraday sold 3 (+0.55), day-ahead bought 4 at 0.45 (−1.80) → net −1.25;
    01:00Z intraday sold 3 → +0.55; 02:00Z (day-ahead only) battery 2 in / 1 out, stored 0.33
    → −0.33. The day: day-ahead 6 / 1 kWh, −2.13; intraday sold 6, +1.10; net −1.03 =
    −(A's statement's market amount 1.03)."""
    async with db.session() as s:
        await build_cluster(s, STARTS)
        members = await _day_ahead(s)
    async with db.session() as s:
        days = await member_days(s, COORD, *month_range(OCTOBER), members[PPE_A])
        anna = await member_statement(s, COORD, OCTOBER, members[PPE_A])
    assert [d.day for d in days] == [DAY]
    rows = days[0].intervals
    assert [r.start_utc for r in rows] == [*STARTS, LATE]
    assert [r.net_pln for r in rows] == [D("-1.25"), D("0.55"), D("-0.33")]
    first, _, late = rows
    assert (first.day_ahead_bought_kwh, first.day_ahead_price_pln_per_kwh) == (D(4), D("0.45"))
    assert first.revenue_pln == D("0.55") and first.cleared_intraday
    assert late.price_pln_per_kwh is None and not late.cleared_intraday
    assert (late.day_ahead_cost_pln, late.day_ahead_revenue_pln) == (D("0.67"), D("0.34"))
    day = days[0]
    assert (day.day_ahead_bought_kwh, day.day_ahead_sold_kwh) == (D(6), D(1))
    assert day.day_ahead_amount_pln == D("2.13") and day.intraday_net_pln == D("1.10")
    assert (day.purchase_cost_pln, day.sales_revenue_pln) == (D("2.47"), D("1.44"))
    total = month_totals(days)
    assert total.net_pln == -anna.market_amount_pln == D("-1.03")
    assert total.day_ahead_amount_pln == anna.day_ahead_amount_pln
    assert total.cost_pln - total.revenue_pln == anna.local_amount_pln


async def test_a_month_with_day_ahead_positions_only(db: Any) -> None:
    """Both intraday intervals failed: no interval is cleared intraday, the statement is the
    day-ahead part alone (A: 2.13, its name kept), and the days show the two positions."""
    async with db.session() as s:
        await build_cluster(s, STARTS)
        members = await _day_ahead(s)
        await s.execute(update(Interval).values(status="failed"))
        await s.commit()
    async with db.session() as s:
        anna = await member_statement(s, COORD, OCTOBER, members[PPE_A])
        days = await member_days(s, COORD, *month_range(OCTOBER), members[PPE_A])
        with pytest.raises(NotFound):  # neither market: still nothing to show
            await member_statement(s, COORD, date(2026, 11, 1), members[PPE_A])
    assert anna.member == "Anna Prosument" and anna.lines == 0
    assert anna.day_ahead_amount_pln == anna.total_pln == D("2.13")
    assert [r.start_utc for r in days[0].intervals] == [STARTS[0], LATE]
    assert month_totals(days).net_pln == D("-2.13")


async def test_cluster_report_counts_day_ahead_only_intervals_and_local_share(db: Any) -> None:
    """02:00Z's intraday clearing failed: the report still has its day-ahead money (0.33),
    its firm kWh (A bought 2, sold 1) and grid-only 1 kWh × 0.89. Locally traded (both
    markets, no meter data): 00:00Z min(2.5 + 4, 3 + 1) = 4, 01:00Z min(2.5, 3) = 2.5, 02:00Z
    min(2, 1) = 1 → 7.5 of 6.5 + 2.5 + 2 = 11 kWh consumed. The money reconciles with the
    members' statements: −1.10 + 4.00 + 1.80 − 0.70 + 0.33 = 4.33 = 1.03 + 3.30."""
    async with db.session() as s:
        await build_cluster(s, STARTS)
        members = await _day_ahead(s)
        await s.execute(update(Interval).where(Interval.start_utc == LATE).values(status="failed"))
        await s.commit()
    async with db.session() as s:
        report = await cluster_report(s, None, *month_range(OCTOBER), Period.INTERVAL)
        statements = [
            await member_statement(s, COORD, OCTOBER, members[ppe]) for ppe in (PPE_A, PPE_B)
        ]
    assert report.totals.cost_pln == D("4.33") == sum((st.total_pln for st in statements), D(0))
    assert report.totals.local_kwh == D("7.5") and report.totals.consumption_kwh == D(11)
    assert report.totals.intervals == 3
    late = report.rows[-1][1]
    assert report.rows[-1][0] == "2026-10-25T03:00+01:00"
    assert (late.cost_pln, late.local_kwh, late.consumption_kwh) == (D("0.33"), D(1), D(2))
    assert late.grid_only_pln == D("0.89")
    assert [f.start_utc for f in report.last_day] == [*STARTS, LATE]


async def test_day_ahead_only_interval_with_meter_data_reconciles(db: Any) -> None:
    """02:00Z (intraday failed) with A's meter data: imported 1.5 kWh against its firm net
    purchase 2 − 1 = 1 kWh → residual 0.5 × 0.89 = 0.445 → 0.45 paid. A's statement: 1.03 +
    0.45 = 1.48, its grid-only gains 1.5 × 0.89 = 1.335 → 1.34 for the interval; the report's
    02:00Z row: consumption 1.5 (metered, not the firm 2), cost 0.33 + 0.45 = 0.78, grid-only
    1.34; its money = Σ the statements' totals (4.33 + 0.45 = 4.78)."""
    async with db.session() as s:
        await build_cluster(s, STARTS)
        members = await _day_ahead(s)
        await s.execute(update(Interval).where(Interval.start_utc == LATE).values(status="failed"))
        point = await s.scalar(select(MeteringPoint.id).where(MeteringPoint.ppe_code == PPE_A))
        imp = MeterImport(
            filename="late.csv", sha256="0" * 64, resolution_minutes=15, rows=1, stored_readings=1
        )
        s.add(imp)
        await s.flush()
        s.add(
            MeterReading(
                start_utc=LATE, metering_point_id=point, import_kwh=D("1.5"), export_kwh=D(0),
                quality="measured", source_minutes=15, import_id=imp.id,
            )
        )  # fmt: skip
        await s.commit()
    async with db.session() as s:
        report = await cluster_report(s, None, *month_range(OCTOBER), Period.INTERVAL)
        anna, bakery = [
            await member_statement(s, COORD, OCTOBER, members[ppe]) for ppe in (PPE_A, PPE_B)
        ]
    assert (anna.grid_cost_pln, anna.bought_grid_kwh, anna.total_pln) == (
        D("0.45"), D("0.5"), D("1.48"),
    )  # fmt: skip
    assert (anna.lines, anna.day_ahead_only_lines, anna.source) == (2, 1, "mixed")
    assert bakery.total_pln == D("3.30") and bakery.day_ahead_only_lines == 0
    late = report.rows[-1][1]
    assert (late.consumption_kwh, late.cost_pln, late.grid_only_pln) == (
        D("1.5"), D("0.78"), D("1.34"),
    )  # fmt: skip
    assert report.totals.cost_pln == D("4.78") == anna.total_pln + bakery.total_pln
    assert report.totals.grid_only_pln == anna.grid_only_pln + bakery.grid_only_pln


def _cells(html: str, table: str, part: str) -> list[str]:
    body = re.search(rf'id="{table}".*?<{part}>(.*?)</{part}>', html, re.S)
    assert body, f"no {part} in #{table}"
    return [c.strip() for c in re.findall(r">([^<>]*)</t[dh]>", body.group(1))]


async def test_statement_days_and_day_view_pages_show_day_ahead(db: Any, client: Any) -> None:
    """The page's day table and its month total (A: day-ahead 6 / 1 kWh, −2.13; intraday
    sold 6, +1.10; net −1.03 = −the statement's market amount), the day view's 02:00Z row
    (day-ahead only: no intraday price, net −0.33) and its total."""
    async with db.session() as s:
        await _day_ahead(s)
    sign_in(client, "anna")
    page = client.get("/statement/", params={"month": "2026-10"}).text
    zl = "\u00a0zł"
    total = _cells(page, "days", "tfoot")
    assert total == ["Razem za miesiąc", "6,000", "1,000", f"−2,13{zl}", "0,000", "6,000",
                     f"0,00{zl}", f"+1,10{zl}", f"−1,03{zl}"]  # fmt: skip
    assert "Aukcja dnia następnego: kupiono kWh" in page
    day = client.get("/statement/day", params={"day": "2026-10-25"}).text
    rows = re.findall(r"<tr><td data-label[^>]*>.*?</tr>", day, re.S)
    late = [c.strip() for c in re.findall(r">([^<>]*)</td>", rows[-1])]
    assert late[3:] == ["0,000", "0,000", "–", "2,000", "1,000", "0,3333", f"−0,33{zl}"]
    assert _cells(day, "intervals", "tfoot")[-1] == f"−1,03{zl}"
    assert f"+1,44{zl}" in day and f"−2,47{zl}" in day  # both markets' revenue and cost


async def test_month_with_day_ahead_only_shows_the_statement(db: Any, client: Any) -> None:
    async with db.session() as s:
        await _day_ahead(s)
        await s.execute(update(Interval).values(status="failed"))
        await s.commit()
    sign_in(client, "anna")
    page = client.get("/statement/", params={"month": "2026-10"}).text
    assert "nie ma jeszcze nic do rozliczenia" not in page and "Razem za miesiąc" in page
    assert "2,13" in page and "Aukcja dnia następnego: saldo" in page
    statutory = client.get("/statement/statutory", params={"month": "2026-10"})
    assert statutory.status_code == 200
    # both figures say what they stand on: no meter data, the cleared (day-ahead) positions
    assert statutory.text.count('data-source="cleared_positions"') == 2
    assert "(pozycje z rozliczenia rynku)" in statutory.text
    assert "15-minutowa RCE" in statutory.text
    csv = client.get("/statement/csv", params={"month": "2026-10"}).content.decode("utf-8-sig")
    assert "Kwota za aukcję dnia następnego;zł;2,13" in csv
    day = client.get("/statement/day", params={"day": "2026-10-25"}).text
    assert "Tego dnia nic jeszcze nie rozliczono" not in day and "2,000" in day


async def test_statement_api(db: Any, client: Any) -> None:
    """GET /api/v1/statements/{YYYY-MM}: the statement's figures as decimal strings; a
    member's own only (403 naming member_id), the coordinator anyone's (404 for no member),
    422 naming month for a bad month."""
    async with db.session() as s:
        members = await _day_ahead(s)
    anna = token_for(client, "anna")
    r = client.get("/api/v1/statements/2026-10", headers=anna)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["member"], body["month"], body["day_ahead_positions"]) == (
        "Anna Prosument", "2026-10", 2,
    )  # fmt: skip
    # 02:00Z has day-ahead positions only: its line, no meter data anywhere
    assert (body["day_ahead_only_lines"], body["source"]) == (1, "cleared_positions")
    figures = body["figures"]
    assert figures["day_ahead_amount_pln"] == "2.13" and figures["local_amount_pln"] == "-1.10"
    assert figures["total_pln"] == "1.03" and figures["bought_day_ahead_kwh"] == "6.000"
    assert figures["day_ahead_purchase_cost_pln"] == "2.47"
    assert body["days"] == [
        {"day": "2026-10-25", "day_ahead_bought_kwh": "6.000", "day_ahead_sold_kwh": "1.000",
         "day_ahead_amount_pln": "2.13", "intraday_bought_kwh": "0.000",
         "intraday_sold_kwh": "6.000", "intraday_cost_pln": "0.00",
         "intraday_revenue_pln": "1.10"}
    ]  # fmt: skip
    other = client.get(
        "/api/v1/statements/2026-10", params={"member_id": members[PPE_B]}, headers=anna
    )
    assert other.status_code == 403 and other.json()["field"] == "member_id"
    for bad in ("2026-13", "October", "2026-1"):
        r = client.get(f"/api/v1/statements/{bad}", headers=anna)
        assert r.status_code == 422 and r.json()["field"] == "month", (bad, r.text)
    assert client.get("/api/v1/statements/2026-10").status_code == 401
    coord = token_for(client, "coord")
    bakery = client.get(
        "/api/v1/statements/2026-10", params={"member_id": members[PPE_B]}, headers=coord
    ).json()
    assert bakery["figures"]["total_pln"] == "3.30" and bakery["member"] == "Piekarnia"
    missing = client.get("/api/v1/statements/2026-10", params={"member_id": 99999}, headers=coord)
    assert missing.status_code == 404 and missing.json()["field"] == "member_id"
    empty = client.get("/api/v1/statements/2020-01", headers=anna).json()
    assert empty["figures"]["total_pln"] == "0.00" and empty["day_ahead_positions"] == 0
    assert empty["days"] == []
    schema = client.get("/schema/openapi.json").json()
    op = schema["paths"]["/api/v1/statements/{month}"]["get"]
    assert {"200", "401", "403", "404", "422"} <= set(op["responses"])


async def test_report_page_counts_the_day_ahead_only_interval(db: Any, client: Any) -> None:
    """The coordinator's report: 3 intervals (02:00Z has day-ahead positions only), the
    definition note in Polish, share traded locally 7.5 / 11 = 68.2 %."""
    async with db.session() as s:
        await _day_ahead(s)
    sign_in(client, "coord")
    page = client.get("/reports/", params={"start": "2026-10"}).text
    assert "Liczą się oba rynki" in page and "68,2" in page
