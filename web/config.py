"""Web-only knobs read from the environment (the shared ones — database, Redis, secret key,
demo speed — are `market.settings.Settings`).

- `KLASTER_SECURE_COOKIES` (default `1`): `Secure` flag on the session and CSRF cookies;
  `0` only for plain-http local use (`klaster demo` sets it).
- `KLASTER_SIGNIN_RATE` (`10/minute`): sign-in attempts per client address.
- `KLASTER_ORDER_RATE` (`20/second`): order submissions per member (pages and API).
- `KLASTER_CHANNEL_PREFIX` (empty): prefix of the live channel names (`orderbook`, …) and of
  the Redis namespace of sessions and rate counters; lets several test runs or clusters share
  one Redis. `klaster worker` must publish with the same prefix.
- `KLASTER_SESSION_DAYS` (`7`): session lifetime.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

DurationUnit = Literal["second", "minute", "hour", "day"]


def parse_rate(text: str, name: str) -> tuple[DurationUnit, int]:
    """`"10/minute"` → `("minute", 10)`."""
    count, _, unit = text.partition("/")
    if unit not in ("second", "minute", "hour", "day") or not count.strip().isdigit():
        raise ValueError(f"{name} must look like 10/minute (got {text!r})")
    return unit, int(count)  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class WebConfig:
    secure_cookies: bool = True
    signin_rate: tuple[DurationUnit, int] = ("minute", 10)
    order_rate: tuple[DurationUnit, int] = ("second", 20)
    channel_prefix: str = ""
    session_days: int = 7

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> WebConfig:
        env = dict(os.environ if env is None else env)
        return cls(
            secure_cookies=env.get("KLASTER_SECURE_COOKIES", "1") not in ("0", "false", "no"),
            signin_rate=parse_rate(
                env.get("KLASTER_SIGNIN_RATE", "10/minute"), "KLASTER_SIGNIN_RATE"
            ),
            order_rate=parse_rate(env.get("KLASTER_ORDER_RATE", "20/second"), "KLASTER_ORDER_RATE"),
            channel_prefix=env.get("KLASTER_CHANNEL_PREFIX", ""),
            session_days=int(env.get("KLASTER_SESSION_DAYS", "7")),
        )


@lru_cache(maxsize=1)
def get_web_config() -> WebConfig:
    return WebConfig.from_env()
