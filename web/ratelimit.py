"""Rate limiting on single handlers (sign-in, order submission).

Handlers declare `rate_limited("...")`; the `RateLimit` it names and the counters are the
app's services (`web.config.AppServices`, built from the settings): counters per process in
memory, shared through Redis when it is configured (several app processes count together).

The policy is a window per key: a key's first request opens a window as long as the limit's
unit; the window admits `limit` requests and answers the rest 429 with `Retry-After` until it
ends. (Litestar's `RateLimitMiddleware` has the same policy but stores the list of request
times per key and re-encodes it on every request, through a lock: at the order-intake rates
that list was a tenth of a request's cost. Here a window is a counter: a dict entry in memory,
one round trip to Redis.)
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from litestar.exceptions import TooManyRequestsException
from litestar.types import ASGIApp, Receive, Scope, Send

from web.resilience import REDIS_DOWN

if TYPE_CHECKING:
    from web.config import AppServices

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
    async def hit(self, key: str, seconds: int, limit: int) -> tuple[int, float]:
        """Count a request for `key` (whose window of `seconds` admits `limit`): its number
        in the current window and the seconds until that window ends."""
        ...


class MemoryCounters:
    def __init__(self) -> None:
        self._windows: dict[str, tuple[float, int]] = {}

    async def hit(self, key: str, seconds: int, limit: int = 0) -> tuple[int, float]:
        now = time.monotonic()
        end, count = self._windows.get(key, (0.0, 0))
        if end <= now:
            end, count = now + seconds, 0
        self._windows[key] = (end, count + 1)
        if len(self._windows) > MAX_KEYS:
            self._windows = {k: v for k, v in self._windows.items() if v[0] > now}
        return count + 1, end - now


#: Take `ARGV[2]` numbers in the key's window, opening the window (with its expiry) on the
#: first; atomic, so a window is never left without an expiry. Returns {last number, ms left}.
_TAKE = """
local count = redis.call('INCRBY', KEYS[1], ARGV[2])
if count == tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {count, redis.call('PTTL', KEYS[1])}
"""
#: A process takes at most this many numbers of a window at once (see `RedisCounters`).
MAX_LEASE = 50


class RedisCounters:
    """Windows in Redis, shared by every app process. A process takes several numbers of a
    key's window at once (a tenth of the limit, at most `MAX_LEASE`, at least one) with one
    Lua script call, and hands them to its next requests without asking Redis again. At
    1,000 orders/s a Redis round trip per request was an eighth of the app's CPU. The cost:
    numbers a process took but did not use in a window are lost to the others, so a key may
    be refused up to (lease - 1) requests early per process, never admitted late. (Sign-in's
    10 a minute gives a lease of one: exact.)

    While Redis cannot be reached the counting goes on in process memory (limits stay in
    force per process) and Redis is tried again after `retry_seconds`, as
    `web.resilience.FailoverStore` does for the sessions."""

    def __init__(self, url: str, prefix: str, retry_seconds: float = 1.0) -> None:
        from redis.asyncio import Redis

        self._redis = Redis.from_url(url, socket_connect_timeout=1.0, socket_timeout=1.0)
        self._take = self._redis.register_script(_TAKE)
        self._prefix = prefix
        #: key -> [window end (monotonic), next number to hand out, last number taken]
        self._leases: dict[str, list[float]] = {}
        self._fallback = MemoryCounters()
        self.retry_seconds = retry_seconds
        self._down_until = 0.0

    async def hit(self, key: str, seconds: int, limit: int) -> tuple[int, float]:
        now = time.monotonic()
        lease = self._leases.get(key)
        if lease is not None and lease[0] > now and lease[1] <= lease[2]:
            number = int(lease[1])
            lease[1] += 1
            return number, lease[0] - now
        if now >= self._down_until:
            size = max(1, min(MAX_LEASE, limit // 10))
            try:
                last, pttl = await self._take(
                    keys=[self._prefix + key], args=[seconds * 1000, size]
                )
            except REDIS_DOWN as exc:
                if self._down_until == 0.0 or time.monotonic() >= self._down_until:
                    log.warning("rate-limit counters unreachable (%s); counting in memory", exc)
                self._down_until = time.monotonic() + self.retry_seconds
            else:
                left = max(int(pttl), 0) / 1000
                first = int(last) - size + 1
                self._leases[key] = [time.monotonic() + left, first + 1, int(last)]
                if len(self._leases) > MAX_KEYS:
                    now = time.monotonic()
                    self._leases = {k: v for k, v in self._leases.items() if v[0] > now}
                return first, left
        return await self._fallback.hit(key, seconds, limit)

    async def aclose(self) -> None:
        await self._redis.aclose()


async def enforce(services: AppServices, limit: RateLimit, key: str) -> None:
    """Count a request against `limit` for `key`; 429 with `Retry-After` past the limit."""
    count, left = await services.rate_counters.hit(
        f"{limit.name}:{key}", limit.seconds, limit.limit
    )
    if count > limit.limit:
        raise TooManyRequestsException(
            detail=f"too many requests: at most {limit.limit} per {limit.unit}",
            headers={
                "Retry-After": str(max(1, math.ceil(left))),
                "RateLimit-Limit": str(limit.limit),
                "RateLimit-Remaining": "0",
                "RateLimit-Reset": str(max(1, math.ceil(left))),
            },
        )


def rate_limited(state_key: str) -> Callable[[ASGIApp], ASGIApp]:
    """Middleware for a handler, limited by the app's `RateLimit` named `state_key`
    (`signin_limit`, `order_limit`)."""

    def factory(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            # web.config sits above this module: the services are reached through the app
            services: AppServices = scope["litestar_app"].state.services
            limit = services.rate_limit(state_key)
            await enforce(services, limit, limit.key_for(scope))
            await app(scope, receive, send)

        return middleware

    return factory
