"""Market time. Services and the scheduler ask a `Clock`, never `datetime.now()` directly,
so the demo can run a fast clock (e.g. one 15-minute interval every 20 seconds) and tests a
manual one."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

from market.core.timegrid import as_utc


class Clock(Protocol):
    def now(self) -> datetime: ...

    #: Market seconds per real second.
    @property
    def speed(self) -> float: ...


class SystemClock:
    speed = 1.0

    def now(self) -> datetime:
        return datetime.now(UTC)


class FastClock:
    """Market time = `market_anchor` + (real time since `real_anchor`) × `speed`."""

    def __init__(
        self,
        speed: float,
        market_anchor: datetime | None = None,
        real_anchor: float | None = None,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be greater than 0")
        self.speed = speed
        self.real_anchor = time.time() if real_anchor is None else real_anchor
        self.market_anchor = as_utc(
            market_anchor or datetime.fromtimestamp(self.real_anchor, tz=UTC)
        )

    def now(self) -> datetime:
        elapsed = time.time() - self.real_anchor
        return self.market_anchor + timedelta(seconds=elapsed * self.speed)


class ManualClock:
    """A clock tests move by hand."""

    speed = 1.0

    def __init__(self, start: datetime) -> None:
        self._now = as_utc(start)

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = as_utc(moment)

    def advance(self, **delta: float) -> datetime:
        self._now += timedelta(**delta)
        return self._now


def demo_speed_for(interval_seconds_real: float, interval_minutes: int = 15) -> float:
    """Speed that makes one interval pass in `interval_seconds_real` real seconds."""
    return interval_minutes * 60 / interval_seconds_real


def clock_for_speed(speed: float, resume_from: datetime | None = None) -> Clock:
    """The market clock at `speed`. A fast clock resumes from `resume_from` (the market time
    the database has reached, e.g. the last gate that closed) when that lies ahead of the wall
    clock: a restarted demo goes on where it stopped instead of waiting for the wall clock to
    catch up with intervals it has already created and closed."""
    if speed == 1.0:
        return SystemClock()
    wall = datetime.now(UTC)
    anchor = max(wall, as_utc(resume_from)) if resume_from is not None else wall
    return FastClock(speed, market_anchor=anchor)
