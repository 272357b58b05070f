"""Deterministic synthetic load and generation profiles (demo data and standing-order
forecasts).

Documented shapes, not measured data:
- load: a daily shape per profile kind (households: morning and evening peaks; businesses and
  municipal buildings: working hours on weekdays; pumps: flat; street lights: dark hours),
  times a seasonal factor (winter +20 %, summer −15 %), scaled so a year sums to about the
  annual use.
- PV: kWp × 1,050 kWh/kWp/year × the month's share of the annual yield
  (`../shared/DOMAIN.md`), spread over daylight with a sine bell, times a daily cloud factor
  drawn from a seeded generator (the same for the whole cluster on a day, ±10 % per point).
- other generation (landfill gas, CHP): 90 % of its rating, steady.
All randomness comes from `random.Random` seeded by strings, so profiles are identical on
every run and machine for the same seed.
"""

from __future__ import annotations

import calendar
import math
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

PV_YIELD_KWH_PER_KWP = 1050.0
#: Share of the annual PV yield per month (Jan..Dec), świętokrzyskie estimate, sums to 1.
PV_MONTH_SHARE = (0.025, 0.045, 0.08, 0.115, 0.135, 0.135, 0.14, 0.125, 0.09, 0.06, 0.03, 0.02)
#: Approximate local sunrise and sunset hours per month (central Poland).
DAYLIGHT = (
    (7.6, 15.9),
    (7.0, 16.8),
    (6.0, 17.7),
    (6.0, 19.6),
    (5.0, 20.4),
    (4.5, 21.0),
    (4.8, 20.8),
    (5.6, 20.0),
    (6.4, 18.9),
    (7.2, 17.7),
    (7.1, 16.1),
    (7.7, 15.6),
)
SEASON = (1.2, 1.15, 1.05, 0.95, 0.9, 0.85, 0.85, 0.88, 0.95, 1.05, 1.15, 1.22)

_HOUSEHOLD = (
    0.45,
    0.4,
    0.38,
    0.38,
    0.4,
    0.55,
    0.95,
    1.35,
    1.15,
    0.9,
    0.85,
    0.85,
    0.9,
    0.9,
    0.85,
    0.9,
    1.1,
    1.5,
    1.9,
    2.0,
    1.8,
    1.45,
    1.0,
    0.65,
)
_BUSINESS_WEEKDAY = (
    0.35,
    0.35,
    0.35,
    0.35,
    0.35,
    0.45,
    0.9,
    1.6,
    1.9,
    1.95,
    1.95,
    1.9,
    1.85,
    1.9,
    1.9,
    1.8,
    1.5,
    1.0,
    0.6,
    0.45,
    0.4,
    0.35,
    0.35,
    0.35,
)
_FLAT = (1.0,) * 24


@dataclass(frozen=True, slots=True)
class PointProfile:
    """What a profile needs to know about a metering point."""

    key: str  # stable identity, e.g. the PPE code
    load_profile: str
    annual_use_kwh: float
    pv_kwp: float = 0.0
    other_generation_kw: float = 0.0


def _normalised(shape: tuple[float, ...]) -> tuple[float, ...]:
    mean = sum(shape) / len(shape)
    return tuple(v / mean for v in shape)


@lru_cache(maxsize=64)
def _daily_shape(kind: str, weekend: bool, month: int) -> tuple[float, ...]:
    if kind == "household":
        return _normalised(_HOUSEHOLD)
    if kind in ("business", "municipal"):
        shape = _BUSINESS_WEEKDAY if not weekend else tuple(0.35 for _ in range(24))
        # A week of 5 working days averages (5 × 1 + 2 × w) / 7; scale weekdays so it is 1.
        weekday_mean = sum(_BUSINESS_WEEKDAY) / 24
        week_mean = (5 * weekday_mean + 2 * 0.35) / 7
        return tuple(v / week_mean for v in shape)
    if kind == "street_lighting":
        sunrise, sunset = DAYLIGHT[month - 1]
        dark = tuple(1.0 if (h + 0.5) < sunrise or (h + 0.5) > sunset else 0.0 for h in range(24))
        return tuple(v * 24 / 12 for v in dark)  # about 12 dark hours on a yearly average
    if kind == "none":
        return (0.0,) * 24
    return _FLAT


