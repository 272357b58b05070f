"""Operations: readiness, Prometheus metrics, request ids and access logs, Redis outages.

`OpsPlugin` adds to the app (`web.app.create_app` registers it):

- `GET /ready` — 200 when the database and Redis (if configured) answer within a second,
  503 with what is down otherwise (`GET /health` is liveness only, in `web.app`).
- `GET /metrics` — Prometheus text: request latency by route, orders accepted and rejected,
  connected WebSockets, Redis reachability. Serve it to the scraper only (the reverse proxy
  in `deploy/` hides it). The worker's clearing metrics: `market.operations`.
- A middleware that gives every request an id (the proxy's `X-Request-ID` if sane, else a new
  one; echoed in the response), logs one access line with it and records the metrics.
- Stores that fall back to process memory while Redis is away (`web.resilience`).
- A Redis monitor: when Redis becomes unreachable the live pages are told so (`live_paused`:
  the badge in the header says "live updates paused"); when it is back they get the whole
  live state again (`live_resumed`) and pushes continue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from litestar import Response, get
from litestar.config.app import AppConfig
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.logging.config import LoggingConfig
from litestar.middleware.base import DefineMiddleware
from litestar.plugins import InitPluginProtocol
from litestar.stores.redis import RedisStore
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import text

from market.clearing.operations import configure_logging, log_format, request_id_var
from market.core.settings import Settings
from web.config import app_services
from web.resilience import REDIS_DOWN, FailoverStore

if TYPE_CHECKING:
    from litestar import Litestar, Request
    from litestar.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("klaster.ops")
access_log = logging.getLogger("klaster.access")

REQUEST_SECONDS = Histogram(
    "klaster_http_request_duration_seconds",
    "HTTP request latency by route template",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
ORDERS = Counter(
    "klaster_orders_total",
    "Order submissions (pages and API) by outcome: accepted, rejected (a market rule said no), "
    "throttled (rate limit), error",
    ["outcome"],
)
WEBSOCKETS = Gauge("klaster_websocket_connections", "WebSocket connections open in this process")
REDIS_UP = Gauge("klaster_redis_up", "1 when this process reaches Redis (1 without Redis too)")

#: Routes that submit a new order (method, route template).
ORDER_ROUTES = frozenset({("POST", "/api/v1/orders"), ("POST", "/my/orders")})
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
PROBE_SECONDS = 1.0
PROBE_TIMEOUT = 1.0


def order_outcome(status: int) -> str:
    if 200 <= status < 300:
        return "accepted"
    if status in (400, 409, 422):
        return "rejected"
    return "throttled" if status == 429 else "error"


#: Scope key of the `_Answer` of a request (see `stamp_response`).
_ANSWER = "klaster.answer"


class _Answer:
    """One HTTP request's record: its id, method, path, route and start, and the status it
    was answered with. `record` writes the access line and the metrics once."""

    __slots__ = (
        "access_log",
        "method",
        "path",
        "pending",
        "recorded",
        "rid",
        "route",
        "start",
        "started",
        "status",
    )

    def __init__(self, scope: Scope, rid: str, access_log: bool) -> None:
        self.rid = rid
        self.access_log = access_log
        self.method = str(scope.get("method", ""))
        self.path = str(scope["path"])
        self.route = str(scope.get("path_template") or "unmatched")
        self.start = time.perf_counter()
        self.status = 500
        #: the middleware returned by an exception: Litestar's handler answers after it
        self.pending = False
        self.started = False
        self.recorded = False

    def record(self) -> None:
        if self.recorded:
            return
        self.recorded = True
        seconds = time.perf_counter() - self.start
        status = self.status
        REQUEST_SECONDS.labels(self.method, self.route, str(status)).observe(seconds)
        if (self.method, self.route) in ORDER_ROUTES:
            ORDERS.labels(order_outcome(status)).inc()
        if self.access_log:
            access_log.info(
                "%s %s %s %.1f ms",
                self.method,
                self.path,
                status,
                seconds * 1000,
                extra={"status": status, "duration_ms": round(seconds * 1000, 2)},
            )


async def stamp_response(message: Message, scope: Scope) -> None:
    """`before_send` hook for the answers that bypass `RequestMiddleware`'s `send`: an error
    raised by a middleware below it (the input guard's 422, 404 or 413) is answered by
    Litestar's exception handler after the middleware has returned, through the app's own
    `send`. Those answers get their `X-Request-ID` here, and their access line and metrics
    with the status actually sent (they were logged and counted as 500s)."""
    if message["type"] != "http.response.start":
        return
    answer = scope.get(_ANSWER)  # type: ignore[call-overload]
    if not isinstance(answer, _Answer) or answer.recorded:
        return
    headers = MutableScopeHeaders.from_message(message)
    if "x-request-id" not in headers:
        headers.add("x-request-id", answer.rid)
    if not answer.pending:
        return  # the middleware's own `send` saw this answer; it records it when it returns
    answer.status = int(message["status"])
    token = request_id_var.set(answer.rid)
    try:
        answer.record()
    finally:
        request_id_var.reset(token)


class RequestMiddleware:
    """Request id, access log and metrics for every HTTP request; counts open sockets."""

    def __init__(self, app: ASGIApp, access_log: bool = True) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.WEBSOCKET:
            WEBSOCKETS.inc()
            try:
                await self.app(scope, receive, send)
            finally:
                WEBSOCKETS.dec()
            return
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        rid = given if _REQUEST_ID.match(given) else os.urandom(8).hex()
        token = request_id_var.set(rid)
        answer = _Answer(scope, rid, self.access_log)
        scope[_ANSWER] = answer  # type: ignore[literal-required]

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer.status = int(message["status"])
                answer.started = True
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        answered = False
        try:
            await self.app(scope, receive, send_with_id)
            answered = True
        finally:
            answer.route = str(scope.get("path_template") or "unmatched")
            if answered or answer.started:
                answer.record()
            else:
                # an exception is on its way to Litestar's handler, whose answer
                # `stamp_response` records with its real status
                answer.pending = True
            request_id_var.reset(token)


async def database_ok(app: Litestar) -> str:
    try:
        async with asyncio.timeout(PROBE_TIMEOUT * 2):
            async with app_services(app).engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        return "ok"
    except Exception as exc:
        return f"unreachable: {type(exc).__name__}"


async def redis_ok(app: Litestar) -> str:
    client = app_services(app).ops_redis
    if client is None:
        return "not configured"
    try:
        async with asyncio.timeout(PROBE_TIMEOUT):
            await client.ping()
        return "ok"
    except (*REDIS_DOWN, TimeoutError) as exc:
        return f"unreachable: {type(exc).__name__}"


@get("/ready", include_in_schema=False)
async def ready(request: Request[Any, Any, Any]) -> Response[dict[str, str]]:
    """Readiness: the database and Redis answer (503 and what is down otherwise)."""
    checks = {"database": await database_ok(request.app), "redis": await redis_ok(request.app)}
    good = all(v in ("ok", "not configured") for v in checks.values())
    body = {"status": "ready" if good else "not ready", **checks}
    return Response(body, status_code=200 if good else 503)


@get("/metrics", include_in_schema=False, sync_to_thread=False)
def metrics() -> Response[bytes]:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


class RedisMonitor:
    """Pings Redis every second; tells the live pages when it goes away and comes back."""

    def __init__(self, app: Litestar) -> None:
        self.app = app
        self.up = True

    async def run(self) -> None:
        while True:
            up = await redis_ok(self.app) == "ok"
            if up != self.up:
                self.up = up
                REDIS_UP.set(1 if up else 0)
                try:
                    await self._announce(up)
                except Exception:
                    log.exception("announcing the Redis state failed")
            await asyncio.sleep(PROBE_SECONDS)

    async def _announce(self, up: bool) -> None:
        from web.live.hub import LiveUpdate
        from web.live.render import load_live_state

        services = app_services(self.app)
        hub = services.live_hub
        if hub is None:
            return
        if not up:
            log.warning("Redis unreachable: live updates paused")
            hub.dispatch(LiveUpdate("live_paused", {"type": "live_paused"}))
            return
        log.info("Redis reachable again: live updates resume")
        async with services.session_factory() as session:
            state = await load_live_state(session, services.clock)
        hub.dispatch(LiveUpdate("live_resumed", {"type": "live_resumed"}, state))


@asynccontextmanager
async def ops_lifespan(app: Litestar) -> AsyncIterator[None]:
    services = app_services(app)
    task = None
    REDIS_UP.set(1)
    if services.settings.redis_url:
        from redis.asyncio import Redis

        services.ops_redis = Redis.from_url(
            services.settings.redis_url,
            socket_connect_timeout=PROBE_TIMEOUT,
            socket_timeout=PROBE_TIMEOUT,
        )
        task = asyncio.create_task(RedisMonitor(app).run(), name="klaster-redis-monitor")
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            if services.ops_redis is not None:
                await services.ops_redis.aclose()


class OpsPlugin(InitPluginProtocol):
    """Registers everything above on an app (one line in `web.app.create_app`)."""

    def __init__(self, settings: Settings, *, logging_setup: bool = True) -> None:
        self.settings = settings
        self.logging_setup = logging_setup

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        fmt = log_format(self.settings)
        if self.logging_setup:
            fmt = configure_logging(self.settings)
            # Litestar's own config would put its handler on the root logger, over ours.
            quiet = {"class": "logging.NullHandler"}
            app_config.logging_config = LoggingConfig(
                configure_root_logger=False,
                handlers={"console": quiet, "queue_listener": quiet},
                loggers={"litestar": {"level": "INFO", "handlers": [], "propagate": True}},
                log_exceptions="never",  # web.errors logs server errors once
            )
        # default: on for JSON logs (production), off in a terminal (demo)
        on = self.settings.access_log
        access_log = fmt == "json" if on is None else on
        app_config.route_handlers = [*app_config.route_handlers, ready, metrics]
        app_config.before_send = [*app_config.before_send, stamp_response]
        app_config.middleware = [
            DefineMiddleware(RequestMiddleware, access_log=access_log),
            *app_config.middleware,
        ]
        app_config.lifespan = [*app_config.lifespan, ops_lifespan]
        if isinstance(app_config.stores, dict):
            app_config.stores = {
                name: FailoverStore(store) if isinstance(store, RedisStore) else store
                for name, store in app_config.stores.items()
            }
        return app_config
