"""Live updates: Litestar channels in, WebSocket clients out.

The market publishes small events (`market.events`) through `ChannelsPublisher` into
Litestar's channels: an in-memory backend in one process, Redis pub/sub when `REDIS_URL` is
set, so every app process sees every event. Each process runs one `LiveHub` that subscribes
once and fans out to its own sockets:

- `orderbook` events are coalesced per interval (at most `BOOK_UPDATES_PER_SECOND`), the
  aggregated book is read once per process, rendered once per language, and the same bytes go
  to every socket — a thousand clients cost one query and two renders, not a thousand.
- `gate_closed` and `interval_cleared` are pushed likewise (the cleared result read once).
- Browsers get HTML fragments that htmx's ws extension swaps out of band (ids match the page);
  programs get JSON (`/api/v1/feed`, `klaster watch`). Per-member data (my orders, my fills)
  is not pushed: the pushed fragment carries `data-live-event`, and the page's own regions
  refetch themselves over HTTP (`hx-trigger="live:interval_cleared from:body"`), so private
  data is only ever served to its owner through the normal, guarded handlers.
- The exception are a member's own messages (`notification` events, how the member's orders
  ended at each `interval_cleared`, and the warning that a gate is about to close on an
  interval where the member has nothing placed, at each `gate_closed`): `load_private` reads
  them for the members connected here in one go, and each goes only to the sockets signed in
  as its member (`LiveClient.member_id`).

A slow client never holds the others up: each has a bounded queue that drops its oldest
message when full (the next update supersedes it anyway).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msgspec
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.memory import MemoryChannelsBackend

from market.core.events import (
    CHANNELS,
    GATE_CLOSED,
    INTERVAL_CLEARED,
    MARKET_HALTED,
    NOTIFICATION,
    ORDERBOOK,
)
from web.config import ACCESS_CHANNEL

if TYPE_CHECKING:
    from market.core.settings import Settings
    from web.config import WebConfig

#: A day-ahead gate closing or its clearing stored: the live state is read again (the next
#: gate changes) and programs on the JSON feed get the event.
DAY_AHEAD_EVENTS = ("day_ahead_gate_closed", "day_ahead_cleared")
log = logging.getLogger("klaster.live")

#: Clients offered a push between two yields to the event loop (see `dispatch_paced`).
PACE_BATCH = 50
BOOK_UPDATES_PER_SECOND = 1.0  # 1,000 sockets × 1 push/s: measured in bench/cluster.py
CLIENT_QUEUE_SIZE = 32


def make_channels_plugin(settings: Settings, config: WebConfig) -> ChannelsPlugin:
    """Memory backend by default; Redis pub/sub when `REDIS_URL` is set."""
    if settings.redis_url:
        from redis.asyncio import Redis

        from web.resilience import ResilientRedisPubSubBackend

        backend: Any = ResilientRedisPubSubBackend(redis=Redis.from_url(settings.redis_url))
    else:
        backend = MemoryChannelsBackend()
    # `access`: credential changes between app processes (web.auth.CredentialRelay)
    access = config.channel_prefix + ACCESS_CHANNEL
    return ChannelsPlugin(backend=backend, channels=[*channel_names(config.channel_prefix), access])


def channel_names(prefix: str) -> list[str]:
    """Pub/sub channel names are global in Redis: a prefix keeps test runs apart."""
    return [prefix + name for name in CHANNELS]


class ChannelsPublisher:
    """`market.events.Publisher` over Litestar channels (non-blocking: the plugin queues)."""

    def __init__(self, plugin: ChannelsPlugin, prefix: str = "") -> None:
        self._plugin = plugin
        self._prefix = prefix

    async def publish(self, channel: str, event: dict[str, Any]) -> None:
        self._plugin.publish(event, channels=[self._prefix + channel])


@dataclass(eq=False)
class LiveClient:
    kind: str  # "html" or "json"
    locale: str
    page: str = ""  # which page the socket serves ("live", "my", ...): what to push
    member_id: int | None = None  # the member signed in on this socket (own messages)
    queue: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(CLIENT_QUEUE_SIZE))

    def offer(self, message: str) -> None:
        if self.queue.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
        self.queue.put_nowait(message)


@dataclass(frozen=True, slots=True)
class LiveUpdate:
    """One event with the state the views need (loaded once per process), ready to render."""

    type: str
    event: dict[str, Any]
    data: Any = None
    seq: int = 0


Renderer = Callable[[LiveUpdate, str, str], str]
Loader = Callable[[dict[str, Any]], Awaitable[Any]]
#: (event, members connected here) → each member's own message data (members without one
#: left out); and how one is rendered: (event type, data, locale) → HTML.
PrivateLoader = Callable[[dict[str, Any], set[int]], Awaitable[dict[int, Any]]]
PrivateRenderer = Callable[[str, Any, str], str]


def encode_json(update: LiveUpdate) -> str:
    payload = dict(update.event)
    payload.setdefault("type", update.type)
    part = update.data.json_data(update.type) if hasattr(update.data, "json_data") else None
    if part is not None:
        payload["data"] = part
    return msgspec.json.encode(payload).decode()


class LiveHub:
    """One per process: subscribes to the channels once and fans out to local sockets."""

    def __init__(
        self,
        plugin: ChannelsPlugin,
        *,
        render_html: Renderer,
        load_state: Loader,
        channels: list[str] | None = None,
        on_halt: Callable[[dict[str, Any]], None] | None = None,
        load_private: PrivateLoader | None = None,
        render_private: PrivateRenderer | None = None,
    ) -> None:
        self._plugin = plugin
        self._load_private = load_private
        self._render_private = render_private
        self._on_halt = on_halt
        self._channels = channels or list(CHANNELS)
        self._render_html = render_html
        self._load_state = load_state
        self._clients: set[LiveClient] = set()
        self._task: asyncio.Task[None] | None = None
        self._book_pending = False
        self._last_book = 0.0
        self._background: set[asyncio.Task[None]] = set()
        self._seq = 0

    def connect(
        self, kind: str, locale: str, page: str = "", member_id: int | None = None
    ) -> LiveClient:
        client = LiveClient(kind=kind, locale=locale, page=page, member_id=member_id)
        self._clients.add(client)
        return client

    def disconnect(self, client: LiveClient) -> None:
        self._clients.discard(client)

    async def start(self) -> None:
        subscriber = await self._plugin.subscribe(self._channels)
        self._task = asyncio.create_task(self._run(subscriber), name="klaster-live-hub")

    async def stop(self) -> None:
        tasks = [t for t in [self._task, *self._background] if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _run(self, subscriber: Any) -> None:
        async for raw in subscriber.iter_events():
            try:
                await self.handle(json.loads(raw))
            except Exception:
                log.exception("live event failed: %r", raw[:200])

    async def handle(self, event: dict[str, Any]) -> None:
        kind = str(event.get("type", ""))
        if kind == MARKET_HALTED:
            # The banner cache first (pages rendered from now on), then the open pages: the
            # event carries the whole state, so nothing is read.
            if self._on_halt is not None:
                self._on_halt(event)
            await self.dispatch_paced(LiveUpdate(kind, event, None))
            return
        if not self._clients:
            return  # nobody to tell: do not read the database for nothing
        if kind == ORDERBOOK:
            self._book_changed(event)
            return
        if kind == NOTIFICATION:
            await self.dispatch_private(kind, event)
            return
        if kind not in (GATE_CLOSED, INTERVAL_CLEARED, *DAY_AHEAD_EVENTS):
            log.warning("unknown live event type %r", kind)
        await self.dispatch_paced(LiveUpdate(kind, event, await self._load_state(event)))
        await self.dispatch_private(kind, event)

    async def dispatch_private(self, kind: str, event: dict[str, Any]) -> None:
        """Each connected member's own message, to that member's page sockets only."""
        if self._load_private is None or self._render_private is None:
            return
        members = {c.member_id for c in self._clients if c.kind == "html" and c.member_id}
        if kind == NOTIFICATION:
            members &= {int(m) for m in event.get("members", [])}
        if not members:
            return
        data = await self._load_private(event, {m for m in members if m is not None})
        rendered: dict[tuple[int, str], str] = {}
        for n, client in enumerate(list(self._clients), 1):
            member = client.member_id
            if client.kind != "html" or member is None or member not in data:
                continue
            key = (member, client.locale)
            if key not in rendered:
                rendered[key] = self._render_private(kind, data[member], client.locale)
            if rendered[key]:
                client.offer(rendered[key])
            if n % PACE_BATCH == 0:
                await asyncio.sleep(0)

    def _book_changed(self, event: dict[str, Any]) -> None:
        """Coalesce: at most BOOK_UPDATES_PER_SECOND book pushes, the last change always shown."""
        if self._book_pending:
            return
        self._book_pending = True
        wait = max(0.0, self._last_book + 1.0 / BOOK_UPDATES_PER_SECOND - time.monotonic())
        task = asyncio.create_task(self._flush_book(event, wait))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _flush_book(self, event: dict[str, Any], wait: float) -> None:
        if wait:
            await asyncio.sleep(wait)
        # Cleared before reading: a change during the read schedules another flush.
        self._book_pending = False
        self._last_book = time.monotonic()
        if not self._clients:
            return
        try:
            state = await self._load_state(event)
        except Exception:
            log.exception("loading the live state failed")
            return
        await self.dispatch_paced(LiveUpdate(ORDERBOOK, event, state))

    def dispatch(self, update: LiveUpdate) -> None:
        """Render once per (kind, language, page) and queue the same text for every client."""
        for _ in self._offer_all(update):
            pass

    async def dispatch_paced(self, update: LiveUpdate) -> None:
        """`dispatch`, yielding to the event loop every `PACE_BATCH` clients: each client's
        send runs in its own pump task, so without pacing a push to 1,000 sockets queues
        1,000 sends ahead of any HTTP request that arrives meanwhile."""
        for n in self._offer_all(update):
            if n % PACE_BATCH == 0:
                await asyncio.sleep(0)

    def _offer_all(self, update: LiveUpdate) -> Iterator[int]:
        self._seq += 1
        update = LiveUpdate(update.type, update.event, update.data, self._seq)
        rendered: dict[tuple[str, str, str], str] = {}
        for n, client in enumerate(list(self._clients), 1):
            key = (
                (client.kind, client.locale, client.page)
                if client.kind == "html"
                else ("json", "", "")
            )
            text = rendered.get(key)
            if text is None:
                if client.kind == "html":
                    text = self._render_html(update, client.locale, client.page)
                else:
                    text = encode_json(update)
                rendered[key] = text
            if text:
                client.offer(text)
            yield n


async def pump(client: LiveClient, send: Callable[[str], Awaitable[None]]) -> None:
    """Send a client's queued messages until cancelled."""
    while True:
        message = await client.queue.get()
        await send(message)
