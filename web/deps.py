"""Dependencies shared by the controllers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from litestar import Request
from litestar.datastructures import State
from sqlalchemy.ext.asyncio import AsyncSession

from market.core.clock import Clock
from market.core.events import Publisher


async def provide_db(state: State) -> AsyncIterator[AsyncSession]:
    """One session per request; the service it is handed to commits or rolls back."""
    async with state.session_factory() as session:
        yield session


def provide_clock(state: State) -> Clock:
    return state.clock  # type: ignore[no-any-return]


def provide_publisher(state: State) -> Publisher:
    return state.publisher  # type: ignore[no-any-return]


def provide_actor(request: Request[Any, Any, Any]) -> Any:
    return request.scope.get("user")
