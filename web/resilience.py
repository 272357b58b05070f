"""Keep serving while Redis is away.

Redis carries the live channels, the sessions and the rate-limit counters when several app
processes share it. Without these wrappers one Redis restart would end live updates for
good (Litestar's channel workers die on the first connection error) and turn every request
that touches a session or a rate limit into a 500. With them:

- `ResilientRedisPubSubBackend` drops events it cannot publish (live views are best effort;
  the next event carries the full state) and, when its subscription breaks, reconnects with
  back-off; redis-py re-subscribes on reconnect, so live updates resume by themselves.
- `FailoverStore` answers from a per-process memory store while Redis is unreachable (a
  session made during the outage lives in that process only) and goes back to Redis after
  `retry_seconds`; the rate-limit counters (`web.ratelimit.RedisCounters`) do the same, so
  limits stay in force per process.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable
from datetime import timedelta
from typing import Any, TypeVar

from litestar.channels.backends.redis import RedisChannelsPubSubBackend
from litestar.stores.base import Store
from litestar.stores.memory import MemoryStore
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

T = TypeVar("T")

log = logging.getLogger("klaster.redis")

#: What an unreachable or restarting Redis raises.
REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, ConnectionError, OSError)


class ResilientRedisPubSubBackend(RedisChannelsPubSubBackend):
    """Redis pub/sub for Litestar channels that survives Redis going away and coming back."""

    max_backoff_seconds = 1.0

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.connected = True
        self.dropped = 0

    async def publish(self, data: bytes, channels: Iterable[str]) -> None:
        try:
            await super().publish(data, channels)
        except REDIS_DOWN as exc:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 100 == 0:
                log.warning("live event not published (Redis unreachable: %s)", exc)

    async def stream_events(self) -> AsyncGenerator[tuple[str, Any], None]:
        delay = 0.05
        while True:
            try:
                async for item in super().stream_events():
                    yield item
            except REDIS_DOWN as exc:
                if self.connected:
                    log.warning("live subscription lost (%s); reconnecting", exc)
                self.connected = False
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_backoff_seconds)
                continue
            return  # pragma: no cover - the parent loops forever


class FailoverStore(Store):
    """`primary` (Redis) while it answers, `fallback` (memory) while it does not."""

    def __init__(
        self, primary: Store, fallback: Store | None = None, retry_seconds: float = 1.0
    ) -> None:
        self.primary = primary
        self.fallback = fallback or MemoryStore()
        self.retry_seconds = retry_seconds
        self._down_until = 0.0

    @property
    def degraded(self) -> bool:
        return time.monotonic() < self._down_until

    async def _call(self, operation: Callable[[Store], Awaitable[T]]) -> T:
        if not self.degraded:
            try:
                return await operation(self.primary)
            except REDIS_DOWN as exc:
                if self._down_until == 0.0 or not self.degraded:
                    log.warning("store unreachable (%s); using process memory", exc)
                self._down_until = time.monotonic() + self.retry_seconds
        return await operation(self.fallback)

    async def set(
        self, key: str, value: str | bytes, expires_in: int | timedelta | None = None
    ) -> None:
        await self._call(lambda store: store.set(key, value, expires_in=expires_in))

    async def get(self, key: str, renew_for: int | timedelta | None = None) -> bytes | None:
        return await self._call(lambda store: store.get(key, renew_for=renew_for))

    async def delete(self, key: str) -> None:
        await self._call(lambda store: store.delete(key))

    async def delete_all(self) -> None:
        await self._call(lambda store: store.delete_all())

    async def exists(self, key: str) -> bool:
        return await self._call(lambda store: store.exists(key))

    async def expires_in(self, key: str) -> int | None:
        return await self._call(lambda store: store.expires_in(key))

    async def __aexit__(self, *args: Any) -> None:
        exit_ = getattr(self.primary, "__aexit__", None)
        if exit_ is not None:
            await exit_(*args)
