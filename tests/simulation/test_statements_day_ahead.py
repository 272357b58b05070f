"""A simulated day with the day-ahead auction, read back through the members' statements:
the statements now carry the day-ahead money, so Σ over the members' day-ahead amounts is
the simulation's day-ahead total, and each member kind's statements add up to the
simulation's market figure (its settlement total plus the day-ahead amounts, which the
simulation adds itself: not counted twice, not lost)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal as D
from typing import Any

import pytest
from sqlalchemy import select

from market.access.actor import Actor
from market.access.models import Member
from market.db.engine import unit_of_work
from market.demo.seed import seed_demo
from market.reports.benefits import member_benefits
from market.simulation.apply import apply_scenario
from market.simulation.engine import Simulation
from tests.simulation.test_simulate import DAY, SCENARIO


async def _simulate(sessions: Any) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    async with unit_of_work(sessions) as s:
        await seed_demo(
            s, members=20, seed=7, now=datetime(2026, 10, 25, tzinfo=UTC), interval_minutes=60
        )
        await apply_scenario(s, SCENARIO, 7)
    doc = await Simulation(sessions, DAY, DAY, seed=7, keep_meter_data=True).run()
    by_kind: dict[str, list[Any]] = {}
    async with sessions() as s:
        coordinator = Actor(0, "coordinator", "c")
        for m in (await s.scalars(select(Member).order_by(Member.id))).all():
            b = await member_benefits(s, coordinator, date(2026, 10, 1), m.id)
            if b.statement is not None:
                by_kind.setdefault(m.kind, []).append(b)
    return doc, by_kind


@pytest.mark.slow
@pytest.mark.anyio
async def test_statements_carry_the_simulated_day_ahead_money(db: Any) -> None:
    doc, by_kind = await _simulate(db.sessions)
    da = doc["day_ahead"]
    assert da["auctions"] == 1 and da["failed"] == 0 and D(da["amount_pln"]) != 0
    statements = [b.statement for bs in by_kind.values() for b in bs]
    assert sum(s.day_ahead_amount_pln for s in statements) == D(da["amount_pln"])
    assert sum(s.bought_day_ahead_kwh for s in statements) == D(da["bought_kwh"])
    assert sum(s.sold_day_ahead_kwh for s in statements) == D(da["sold_kwh"])
    for kind, figures in doc["by_kind"].items():
        market = (
            D(figures["with_cluster_pln"])
            + D(figures["avoided_fees_pln"])
            + D(figures["discount_pln"])
        )
        assert sum(b.statement.total_pln for b in by_kind[kind]) == market, kind


@pytest.mark.slow
@pytest.mark.anyio
async def test_failed_intraday_hours_settle_day_ahead_against_meter_data(
    db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The intraday clearing of 09:00–12:00Z fails (the day-ahead auction has cleared them):
    the simulation settles the firm day-ahead positions of those hours against the synthetic
    meter data, and the members' statements do the same (`reports.day_ahead_only`) — each
    member kind's statements still add up to the simulation's figure, to the grosz."""
    from dataclasses import replace

    from market.clearing import run
    from matching.result import Status

    real = run.solve

    def failing(problem: Any, memo: Any = None) -> Any:
        result = real(problem, memo)
        if 9 <= problem.interval.start.astimezone(UTC).hour < 12:
            return replace(result, status=Status.ERROR, reason="test: intraday failed")
        return result

    monkeypatch.setattr(run, "solve", failing)
    doc, by_kind = await _simulate(db.sessions)
    assert doc["failed"] == 3 and doc["day_ahead"]["failed"] == 0
    statements = [b.statement for bs in by_kind.values() for b in bs]
    assert sum(s.day_ahead_only_lines for s in statements) > 0
    # the residual of those hours is in the statements: some grid money beyond the cleared
    assert any(s.day_ahead_only_lines and s.intervals_with_meter_data for s in statements)
    for kind, figures in doc["by_kind"].items():
        market = (
            D(figures["with_cluster_pln"])
            + D(figures["avoided_fees_pln"])
            + D(figures["discount_pln"])
        )
        assert sum(b.statement.total_pln for b in by_kind[kind]) == market, kind
