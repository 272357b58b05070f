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
from market.db.engine import unit_of_work

#: The request's database session (its unit of work).
Db = NamedDependency[AsyncSession]
# Protocols cannot be validated by Litestar's signature model (nor need to be: the app
# provides these, they do not come from the request).
#: The market clock (the demo runs a fast one).
ClockDep = NamedDependency[SkipValidation[Clock]]
#: Where market events go (channels: in-process or Redis).
PublisherDep = NamedDependency[SkipValidation[Publisher]]
#: The signed-in member (guards have checked it is there).
CurrentActor = NamedDependency[SkipValidation[Actor]]


async def provide_db(state: State) -> AsyncIterator[AsyncSession]:
    """One session per request: committed when the handler returns, rolled back when it
    raises."""
    async with unit_of_work(state.session_factory) as session:
        yield session


def provide_clock(state: State) -> Clock:
    return state.clock  # type: ignore[no-any-return]


def provide_publisher(state: State) -> Publisher:
    return state.publisher  # type: ignore[no-any-return]


def provide_actor(request: Request[Any, Any, Any]) -> Actor:
    return request.scope.get("user")  # type: ignore[return-value]
