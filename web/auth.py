"""Who is asking: server-side session for the pages, bearer tokens for programs.

The middleware never refuses a request; it puts the `Actor` (or None) in `scope["user"]`.
Guards refuse: no actor → 401 (pages redirect to the sign-in form), wrong role → 403.
API paths (`/api/...`) authenticate by `Authorization: Bearer <token>` only, so a cookie can
never act on the API and the API needs no CSRF token; the pages and the live socket use the
session cookie.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from litestar.enums import ScopeType
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from market.core.errors import KlasterError
from web.config import app_services

if TYPE_CHECKING:
    from litestar.connection import ASGIConnection
    from litestar.handlers.base import BaseRouteHandler

    from market.access.actor import Actor

SESSION_KEY = "actor"
API_PREFIX = "/api/"
TOKEN_CACHE_SECONDS = 30.0
TOKEN_CACHE_SIZE = 4096


def actor_to_session(actor: Actor) -> dict[str, Any]:
    return {"member_id": actor.member_id, "role": str(actor.role), "name": actor.name}


def actor_from_session(data: Any) -> Actor | None:
    from market.access.actor import Actor

    if not isinstance(data, dict):
        return None
    try:
        return Actor(member_id=int(data["member_id"]), role=data["role"], name=data["name"])
    except (KeyError, TypeError, ValueError):
        return None


class TokenCache:
    """Bearer token → Actor for a few seconds, so the API does not look every token up on
    every request (a revoked token stops working within `TOKEN_CACHE_SECONDS`)."""

    def __init__(self) -> None:
        self._items: OrderedDict[str, tuple[float, Actor]] = OrderedDict()

    def get(self, token: str) -> Actor | None:
        item = self._items.get(token)
        if item is None or item[0] < time.monotonic():
            return None
        return item[1]

    def put(self, token: str, actor: Actor) -> None:
        self._items[token] = (time.monotonic() + TOKEN_CACHE_SECONDS, actor)
        self._items.move_to_end(token)
        while len(self._items) > TOKEN_CACHE_SIZE:
            self._items.popitem(last=False)


def bearer_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    header = connection.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    # Browsers cannot set headers on a WebSocket; programs may pass the token as a parameter.
    if connection.scope["type"] == ScopeType.WEBSOCKET:
        return connection.query_params.get("token") or None
    return None


class ActorMiddleware(AbstractAuthenticationMiddleware):
    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        token = bearer_token(connection)
        if token is not None:
            return AuthenticationResult(
                user=await self._from_token(connection, token), auth="token"
            )
        if connection.scope["path"].startswith(API_PREFIX):
            return AuthenticationResult(user=None, auth=None)
        session = connection.scope.get("session")
        data = session.get(SESSION_KEY) if isinstance(session, dict) else None
        return AuthenticationResult(user=actor_from_session(data), auth="session")

    async def _from_token(
        self, connection: ASGIConnection[Any, Any, Any, Any], token: str
    ) -> Actor | None:
        from market.access.auth import authenticate_token
        from market.db.engine import unit_of_work

        services = app_services(connection.app)
        cache = services.token_cache
        actor = cache.get(token)
        if actor is not None:
            return actor
        try:
            async with unit_of_work(services.session_factory) as session:
                actor = await authenticate_token(session, token)
        except KlasterError:
            return None
        cache.put(token, actor)
        return actor


async def signed_in(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    # async on purpose: Litestar runs a sync guard in a worker thread, a hop per request
    if connection.scope.get("user") is None:
        raise NotAuthorizedException("sign in first")


Guard = Callable[["ASGIConnection[Any, Any, Any, Any]", "BaseRouteHandler"], Awaitable[None]]


def requires_role(*roles: str) -> Guard:
    """Guard: the actor must hold one of `roles` (403 otherwise, 401 when not signed in)."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        actor = connection.scope.get("user")
        if actor is None:
            raise NotAuthorizedException("sign in first")
        if str(actor.role) not in roles:
            raise PermissionDeniedException(f"this page is for: {', '.join(roles)}")

    guard.__name__ = f"requires_{'_or_'.join(roles)}"
    return guard
