"""A restarted demo resumes where its market was: the fast clock continues from the market time
stored in the database (the last gate that closed), not from the wall clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from market.core.clock import FastClock, clock_for_speed
from market.trading.models import Interval
from tests.support.world import World
from web.commands.demo import market_time_reached

pytestmark = pytest.mark.anyio


def test_fast_clock_resumes_from_market_time_ahead_of_the_wall_clock() -> None:
    ahead = datetime.now(UTC) + timedelta(hours=40)  # an hour of demo at 45× speed
    clock = clock_for_speed(45.0, resume_from=ahead)
    assert isinstance(clock, FastClock)
    assert ahead <= clock.now() < ahead + timedelta(minutes=5)
    # market time behind the wall clock (the demo stopped long ago): start from now
    behind = clock_for_speed(45.0, resume_from=datetime.now(UTC) - timedelta(days=3))
    assert abs(behind.now() - datetime.now(UTC)) < timedelta(minutes=5)
    assert clock_for_speed(1.0, resume_from=ahead).now() < ahead  # real time stays real


async def test_market_time_reached_is_the_last_closed_gate(client: Any, world: World) -> None:
    async with world.db.session() as s:
        assert await market_time_reached(s) is None  # nothing closed yet: the wall clock
        rows = (await s.scalars(select(Interval).order_by(Interval.start_utc))).all()
        future_gate = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=30)
        rows[0].status, rows[0].gate_closure_utc = "cleared", future_gate
        rows[1].status = "closed"  # its own gate is earlier than the first's new one
        await s.commit()
        reached = await market_time_reached(s)
    assert reached == future_gate
    assert clock_for_speed(45.0, resume_from=reached).now() >= future_gate
