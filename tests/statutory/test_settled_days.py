"""The settled days (`market.settlement.stored`): members' statements, their statutory
benefits, the cluster report and the statutory report read from per-day rows stored on first
read equal what the current computation gives (every interval settled, every hour matched,
`stored=False`) to the last digit — on a simulated autumn DST day (25 hours) with meter data,
again after a new meter import changes some readings of the day, and after a re-clear of an
interval."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import func, select, update

from market.access.actor import Actor
from market.access.models import Member
from market.clearing.models import ClearingRun
from market.core.errors import NotFound
from market.db.engine import unit_of_work
from market.demo.seed import seed_demo
from market.export.request import month_range
from market.metering.imports import import_meter_data
from market.metering.models import MeterReading
from market.network.models import MeteringPoint
from market.reports.service import Period, cluster_report, member_statement
from market.settlement.models import SettledDay, SettledMemberDay
from market.simulation.apply import apply_scenario
from market.simulation.engine import Simulation
from market.statutory.figures import Granularity
from market.statutory.points import member_benefit
from market.statutory.report import parse_statutory_request, statutory_report
from tests.simulation.test_simulate import DAY, SCENARIO

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

COORDINATOR = Actor(0, "coordinator", "c")
MONTH = date(2026, 10, 1)


async def _simulate(sessions: Any) -> None:
    async with unit_of_work(sessions) as s:
        await seed_demo(
            s, members=20, seed=7, now=datetime(2026, 10, 25, tzinfo=UTC), interval_minutes=60
        )
        await apply_scenario(s, SCENARIO, 7)
    await Simulation(sessions, DAY, DAY, seed=7, keep_meter_data=True).run()


async def _statement(s: Any, member: int, *, stored: bool) -> str | None:
    try:
        st = await member_statement(s, COORDINATOR, MONTH, member, stored=stored)
    except NotFound:
        return None
    return repr(st) + repr([(k, u, str(v)) for k, u, v in st.rows()]) + repr(sorted(st.ppes))


async def _everything(sessions: Any, *, stored: bool) -> dict[str, Any]:
    """Every member's statement and benefit, and the statutory report by month and year."""
    out: dict[str, Any] = {}
    request = parse_statutory_request("2026-10", None, "month")
    async with sessions() as s:
        members = (await s.scalars(select(Member.id).order_by(Member.id))).all()
        for m in members:
            out[f"statement {m}"] = await _statement(s, m, stored=stored)
            benefit = await member_benefit(s, COORDINATOR, m, request, stored=stored)
            out[f"benefit {m}"] = repr(benefit)
        for period in (Period.DAY, Period.INTERVAL):
            start, end = month_range(MONTH)
            r = await cluster_report(s, None, start, end, period, stored=stored)
            out[f"cluster report {period}"] = repr((r.rows, r.totals, r.shares, r.last_day))
        for level in ("month", "year"):
            asked = parse_statutory_request("2026-10", None, level)
            periods = [p async for p in statutory_report(s, None, asked, stored=stored)]
            out[f"report {level}"] = repr(periods)
        await s.commit()
    return out


def _differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    return [k for k in a if a[k] != b[k]]


async def _stored_rows(sessions: Any) -> tuple[int, int]:
    async with sessions() as s:
        days = await s.scalar(select(func.count()).select_from(SettledDay))
        rows = await s.scalar(select(func.count()).select_from(SettledMemberDay))
    return int(days or 0), int(rows or 0)


