"""The simulation's fast path (a day's problems built from one read, solved without the
audit hashes, stored in a few bulk statements) gives the same figures as the per-interval
path it replaced: `statements_before_fast_path.json` was written by the per-interval code
(commit ea5479a) on this small cluster (the autumn DST day, hourly, seed 7): the summary and
every member's statement with and without the cluster, read back from the kept database."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import anyio
import pytest
from sqlalchemy import func, select

from market.access.actor import Actor
from market.access.models import Member
from market.clearing.models import ClearingRun
from market.clearing.run import verify_interval
from market.core.errors import NotFound
from market.db.engine import create_engine, migrate, session_factory, unit_of_work
from market.demo.seed import seed_demo
from market.reports.benefits import member_benefits
from market.simulation.apply import apply_scenario
from market.simulation.engine import Simulation
from market.trading.models import Interval
from tests.simulation.test_simulate import DAY, SCENARIO

BEFORE = Path(__file__).with_name("statements_before_fast_path.json")


async def _simulate_and_read(url: str) -> dict[str, Any]:
    engine = create_engine(url)
    sessions = session_factory(engine)
    try:
        async with unit_of_work(sessions) as s:
            await seed_demo(
                s, members=20, seed=7, now=datetime(2026, 10, 25, tzinfo=UTC), interval_minutes=60
            )
            await apply_scenario(s, SCENARIO, 7)
        doc = await Simulation(
            sessions, DAY, DAY, seed=7, keep_meter_data=True, day_ahead=False
        ).run()
        out: dict[str, Any] = {
            "summary": {k: doc[k] for k in ("by_kind", "statutory", "grid", "congestion")},
            "members": {},
        }
        async with sessions() as s:
            coordinator = Actor(0, "coordinator", "c")
            for m in (await s.scalars(select(Member).order_by(Member.id))).all():
                b = await member_benefits(s, coordinator, date(2026, 10, 1), m.id)
                st = b.statement
                out["members"][m.name] = {
                    "rows": [] if st is None else [[k, u, str(v)] for k, u, v in st.rows()],
                    "with_cluster_pln": str(b.with_cluster_pln),
                    "without_cluster_pln": str(b.without_cluster_pln),
                    "total_benefit_pln": str(b.total_benefit_pln),
                }
            runs = (await s.execute(select(ClearingRun.input_hash, ClearingRun.problem_gz))).all()
            out["_runs"] = len(runs)
            out["_audit_kept"] = sum(1 for h, gz in runs if h or gz)
            out["_members"] = await s.scalar(select(func.count(Member.id)))
            interval = await s.scalar(select(Interval).order_by(Interval.id).limit(1))
            assert interval is not None
            try:
                await verify_interval(s, interval)
            except NotFound as error:  # a simulated run has no input kept for the audit
                out["_verify"] = error.message_id
            except Exception as error:
                out["_verify"] = f"unexpected {error!r}"
        return out
    finally:
        await engine.dispose()


@pytest.mark.slow
def test_fast_path_gives_the_statements_of_the_per_interval_path(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/fast.db"
    migrate(url)
    now = anyio.run(_simulate_and_read, url)
    assert now.pop("_runs") == 25  # every interval of the 25-hour day stored
    assert now.pop("_audit_kept") == 0  # simulated runs skip the audit hashes
    assert now.pop("_members") == len(now["members"])
    assert "was simulated" in now.pop("_verify")
    before = json.loads(BEFORE.read_text("utf-8"))
    assert now["summary"] == before["summary"]
    # the statement's day-ahead rows came later: this run has no day-ahead auction, so they
    # are zero, and every other row is the per-interval path's
    for member in now["members"].values():
        day_ahead = [r for r in member["rows"] if "day_ahead" in r[0]]
        assert all(D(v) == 0 for _k, _u, v in day_ahead)
        member["rows"] = [r for r in member["rows"] if "day_ahead" not in r[0]]
    assert now["members"] == before["members"]
    assert any(m["rows"] for m in now["members"].values())
