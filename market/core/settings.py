"""Runtime settings: one dataclass read from the environment, cached by `get_settings()`."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path


def _float(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number (got {raw!r})") from None


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
    sql_echo: bool = False

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        data_dir = Path(env.get("KLASTER_DATA_DIR") or "./data").expanduser()
        url = env.get("DATABASE_URL") or f"sqlite+aiosqlite:///{(data_dir / 'klaster.db')}"
        url = normalise_database_url(url)
        secret = env.get("KLASTER_SECRET_KEY") or ""
        speed = _float(env, "KLASTER_DEMO_SPEED", 1.0)
        if speed <= 0:
            raise ValueError("KLASTER_DEMO_SPEED must be greater than 0")
        return cls(
            data_dir=data_dir,
            database_url=url,
            redis_url=env.get("REDIS_URL") or None,
            secret_key=secret or secrets.token_urlsafe(32),
            secret_generated=not secret,
            demo_speed=speed,
            tick_seconds=_float(env, "KLASTER_TICK_SECONDS", 1.0),
            clearing_lease_seconds=_float(env, "KLASTER_CLEARING_LEASE_SECONDS", 300.0),
            sql_echo=env.get("KLASTER_SQL_ECHO", "") not in ("", "0", "false"),
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
