"""Dependencies shared by the controllers, and their typed names.

A handler declares what it needs by these aliases (`db: Db`, `actor: CurrentActor`, ...);
they are provided once for the whole app (`web.routes.DEPENDENCIES`).

The request is the unit of work: `provide_db` hands out one session, commits it when the
handler returns normally and rolls it back when the handler raises (the error handler then
answers 4xx). Services never commit on their own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import SkipValidation
from sqlalchemy.ext.asyncio import AsyncSession

from market.access.actor import Actor
from market.core.clock import Clock
from market.core.events import Publisher
from market.core.settings import Settings
from market.db.engine import unit_of_work
from web.config import services_in

#: The request's database session (its unit of work).
Db = NamedDependency[AsyncSession]
# Clock and Publisher are protocols, which the signature model cannot check an instance
# against: their values are passed through unvalidated.
#: The market clock (the demo runs a fast one).
ClockDep = NamedDependency[SkipValidation[Clock]]
#: Where market events go (channels: in-process or Redis).
PublisherDep = NamedDependency[SkipValidation[Publisher]]
#: The signed-in member (guards have checked it is there).
CurrentActor = NamedDependency[SkipValidation[Actor]]
#: The settings the app was built with (the cluster's time zone, ...).
SettingsDep = NamedDependency[Settings]


async def provide_db(state: State) -> AsyncIterator[AsyncSession]:
    """One session per request: committed when the handler returns, rolled back when it
    raises."""
    async with unit_of_work(services_in(state).session_factory) as session:
        yield session


def provide_clock(state: State) -> Clock:
    return services_in(state).clock


def provide_publisher(state: State) -> Publisher:
    return services_in(state).publisher


def provide_settings(state: State) -> Settings:
    return services_in(state).settings


def provide_actor(request: Request[Any, Any, Any]) -> Actor:
    actor: Actor = request.scope.get("user")
    return actor
