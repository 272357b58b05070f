"""What the app runs with: the web knobs (`WebConfig`, taken from `market.core.settings`) and
the services built from them at start-up (`AppServices`, stored once as `app.state.services`).

Web knobs, all read by `Settings.from_env` (docs/configuration.md):

- `KLASTER_SECURE_COOKIES` (default `1`): `Secure` flag on the session and CSRF cookies;
  `0` only for plain-http local use (`klaster demo` defaults it to 0).
- `KLASTER_SIGNIN_RATE` (`10/minute`): sign-in attempts per client address.
- `KLASTER_ORDER_RATE` (`20/second`): order submissions per member (pages and API).
- `KLASTER_CHANNEL_PREFIX` (empty): prefix of the live channel names (`orderbook`, …) and of
  the Redis namespace of sessions and rate counters; lets several test runs or clusters share
  one Redis. `klaster worker` publishes with the same prefix.
- `KLASTER_SESSION_DAYS` (`7`): session lifetime.
- `KLASTER_SIGNIN_ACCOUNT_RATE` (`30/hour`): sign-in attempts per account, from any address.
- `KLASTER_TOKEN_DAYS` (`90`): how long a new API token works.
- `KLASTER_TRUSTED_PROXIES` (empty): peers whose `X-Forwarded-For` names the client.
- `KLASTER_SITE_ORIGIN` (empty: the request's own host): origins allowed to open WebSockets.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from market.core.settings import DurationUnit, Settings

if TYPE_CHECKING:
    from litestar import Litestar
    from litestar.channels import ChannelsPlugin
    from litestar.datastructures import State
    from redis.asyncio import Redis
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

    from market.core.clock import Clock
    from market.trading.halt import HaltState
    from web.api.intake import OrderIntake
    from web.auth import TokenCache
    from web.live.hub import ChannelsPublisher, LiveHub
    from web.ratelimit import Counters, RateLimit


#: The channel (after `channel_prefix`) on which committed credential changes are announced
#: to every app process (`web.auth.CredentialRelay`).
ACCESS_CHANNEL = "access"
#: The CSRF cookie's name (Litestar's default), tied to the session at sign-in.
CSRF_COOKIE = "csrftoken"


@dataclass(frozen=True, slots=True)
class WebConfig:
    secure_cookies: bool = True
    signin_rate: tuple[DurationUnit, int] = ("minute", 10)
    order_rate: tuple[DurationUnit, int] = ("second", 20)
    channel_prefix: str = ""
    session_days: int = 7
    signin_account_rate: tuple[DurationUnit, int] = ("hour", 30)
    token_days: int = 90
    trusted_proxies: frozenset[str] = frozenset()
    site_origins: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls, settings: Settings) -> WebConfig:
        return cls(
            secure_cookies=settings.secure_cookies,
            signin_rate=settings.signin_rate,
            order_rate=settings.order_rate,
            channel_prefix=settings.channel_prefix,
            session_days=settings.session_days,
            signin_account_rate=settings.signin_account_rate,
            token_days=settings.token_days,
            trusted_proxies=settings.trusted_proxies,
            site_origins=settings.site_origins,
        )


class HaltCache:
    """The market's halt as the pages' banner shows it: read from the database at most once
    every `ttl_s` seconds per process (not a query per page), set at once by a halt or resume
    made in this process."""

    def __init__(self, ttl_s: float = 5.0) -> None:
        self.ttl_s = ttl_s
        self._state: HaltState | None = None
        self._read_at = 0.0

    async def current(self, sessions: async_sessionmaker[AsyncSession]) -> HaltState:
        from sqlalchemy.exc import SQLAlchemyError

        from market.trading.halt import HaltState, halt_state

        if self._state is None or time.monotonic() - self._read_at > self.ttl_s:
            try:
                async with sessions() as session:
                    self.set(await halt_state(session))
            except (SQLAlchemyError, OSError):
                # The banner never fails a page: with the database away, keep what was last
                # known (or "trading") and try again after `ttl_s`; a page that needs the
                # database answers 503 by itself.
                self.set(self._state or HaltState())
        assert self._state is not None
        return self._state

    def set(self, state: HaltState) -> None:
        self._state = state
        self._read_at = time.monotonic()


@dataclass(slots=True, eq=False)
class AppServices:
    """Everything the handlers, middleware and lifespans share, built by `create_app`.
    `live_hub` and `ops_redis` are filled in by the lifespans that start them."""

    settings: Settings
    web_config: WebConfig
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    clock: Clock
    publisher: ChannelsPublisher
    intake: OrderIntake
    channels_plugin: ChannelsPlugin
    token_cache: TokenCache
    signin_limit: RateLimit
    order_limit: RateLimit
    signin_account_limit: RateLimit
    rate_counters: Counters
    live_hub: LiveHub | None = None
    halt: HaltCache = field(default_factory=HaltCache)
    ops_redis: Redis | None = None

    def rate_limit(self, name: str) -> RateLimit:
        """The limit a handler names in `rate_limited(...)`."""
        limits = {
            "signin_limit": self.signin_limit,
            "order_limit": self.order_limit,
            "signin_account_limit": self.signin_account_limit,
        }
        return limits[name]


def services_in(state: State) -> AppServices:
    """The services in an app's state (`app.state.services`, set once by `create_app`)."""
    services: Any = state.services
    assert isinstance(services, AppServices)
    return services


def app_services(app: Litestar) -> AppServices:
    return services_in(app.state)
