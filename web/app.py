"""The Litestar application factory (`uvicorn --factory web.app:create_app`)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import html
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from functools import partial
from typing import Any

from litestar import Litestar, Request, get
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import MutableScopeHeaders, State
from litestar.middleware.base import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import OpenAPIRenderPlugin
from litestar.plugins.htmx import HTMXPlugin, HTMXRequest
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.stores.base import Store
from litestar.stores.memory import MemoryStore
from litestar.template.config import TemplateConfig
from litestar.types import Message, Scope

from market.access.actor import Actor
from market.core.clock import Clock, clock_for_speed
from market.core.settings import Settings, get_settings
from market.db.engine import create_engine, session_factory
from web.api.intake import OrderIntake
from web.auth import (
    SESSION_COOKIE,
    ActorMiddleware,
    CredentialRelay,
    SessionConfig,
    TokenCache,
    client_address,
)
from web.config import CSRF_COOKIE, AppServices, WebConfig, app_services
from web.errors import EXCEPTION_HANDLERS
from web.input_guard import input_guard
from web.live.hub import ChannelsPublisher, LiveHub, make_channels_plugin
from web.ops import OpsPlugin
from web.ratelimit import MemoryCounters, RateLimit, RedisCounters
from web.ui.templating import STATIC_DIR, TEMPLATE_DIR, configure

log = logging.getLogger("klaster.web")


def _stores(settings: Settings, config: WebConfig) -> dict[str, Store]:
    """Sessions: per process in memory, shared through Redis."""
    if settings.redis_url:
        from litestar.stores.redis import RedisStore

        root = RedisStore.with_client(
            url=settings.redis_url, namespace=f"klaster{config.channel_prefix}"
        )
        return {"sessions": root.with_namespace("sessions")}
    return {"sessions": MemoryStore()}


def _rate_counters(settings: Settings, config: WebConfig) -> MemoryCounters | RedisCounters:
    """Rate-limit counters: per process in memory, shared through Redis."""
    if settings.redis_url:
        return RedisCounters(settings.redis_url, f"klaster{config.channel_prefix}rate:")
    return MemoryCounters()


def rate_limits(config: WebConfig) -> tuple[RateLimit, RateLimit, RateLimit]:
    """Sign-in is limited per client address and per account, order submission per member
    (or address). The address is the peer's; `X-Forwarded-For` only from trusted proxies."""

    def address(scope: Scope) -> str:
        return client_address(scope, config.trusted_proxies)

    def member(scope: Scope) -> str:
        actor = scope.get("user")
        return f"m{actor.member_id}" if isinstance(actor, Actor) else address(scope)

    unit, limit = config.signin_rate
    signin = RateLimit("signin", limit, unit, address)
    unit, limit = config.order_rate
    orders = RateLimit("orders", limit, unit, member)
    unit, limit = config.signin_account_rate
    # keyed by the login the handler reads from the body (`web.auth.throttle_account`)
    account = RateLimit("signin_account", limit, unit, address)
    return signin, orders, account


#: Sent with every response (deploy/Caddyfile and deploy/nginx.conf send the same). Scripts
#: only from our own files (no inline script anywhere, `tests/web/test_headers.py`); inline
#: *styles* stay allowed: the bar widths in the live tables are style attributes.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
)


async def security_headers(message: Message, scope: Scope) -> None:
    """`before_send` hook: the `SECURITY_HEADERS` on every HTTP response (unless a handler
    set one) — the router's own 404 and 405 too, which no middleware sees — and
    `Cache-Control: no-store` outside /static/: pages and API answers carry personal data
    (statements, orders, tokens), which no browser or proxy cache may keep."""
    if message["type"] != "http.response.start":
        return
    headers = MutableScopeHeaders.from_message(message)
    for name, value in SECURITY_HEADERS:
        if name.decode() not in headers:
            headers.add(name.decode(), value.decode())
    if not str(scope.get("path", "")).startswith("/static/"):
        headers["cache-control"] = "no-store"


#: Swagger UI, vendored (web/static/README.md): /schema works without internet.
SWAGGER_VERSION = "5.35.0"


class OfflineSwaggerPlugin(OpenAPIRenderPlugin):
    """Swagger UI at /schema from our static files; its start-up is a static script too
    (web/static/swagger-init.js), so the page needs no inline script and no other origin."""

    def __init__(self) -> None:
        super().__init__(path=["/", "/swagger"], favicon='<link rel="icon" href="data:,">')

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        title = html.escape(str(openapi_schema["info"]["title"]))
        spec = html.escape(self.get_openapi_json_route(request))
        return (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{title}</title>{self.favicon}"
            f'<link rel="stylesheet" href="/static/swagger-ui-{SWAGGER_VERSION}.css">'
            f'</head><body><div id="swagger-ui" data-spec-url="{spec}"></div>'
            f'<script src="/static/swagger-ui-bundle-{SWAGGER_VERSION}.js"></script>'
            '<script src="/static/swagger-init.js"></script></body></html>'
        ).encode()


@get("/health", include_in_schema=False, sync_to_thread=False)
def health() -> dict[str, str]:
    return {"status": "ok"}


