"""Runtime settings: one dataclass read from the environment, cached by `get_settings()`.

This is the only module that reads `os.environ`: everything else takes a `Settings` (or the
values it needs from one) from its caller. Every variable is described, with its default, in
docs/configuration.md. Tests that change the environment call `get_settings.cache_clear()`.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal

#: The cluster's time zone unless a caller names another: local days, interval numbers,
#: every time shown to people.
DEFAULT_TIMEZONE = "Europe/Warsaw"

DurationUnit = Literal["second", "minute", "hour", "day"]
LogFormat = Literal["auto", "json", "text"]
_UNITS: tuple[DurationUnit, ...] = ("second", "minute", "hour", "day")
_LOG_FORMATS: tuple[LogFormat, ...] = ("auto", "json", "text")
_FALSE = ("0", "false", "no")


#: The BLAS libraries' thread settings `pin_blas_threads` sets.
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def pin_blas_threads() -> None:
    """One BLAS thread in this process and those it starts, unless the environment says
    otherwise; called before anything imports numpy (`web.cli`, `klaster clear`). The
    clearing's dense solves then do the same float operations whatever the machine's core
    count or load (and on 2 cores one thread was also faster)."""
    for name in BLAS_THREAD_VARIABLES:
        os.environ.setdefault(name, "1")


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number (got {raw!r})") from None


def parse_rate(text: str, name: str) -> tuple[DurationUnit, int]:
    """`"10/minute"` → `("minute", 10)`."""
    count, _, unit = text.partition("/")
    for known in _UNITS:
        if unit == known and count.strip().isdigit():
            return known, int(count)
    raise ValueError(f"{name} must look like 10/minute (got {text!r})")


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{name} must be a whole number of at least 1 (got {raw!r})")
    return int(raw)


def _words(raw: str) -> frozenset[str]:
    """`"a, b c"` → {"a", "b", "c"}: lists in one variable, comma or space separated."""
    return frozenset(w for w in raw.replace(",", " ").split() if w)


def _log_format(raw: str) -> LogFormat:
    wanted = (raw or "auto").lower()
    for known in _LOG_FORMATS:
        if wanted == known:
            return known
    raise ValueError(f"KLASTER_LOG_FORMAT must be auto, json or text (got {wanted!r})")


def _port(raw: str) -> int | None:
    if not raw:
        return None
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ValueError(f"KLASTER_METRICS_PORT must be a port number (got {raw!r})")
    return int(raw)


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path
    database_url: str
    redis_url: str | None = None
    secret_key: str = field(default="", repr=False)
    #: True when no KLASTER_SECRET_KEY was given and a random one was generated.
    secret_generated: bool = False
    #: Market time runs this many times faster than real time (1 = real time).
    demo_speed: float = 1.0
    #: Seconds (real time) between scheduler passes.
    tick_seconds: float = 1.0
    #: Seconds a worker may hold a clearing claim before another may take over.
    clearing_lease_seconds: float = 300.0
    #: Run a day-ahead day's heavy steps (placing its daily orders, closing its gate,
    #: clearing and storing it) in a worker process, so the event loop never waits for them
    #: (KLASTER_DAY_AHEAD_PROCESS=0: in the scheduler's own process).
    day_ahead_process: bool = True
    sql_echo: bool = False
    #: The cluster's time zone (IANA name): local days and every time shown.
    timezone: str = DEFAULT_TIMEZONE
    #: Prefix of the live channel names and of the Redis namespace (web and worker alike).
    channel_prefix: str = ""
    #: `Secure` flag on the session and CSRF cookies (0 only for plain-http local use).
    secure_cookies: bool = True
    signin_rate: tuple[DurationUnit, int] = ("minute", 10)
    order_rate: tuple[DurationUnit, int] = ("second", 20)
    session_days: int = 7
    #: Sign-in attempts per account (whatever the address), as `signin_rate` is per address.
    signin_account_rate: tuple[DurationUnit, int] = ("hour", 30)
    #: Days an API token works after it is issued.
    token_days: int = 90
    #: Peers whose `X-Forwarded-For` is believed (addresses; `*`: any peer). Empty: none.
    trusted_proxies: frozenset[str] = frozenset()
    #: Origins (`https://host[:port]`) allowed to open the WebSockets; empty: the request's host.
    site_origins: frozenset[str] = frozenset()
    log_format: LogFormat = "auto"
    log_level: str = "INFO"
    #: One access-log line per request; None: on for JSON logs, off for text.
    access_log: bool | None = None
    #: Where `klaster worker` serves /metrics (None: nowhere).
    metrics_port: int | None = None
    #: `klaster serve --scheduler`: the web process runs the scheduler too.
    in_process_scheduler: bool = False
    #: `klaster watch`'s credentials (a terminal client, never set for servers).
    client_token: str | None = field(default=None, repr=False)
    client_password: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, defaults: Mapping[str, str] | None = None
    ) -> Settings:
        """From `env` (default: the process environment); `defaults` fill in variables it
        does not set (`klaster demo`'s fast clock and plain-http cookies)."""
        env = {**(defaults or {}), **(os.environ if env is None else env)}
        data_dir = Path(env.get("KLASTER_DATA_DIR") or "./data").expanduser()
        url = env.get("DATABASE_URL") or f"sqlite+aiosqlite:///{(data_dir / 'klaster.db')}"
        url = normalise_database_url(url)
        secret = env.get("KLASTER_SECRET_KEY") or ""
        speed = _float(env, "KLASTER_DEMO_SPEED", 1.0)
        if speed <= 0:
            raise ValueError("KLASTER_DEMO_SPEED must be greater than 0")
        access = env.get("KLASTER_ACCESS_LOG") or ""
        return cls(
            data_dir=data_dir,
            database_url=url,
            redis_url=env.get("REDIS_URL") or None,
            secret_key=secret or secrets.token_urlsafe(32),
            secret_generated=not secret,
            demo_speed=speed,
            tick_seconds=_float(env, "KLASTER_TICK_SECONDS", 1.0),
            clearing_lease_seconds=_float(env, "KLASTER_CLEARING_LEASE_SECONDS", 300.0),
            day_ahead_process=env.get("KLASTER_DAY_AHEAD_PROCESS", "1") not in _FALSE,
            sql_echo=env.get("KLASTER_SQL_ECHO", "") not in ("", *_FALSE),
            channel_prefix=env.get("KLASTER_CHANNEL_PREFIX", ""),
            secure_cookies=env.get("KLASTER_SECURE_COOKIES", "1") not in _FALSE,
            signin_rate=parse_rate(
                env.get("KLASTER_SIGNIN_RATE", "10/minute"), "KLASTER_SIGNIN_RATE"
            ),
            order_rate=parse_rate(env.get("KLASTER_ORDER_RATE", "20/second"), "KLASTER_ORDER_RATE"),
            session_days=int(env.get("KLASTER_SESSION_DAYS", "7")),
            signin_account_rate=parse_rate(
                env.get("KLASTER_SIGNIN_ACCOUNT_RATE", "30/hour"), "KLASTER_SIGNIN_ACCOUNT_RATE"
            ),
            token_days=_positive_int(env, "KLASTER_TOKEN_DAYS", 90),
            trusted_proxies=_words(env.get("KLASTER_TRUSTED_PROXIES", "")),
            site_origins=frozenset(
                o.rstrip("/").lower() for o in _words(env.get("KLASTER_SITE_ORIGIN", ""))
            ),
            log_format=_log_format(env.get("KLASTER_LOG_FORMAT", "")),
            log_level=(env.get("KLASTER_LOG_LEVEL") or "INFO").upper(),
            access_log=None if access == "" else access not in _FALSE,
            metrics_port=_port(env.get("KLASTER_METRICS_PORT") or ""),
            in_process_scheduler=env.get("KLASTER_IN_PROCESS_SCHEDULER") == "1",
            client_token=env.get("KLASTER_TOKEN") or None,
            client_password=env.get("KLASTER_PASSWORD") or None,
        )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def normalise_database_url(url: str) -> str:
    """Use the async drivers: `postgresql://` → asyncpg, `sqlite://` → aiosqlite."""
    for plain, driver in (
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()