async def test_stored_days_equal_the_computation_on_a_dst_day_and_after_changes(db: Any) -> None:
    await _simulate(db.sessions)
    assert await _stored_rows(db.sessions) == (0, 0)
    current = await _everything(db.sessions, stored=False)
    assert current["report month"] != "[]"  # the month has figures
    assert sum(v is not None for k, v in current.items() if k.startswith("statement")) > 10
    stored = await _everything(db.sessions, stored=True)
    assert _differences(current, stored) == []
    days, rows = await _stored_rows(db.sessions)
    assert days == 2 * 31  # both kinds, every day of October (most of them empty)
    assert rows > 20  # a row per member with figures on the simulated day
    # read again: served from the rows, the same
    assert _differences(current, await _everything(db.sessions, stored=True)) == []

    # new meter data for the day: a later import replaces two points' readings
    async with db.sessions() as s:
        points = (
            await s.execute(
                select(MeteringPoint.id, MeteringPoint.ppe_code).order_by(MeteringPoint.id)
            )
        ).all()[:2]
        starts = (
            await s.scalars(
                select(MeterReading.start_utc)
                .where(MeterReading.metering_point_id == points[0][0])
                .order_by(MeterReading.start_utc)
            )
        ).all()
    assert len(starts) == 25  # the DST day's hours
    lines = ["ppe;interval_start;import_kwh;export_kwh;quality;resolution"]
    for _pid, ppe in points:
        for at in starts[:6]:
            stamp = at.astimezone(UTC).isoformat().replace("+00:00", "Z")
            lines.append(f"{ppe};{stamp};7,5;0,25;measured;PT60M")
    async with db.sessions() as s:
        report = await import_meter_data(
            s, None, io.StringIO("\n".join(lines) + "\n"), filename="late.csv"
        )
        assert report.ok and report.stored == 12
        await s.commit()
    changed = await _everything(db.sessions, stored=False)
    assert _differences(current, changed)  # the readings do change the figures
    assert _differences(changed, await _everything(db.sessions, stored=True)) == []

    # a re-clear of one interval of the day: a new run (here its stamp: result and time)
    async with db.sessions() as s:
        run = await s.scalar(select(ClearingRun).order_by(ClearingRun.id).limit(1))
        assert run is not None
        await s.execute(
            update(ClearingRun)
            .where(ClearingRun.id == run.id)
            .values(result_hash="re-cleared", finished_at=datetime(2026, 10, 26, tzinfo=UTC))
        )
        await s.commit()
    async with db.sessions() as s:
        before = await s.scalar(
            select(SettledDay.stamp).where(
                SettledDay.kind == "statement", SettledDay.local_day == DAY
            )
        )
    again = await _everything(db.sessions, stored=True)
    assert _differences(changed, again) == []
    async with db.sessions() as s:
        after = await s.scalar(
            select(SettledDay.stamp).where(
                SettledDay.kind == "statement", SettledDay.local_day == DAY
            )
        )
    assert before != after  # computed again under the new stamp


async def test_the_hour_granularity_is_not_stored(db: Any) -> None:
    """Hours are matched on every read (one row per hour: nothing to save)."""
    await _simulate(db.sessions)
    asked = parse_statutory_request("2026-10-25", None, Granularity.HOUR.value)
    async with db.sessions() as s:
        hours = [p async for p in statutory_report(s, None, asked)]
        assert len(hours) == 25
    assert await _stored_rows(db.sessions) == (0, 0)


async def test_two_first_readers_at_once_store_the_day_once(db: Any) -> None:
    """Two requests reading a month nobody has read yet, at the same time: both get the
    statement and the statutory benefit, the day is stored once (on PostgreSQL the second
    waits for the first's advisory lock and finds the day stored; without it, its insert
    would break the primary key)."""
    import anyio

    await _simulate(db.sessions)
    async with db.sessions() as s:
        member = await s.scalar(select(MeteringPoint.member_id).order_by(MeteringPoint.id))
    assert member is not None
    request = parse_statutory_request("2026-10", None, "month")
    seen: list[str] = []

    async def read() -> None:
        async with db.sessions() as s:
            benefit = await member_benefit(s, COORDINATOR, member, request)
            statement = await member_statement(s, COORDINATOR, MONTH, member)
            await s.commit()
        seen.append(repr(benefit) + repr(statement))

    async with anyio.create_task_group() as group:
        group.start_soon(read)
        group.start_soon(read)
    async with db.sessions() as s:
        expected = repr(await member_benefit(s, COORDINATOR, member, request, stored=False)) + repr(
            await member_statement(s, COORDINATOR, MONTH, member, stored=False)
        )
    assert seen == [expected, expected]
    days, _rows = await _stored_rows(db.sessions)
    assert days == 2 * 31