def create_app(
    settings: Settings | None = None,
    *,
    config: WebConfig | None = None,
    clock: Clock | None = None,
    scheduler: bool = False,
) -> Litestar:
    """Build the app. `scheduler=True` runs the gate-closure scheduler in this process (the
    embedded demo); production runs `klaster worker` instead."""
    from web.routes import DEPENDENCIES, route_handlers

    settings = settings or get_settings()
    config = config or WebConfig.from_settings(settings)
    clock = clock or clock_for_speed(settings.demo_speed)
    engine = create_engine(settings.database_url, echo=settings.sql_echo, **_pool_options(settings))
    sessions = session_factory(engine)
    channels = make_channels_plugin(settings, config)
    publisher = ChannelsPublisher(channels, config.channel_prefix)
    signin_limit, order_limit, account_limit = rate_limits(config)
    counters = _rate_counters(settings, config)
    intake = OrderIntake(sessions, clock, publisher)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        from web.live.render import make_hub

        hub: LiveHub = make_hub(app)
        services.live_hub = hub
        await hub.start()
        await relay.start()
        await intake.start()
        task = None
        if scheduler:
            from market.clearing.scheduler import Scheduler, default_worker_id
            from market.db.offload import ProcessOffload

            task = asyncio.create_task(
                Scheduler(
                    sessions,
                    clock,
                    publisher,
                    worker_id=f"web:{default_worker_id()}",  # unique per app process
                    tick_seconds=settings.tick_seconds,
                    lease_seconds=settings.clearing_lease_seconds,
                    day_ahead=True,
                    offload=ProcessOffload() if settings.day_ahead_process else None,
                ).run(),
                name="scheduler",
            )
        # Everything loaded so far (modules, mappers, routes, templates) lives as long as the
        # process: move it out of the collector's view. A full collection otherwise walks that
        # whole heap and stops the event loop for ~100 ms — every request in flight waits.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await intake.stop()
            await relay.stop()
            await hub.stop()
            jobs = app.state.get("storage_effect_jobs")
            if jobs is not None:
                await jobs.stop()
            if isinstance(counters, RedisCounters):
                await counters.aclose()
            await engine.dispose()

    session_config = SessionConfig(
        key=SESSION_COOKIE,
        secure=config.secure_cookies,
        httponly=True,
        samesite="lax",
        max_age=int(timedelta(days=config.session_days).total_seconds()),
        # The API authenticates by bearer token only: no session to load or save there.
        exclude=["^/api/", "^/static/", "^/health"],
    )
    csrf = CSRFConfig(
        secret=settings.secret_key,
        cookie_name=CSRF_COOKIE,
        cookie_secure=config.secure_cookies,
        cookie_samesite="lax",
        # The API takes bearer tokens only (never cookies), and sockets carry no forms.
        exclude=["/api/", "/ws/", "/schema"],
    )
    services = AppServices(
        settings=settings,
        web_config=config,
        engine=engine,
        session_factory=sessions,
        clock=clock,
        publisher=publisher,
        intake=intake,
        channels_plugin=channels,
        token_cache=TokenCache(),
        signin_limit=signin_limit,
        order_limit=order_limit,
        signin_account_limit=account_limit,
        rate_counters=counters,
    )
    relay = CredentialRelay(services)
    return Litestar(
        route_handlers=[
            *route_handlers(),
            health,
            create_static_files_router(path="/static", directories=[STATIC_DIR], name="static"),
        ],
        state=State({"services": services}),
        dependencies=DEPENDENCIES,
        request_class=HTMXRequest,
        plugins=[HTMXPlugin(), channels, OpsPlugin(settings)],
        stores=_stores(settings, config),
        before_send=[security_headers],
        before_request=_halt_banner,
        middleware=[
            input_guard,
            session_config.middleware,
            DefineMiddleware(ActorMiddleware, exclude=["^/static/", "^/health"]),
        ],
        csrf_config=csrf,
        template_config=TemplateConfig(
            directory=TEMPLATE_DIR,
            engine=JinjaTemplateEngine,
            engine_callback=partial(configure, timezone=settings.timezone),
        ),
        openapi_config=OpenAPIConfig(
            title="Klaster API",
            version="1",
            path="/schema",
            description=(
                "Local energy market of a Polish energy cluster. Authenticate with "
                "`Authorization: Bearer <token>` (POST /api/v1/auth/token). Errors are "
                '`{"error", "field", "message", "message_id", "params"}`: `message_id` is the '
                "English text with `%(name)s` placeholders, `params` its values. A field a body "
                "does not take is refused (422 naming it), not ignored; so is a query parameter an "
                "endpoint does not take. Responses carry `Cache-Control: no-store`."
            ),
            render_plugins=[OfflineSwaggerPlugin()],
        ),
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=[lifespan],
    )


async def _halt_banner(request: Request[Any, Any, Any]) -> None:
    """The market's halt for the banner of every page (`request.state.market_halt`), from
    the per-process cache (web.config.HaltCache); API calls, static files and the health
    check skip it."""
    if request.scope["path"].startswith(("/api/", "/static/", "/health", "/ready", "/metrics")):
        return
    services = app_services(request.app)
    request.state.market_halt = await services.halt.current(services.session_factory)


def _pool_options(settings: Settings) -> dict[str, Any]:
    """SQLite: keep a few connections open instead of opening one (and setting its pragmas)
    per request, which cost ~10 ms a request; WAL lets readers run beside the one writer."""
    if not settings.is_sqlite:
        return {}
    from sqlalchemy.pool import AsyncAdaptedQueuePool

    return {"poolclass": AsyncAdaptedQueuePool, "pool_size": 4, "max_overflow": 4}


def create_app_from_env() -> Litestar:
    """Factory for `uvicorn --factory` (`klaster serve`): everything from the environment;
    `KLASTER_IN_PROCESS_SCHEDULER=1` also runs the scheduler here."""
    settings = get_settings()
    return create_app(settings, scheduler=settings.in_process_scheduler)


def create_app_with_scheduler() -> Litestar:
    """Factory for `klaster serve --scheduler`: the scheduler runs in this process."""
    return create_app(get_settings(), scheduler=True)
