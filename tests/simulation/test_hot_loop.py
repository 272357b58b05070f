"""The simulation's meter-data loop writes some shared rules out for speed; they must stay the
rules they copy (the same Decimal for every float, the same profile floats)."""

from __future__ import annotations

import calendar
import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from market.core.money import energy
from market.metering.profiles import PointProfile, clock, load_kwh, net_kwh, pv_kwh
from market.simulation import engine


@given(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False))
def test_the_written_out_energy_rounding_is_money_energy(x: float) -> None:
    written_out = engine._decimal(repr(x)).quantize(engine._WH, engine._HALF_EVEN)
    assert written_out == energy(x)
    assert str(written_out) == str(energy(x))  # the same scale and sign, too


@given(
    st.integers(min_value=0, max_value=366 * 96 - 1),
    st.sampled_from([15, 60]),
    st.sampled_from(["household", "business", "street_lighting", "flat"]),
    st.floats(min_value=0, max_value=50_000),
    st.floats(min_value=0, max_value=500),
)
def test_the_interval_clock_gives_the_profiles_floats(
    quarter: int, minutes: int, kind: str, use: float, kwp: float
) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=15 * quarter)
    point = PointProfile("PL0001", kind, use, kwp, 0.0)
    tz = "Europe/Warsaw"
    # the reference: the formulas as they were, computed from the start time alone
    from zoneinfo import ZoneInfo

    from market.metering import profiles as pr

    local = start.astimezone(ZoneInfo(tz)) + timedelta(minutes=minutes / 2)
    at = clock(start, minutes, tz)
    assert at.local == local
    assert at.season == pr.SEASON[local.month - 1]
    assert at.pv_hour == local.hour + local.minute / 60.0
    assert at.pv_day == local.date()
    # the formulas as they were before the clock (per point from the start time)
    load = 0.0
    if use > 0:
        shape = pr._daily_shape(kind, local.isoweekday() >= 6, local.month)
        load = use / 8760.0 * shape[local.hour] * pr.SEASON[local.month - 1] * minutes / 60.0
    pv = 0.0
    sunrise, sunset = pr.DAYLIGHT[local.month - 1]
    hour = local.hour + local.minute / 60.0
    if kwp > 0 and sunrise < hour < sunset:
        days = calendar.monthrange(local.year, local.month)[1]
        daily = kwp * pr.PV_YIELD_KWH_PER_KWP * pr.PV_MONTH_SHARE[local.month - 1] / days
        length = sunset - sunrise
        power = daily * math.pi / (2 * length) * math.sin(math.pi * (hour - sunrise) / length)
        pv = power * minutes / 60.0 * pr.cloud_factor(7, local.date(), point.key)
    assert load_kwh(point, start, minutes, tz) == pr.load_kwh_at(point, at) == load
    assert pv_kwh(point, start, minutes, tz, 7) == pr.pv_kwh_at(point, at, 7) == pv
    assert net_kwh(point, start, minutes, tz, 7) == pv + 0.0 - load


@given(st.integers(min_value=0, max_value=5000), st.integers(min_value=0, max_value=2**32))
def test_skipping_draws_leaves_the_generator_where_drawing_them_does(n: int, seed: int) -> None:
    import random

    drawn, skipped = random.Random(seed), random.Random(seed)
    for _ in range(n):
        drawn.gauss(0.0, 1.0)
    engine._skip_gauss(skipped, n)
    assert [skipped.gauss(0.0, 1.0) for _ in range(3)] == [drawn.gauss(0.0, 1.0) for _ in range(3)]


def test_skipping_in_several_calls_is_skipping_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """`_skip_gauss` takes its bits a bounded number of pairs at a time: the generator ends
    where drawing them all leaves it, whatever the chunk (an odd last draw included)."""
    import random

    monkeypatch.setattr(engine, "_SKIP_PAIRS_PER_CALL", 3)
    drawn, skipped = random.Random(11), random.Random(11)
    for _ in range(101):
        drawn.gauss(0.0, 1.0)
    engine._skip_gauss(skipped, 101)
    assert [skipped.gauss(0.0, 1.0) for _ in range(3)] == [drawn.gauss(0.0, 1.0) for _ in range(3)]


@given(
    st.integers(min_value=0, max_value=7),
    st.lists(st.integers(min_value=0, max_value=300), max_size=6),
    st.integers(min_value=0, max_value=2**32),
)
def test_drawing_at_once_is_drawing_one_by_one(before: int, counts: list[int], seed: int) -> None:
    """`_gauss_draws` gives the floats `gauss(0.0, 1.0)` gives, bit for bit, and leaves the
    generator where the calls leave it (a pending second of a pair included), whatever was
    drawn before (an odd number: the first comes from `gauss_next`)."""
    import random
    import struct

    one, many = random.Random(seed), random.Random(seed)
    for _ in range(before):
        one.gauss(0.0, 1.0)
        many.gauss(0.0, 1.0)
    for count in counts:
        expected = [one.gauss(0.0, 1.0) for _ in range(count)]
        got = engine._gauss_draws(many, count)
        assert [struct.pack("<d", x) for x in got] == [struct.pack("<d", x) for x in expected]
        assert many.gauss_next == one.gauss_next  # type: ignore[attr-defined]
    assert [many.gauss(0.0, 1.0) for _ in range(3)] == [one.gauss(0.0, 1.0) for _ in range(3)]
