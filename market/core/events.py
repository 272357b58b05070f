"""Events the market publishes for live views; `web/` wires a publisher to its channels.

Channels and payloads (JSON-serialisable dicts, times ISO 8601 UTC):
- `orderbook`: `{"type": "orderbook", "interval_id", "interval_start"}` after any order
  change in an interval (consumers fetch `market.orders.order_book` and coalesce).
- `gate_closed`: `{"type": "gate_closed", "interval_id", "interval_start", "orders"}`.
- `interval_cleared`: `{"type": "interval_cleared", "interval_id", "interval_start",
  "status", "reason", "prices": {node_code: "0.1234"}, "local_kwh", "import_kwh",
  "export_kwh", "welfare_pln", "congested_lines": [line_code, ...]}`.
- `day_ahead`: `{"type": "day_ahead_gate_closed", "local_day", "auction_id"}` when a day's
  day-ahead gate closes; `{"type": "day_ahead_cleared", "local_day", "auction_id", "version",
  "status", "reason", "prices_min", "prices_max", "storage_units", "blocks",
  "blocks_accepted"}` once its clearing is stored.
- `market_halted`: `{"type": "market_halted", "halted_at", "reason"}` after the coordinator
  halts (both set) or resumes (both null) the market.
- `notification`: `{"type": "notification", "members": [member ids]}` after notifications
  were stored for these members (`market.trading.notifications`); no content: each member's
  own socket reads the member's own.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Protocol

ORDERBOOK = "orderbook"
GATE_CLOSED = "gate_closed"
INTERVAL_CLEARED = "interval_cleared"
MARKET_HALTED = "market_halted"
NOTIFICATION = "notification"
DAY_AHEAD = "day_ahead"
CHANNELS = (ORDERBOOK, GATE_CLOSED, INTERVAL_CLEARED, MARKET_HALTED, NOTIFICATION, DAY_AHEAD)


class Publisher(Protocol):
    async def publish(self, channel: str, event: dict[str, Any]) -> None: ...


class NullPublisher:
    """Publishes nowhere (CLI, tests, a worker without live views)."""

    async def publish(self, channel: str, event: dict[str, Any]) -> None:
        return None


class RecordingPublisher:
    """Keeps every event in memory, in order (tests and diagnostics)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    async def publish(self, channel: str, event: dict[str, Any]) -> None:
        self.events.append((channel, event))

    def of(self, channel: str) -> list[dict[str, Any]]:
        return [e for c, e in self.events if c == channel]


async def publish_safely(publisher: Publisher, channel: str, event: dict[str, Any]) -> None:
    """Live views are best effort: a broken publisher must never undo a committed change."""
    try:
        await publisher.publish(channel, event)
    except Exception:  # logged and dropped on purpose
        logging.getLogger("klaster.events").exception("publishing to %s failed", channel)


class RedisPublisher:
    """Publishes to Redis pub/sub channels the way Litestar's `RedisChannelsPubSubBackend`
    does (channel name as is, JSON payload), so `klaster worker` reaches every web process
    subscribed through Litestar channels."""

    def __init__(self, url: str) -> None:
        from redis.asyncio import Redis

        self._redis = Redis.from_url(url)

    async def publish(self, channel: str, event: dict[str, Any]) -> None:
        await self._redis.publish(channel, json.dumps(event, separators=(",", ":")))

    async def aclose(self) -> None:
        await self._redis.aclose()


def publisher_from_url(redis_url: str | None) -> Publisher:
    return RedisPublisher(redis_url) if redis_url else NullPublisher()
