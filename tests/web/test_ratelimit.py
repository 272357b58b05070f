"""Rate-limit counters: a window per key, in process memory or shared through Redis."""

from __future__ import annotations

import logging
import uuid

import pytest

from tests.support.servers import redis_url
from web import ratelimit
from web.ratelimit import MemoryCounters, RedisCounters

pytestmark = pytest.mark.anyio


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    fake = FakeTime()
    monkeypatch.setattr(ratelimit.time, "monotonic", fake.monotonic)
    return fake


async def test_memory_window_counts_then_starts_again(clock: FakeTime) -> None:
    counters = MemoryCounters()
    assert [(await counters.hit("a", 60, 10))[0] for _ in range(3)] == [1, 2, 3]
    assert (await counters.hit("b", 60, 10))[0] == 1  # keys are counted apart
    clock.now += 59.5
    count, left = await counters.hit("a", 60, 10)
    assert count == 4 and left == pytest.approx(0.5)
    clock.now += 0.5  # the window has ended: a new one opens with this request
    assert await counters.hit("a", 60, 10) == (1, 60.0)


async def test_memory_counters_drop_ended_windows(
    clock: FakeTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ratelimit, "MAX_KEYS", 10)
    counters = MemoryCounters()
    for k in range(10):
        await counters.hit(f"old{k}", 1, 10)
    clock.now += 2
    await counters.hit("new", 1, 10)
    assert list(counters._windows) == ["new"]


@pytest.mark.redis
async def test_redis_counters_are_shared_between_processes() -> None:
    url, prefix = redis_url(), f"klaster-test-{uuid.uuid4().hex[:8]}:"
    one, two = RedisCounters(url, prefix), RedisCounters(url, prefix)  # as two app processes
    try:
        # A limit under 20 gives a lease of one number: every request asks Redis.
        assert (await one.hit("m1", 60, 5))[0] == 1
        assert (await two.hit("m1", 60, 5))[0] == 2
        count, left = await one.hit("m1", 60, 5)
        assert count == 3 and 58 < left <= 60
        assert (await two.hit("m2", 60, 5))[0] == 1
        assert (await one.hit("m3", 1, 5))[0] == 1
        ttl = await one._redis.pttl(prefix + "m3")
        assert 0 < ttl <= 1000  # the window ends in Redis too: nothing is left behind
    finally:
        await one._redis.delete(*[prefix + k for k in ("m1", "m2", "m3")])
        await one.aclose()
        await two.aclose()


@pytest.mark.redis
async def test_redis_counters_take_numbers_a_few_at_a_time() -> None:
    url, prefix = redis_url(), f"klaster-test-{uuid.uuid4().hex[:8]}:"
    one, two = RedisCounters(url, prefix), RedisCounters(url, prefix)
    try:
        # limit 100: leases of 10 numbers
        assert [(await one.hit("k", 60, 100))[0] for _ in range(3)] == [1, 2, 3]
        assert int(await one._redis.get(prefix + "k")) == 10  # one trip took 1..10
        assert (await two.hit("k", 60, 100))[0] == 11  # the other process: 11..20
        assert [(await one.hit("k", 60, 100))[0] for _ in range(8)] == [4, 5, 6, 7, 8, 9, 10, 21]
        # Never more than the limit admitted in a window, however the processes share it.
        admitted = 0
        for k in range(200):
            count, _ = await (one if k % 3 else two).hit("k2", 60, 100)
            admitted += count <= 100
        assert admitted <= 100 and admitted >= 100 - 2 * 9  # at most lease-1 lost per process
    finally:
        await one._redis.delete(prefix + "k", prefix + "k2")
        await one.aclose()
        await two.aclose()


async def test_redis_away_counts_in_memory_and_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    dead = RedisCounters("redis://127.0.0.1:9/0", "x:", retry_seconds=60)  # nothing on port 9
    try:
        with caplog.at_level(logging.WARNING, logger="klaster.ratelimit"):
            counts = [(await dead.hit("m1", 60, 100))[0] for _ in range(4)]
        assert counts == [1, 2, 3, 4]  # limits stay in force in this process
        assert len([r for r in caplog.records if "unreachable" in r.message]) == 1
    finally:
        await dead.aclose()
