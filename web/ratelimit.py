"""Rate limiting on single handlers (sign-in, order submission).

Handlers declare `rate_limited("...")`; the `RateLimit` it names lives in `app.state` (it
depends on the environment), and the counters in `app.state["rate_counters"]`: per process in
memory, shared through Redis when it is configured (several app processes count together).

The policy is a window per key: a key's first request opens a window as long as the limit's
unit; the window admits `limit` requests and answers the rest 429 with `Retry-After` until it
ends. (Litestar's `RateLimitMiddleware` has the same policy but stores the list of request
times per key and re-encodes it on every request, through a lock: at the order-intake rates
that list was a tenth of a request's cost. Here a window is a counter: a dict entry in memory,
one pipelined round trip to Redis.)
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from litestar.exceptions import TooManyRequestsException
from litestar.types import ASGIApp, Receive, Scope, Send

from web.resilience import REDIS_DOWN

log = logging.getLogger("klaster.ratelimit")

SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
#: Memory counters: past this many keys, windows that have ended are dropped.
MAX_KEYS = 10_000


@dataclass(frozen=True)
class RateLimit:
    """`limit` requests per `unit` for each key that `key_for(scope)` gives."""

    name: str
    limit: int
    unit: str
    key_for: Callable[[Scope], str]

    @property
    def seconds(self) -> int:
        return SECONDS[self.unit]


class Counters(Protocol):
    async def hit(self, key: str, seconds: int) -> tuple[int, float]:
        """Count a request for `key`: its number in the current window and the seconds
        until that window ends."""
        ...


class MemoryCounters:
    def __init__(self) -> None:
        self._windows: dict[str, tuple[float, int]] = {}

    async def hit(self, key: str, seconds: int) -> tuple[int, float]:
        now = time.monotonic()
        end, count = self._windows.get(key, (0.0, 0))
        if end <= now:
            end, count = now + seconds, 0
        self._windows[key] = (end, count + 1)
        if len(self._windows) > MAX_KEYS:
            self._windows = {k: v for k, v in self._windows.items() if v[0] > now}
        return count + 1, end - now


class RedisCounters:
    """Windows in Redis: `SET key 0 EX seconds NX` opens one, `INCR` counts, `PTTL` tells
    when it ends; one pipelined round trip. While Redis cannot be reached the counting goes
    on in process memory (limits stay in force per process) and Redis is tried again after
    `retry_seconds`, as `web.resilience.FailoverStore` does for the sessions."""

    def __init__(self, url: str, prefix: str, retry_seconds: float = 1.0) -> None:
        from redis.asyncio import Redis

        self._redis = Redis.from_url(url, socket_connect_timeout=1.0, socket_timeout=1.0)
        self._prefix = prefix
        self._fallback = MemoryCounters()
        self.retry_seconds = retry_seconds
        self._down_until = 0.0

    async def hit(self, key: str, seconds: int) -> tuple[int, float]:
        if time.monotonic() >= self._down_until:
            name = self._prefix + key
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    pipe.set(name, 0, ex=seconds, nx=True)
                    pipe.incr(name)
                    pipe.pttl(name)
                    _, count, pttl = await pipe.execute()
                return int(count), max(int(pttl), 0) / 1000
            except REDIS_DOWN as exc:
                if self._down_until == 0.0 or time.monotonic() >= self._down_until:
                    log.warning("rate-limit counters unreachable (%s); counting in memory", exc)
                self._down_until = time.monotonic() + self.retry_seconds
        return await self._fallback.hit(key, seconds)

    async def aclose(self) -> None:
        await self._redis.aclose()


def rate_limited(state_key: str) -> Any:
    """Middleware for a handler, limited by the `RateLimit` at `app.state[state_key]`."""

    def factory(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            state = scope["litestar_app"].state
            limit: RateLimit = state[state_key]
            counters: Counters = state["rate_counters"]
            count, left = await counters.hit(f"{limit.name}:{limit.key_for(scope)}", limit.seconds)
            if count > limit.limit:
                raise TooManyRequestsException(
                    detail=f"too many requests: at most {limit.limit} a {limit.unit}",
                    headers={
                        "Retry-After": str(max(1, math.ceil(left))),
                        "RateLimit-Limit": str(limit.limit),
                        "RateLimit-Remaining": "0",
                        "RateLimit-Reset": str(max(1, math.ceil(left))),
                    },
                )
            await app(scope, receive, send)

        return middleware

    return factory