@dataclass(frozen=True, slots=True)
class IntervalClock:
    """What the profiles read of an interval's time, the same for every point: computed once
    per interval (`clock`) instead of once per point and interval."""

    minutes: int
    local: datetime  # the interval's middle, local time
    weekend: bool
    season: float
    pv_hour: float  # local hour + minute / 60
    pv_day: date
    #: The PV bell's terms that are the same for every point (`pv_kwh_at`): whether the
    #: middle is in daylight, the month's share of the yield, its days, twice the day's
    #: length and the bell's sine. (Kept as terms, not folded: each point's float is the
    #: formula's, operation by operation.)
    pv_daylight: bool = False
    pv_share: float = 0.0
    pv_days: int = 30
    pv_two_length: float = 1.0
    pv_sine: float = 0.0


@lru_cache(maxsize=1 << 12)
def clock(start: datetime, minutes: int, tz: str) -> IntervalClock:
    local = start.astimezone(ZoneInfo(tz)) + timedelta(minutes=minutes / 2)
    hour = local.hour + local.minute / 60.0
    sunrise, sunset = DAYLIGHT[local.month - 1]
    length = sunset - sunrise
    return IntervalClock(
        minutes,
        local,
        local.isoweekday() >= 6,
        SEASON[local.month - 1],
        hour,
        local.date(),
        sunrise < hour < sunset,
        PV_MONTH_SHARE[local.month - 1],
        calendar.monthrange(local.year, local.month)[1],
        2 * length,
        math.sin(math.pi * (hour - sunrise) / length),
    )


def load_kwh(point: PointProfile, start: datetime, minutes: int, tz: str) -> float:
    """Energy the point uses in the interval starting at `start` (UTC)."""
    return load_kwh_at(point, clock(start, minutes, tz))


def load_kwh_at(point: PointProfile, at: IntervalClock) -> float:
    """`load_kwh` with the interval's clock given."""
    if point.annual_use_kwh <= 0:
        return 0.0
    local = at.local
    shape = _daily_shape(point.load_profile, at.weekend, local.month)
    per_hour = point.annual_use_kwh / 8760.0
    return per_hour * shape[local.hour] * at.season * at.minutes / 60.0


@lru_cache(maxsize=1 << 16)
def cloud_factor(seed: int, day: date, key: str) -> float:
    """Daily clear-sky fraction: regional weather plus a small local variation."""
    regional = random.Random(f"{seed}:weather:{day.isoformat()}").betavariate(2.2, 1.2)
    local = random.Random(f"{seed}:{key}:{day.isoformat()}").uniform(0.9, 1.1)
    return max(0.0, min(1.15, (0.15 + 0.95 * regional) * local))


def pv_kwh(point: PointProfile, start: datetime, minutes: int, tz: str, seed: int) -> float:
    return pv_kwh_at(point, clock(start, minutes, tz), seed)


def pv_kwh_at(point: PointProfile, at: IntervalClock, seed: int) -> float:
    """`pv_kwh` with the interval's clock given."""
    if point.pv_kwp <= 0 or not at.pv_daylight:
        return 0.0
    # daily = kWp × yield × the month's share / its days; L = sunset − sunrise, h = the
    # local hour: ∫ sin(π x / L) dx over the day = 2L/π, so the bell integrates to `daily`.
    # (The interval's terms come from the clock; the operations are the formula's, in its
    # order: tests/simulation/test_hot_loop.py.)
    daily = point.pv_kwp * PV_YIELD_KWH_PER_KWP * at.pv_share / at.pv_days
    power = daily * math.pi / at.pv_two_length * at.pv_sine
    return power * at.minutes / 60.0 * cloud_factor(seed, at.pv_day, point.key)


def other_kwh(point: PointProfile, minutes: int) -> float:
    return point.other_generation_kw * 0.9 * minutes / 60.0


def net_kwh(point: PointProfile, start: datetime, minutes: int, tz: str, seed: int) -> float:
    """Generation minus use in the interval: > 0 surplus, < 0 deficit."""
    return net_kwh_at(point, clock(start, minutes, tz), seed)


def net_kwh_at(point: PointProfile, at: IntervalClock, seed: int) -> float:
    """`net_kwh` with the interval's clock given."""
    generation = pv_kwh_at(point, at, seed) + other_kwh(point, at.minutes)
    return generation - load_kwh_at(point, at)
