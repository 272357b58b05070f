"""Who is asking: server-side session for the pages, bearer tokens for programs.

The middleware never refuses a request; it puts the `Actor` (or None) in `scope["user"]`.
Guards refuse: no actor → 401 (pages redirect to the sign-in form), wrong role → 403.
API paths (`/api/...`) authenticate by `Authorization: Bearer <token>` only, so a cookie can
never act on the API and the API needs no CSRF token; the pages and the live socket use the
session cookie. (Sessions, tokens, the credential stamps they are checked against and the
sign-in throttles are one request path, kept together: hence a little over 400 lines.)
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from litestar import Request, Response
from litestar.enums import ScopeType
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.middleware.csrf import generate_csrf_token
from litestar.middleware.session.server_side import (
    ServerSideSessionBackend,
    ServerSideSessionConfig,
)

from market.core.errors import KlasterError
from web.config import ACCESS_CHANNEL, CSRF_COOKIE, AppServices, app_services

if TYPE_CHECKING:
    from litestar.connection import ASGIConnection
    from litestar.handlers.base import BaseRouteHandler
    from litestar.types import Message, Scope, ScopeSession

    from market.access.actor import Actor
    from market.access.auth import TokenGrant
    from market.access.credentials import Changes, CredentialStamp

log = logging.getLogger("klaster.auth")

SESSION_KEY = "actor"
API_PREFIX = "/api/"
#: How long a cached credential stamp or token is trusted without hearing of a change. The
#: channels normally invalidate within milliseconds; this bounds the damage of a lost event
#: (a Redis outage, a change made by a CLI command in another process).
CACHE_SECONDS = 60.0
TOKEN_CACHE_SIZE = 4096
STAMP_CACHE_SIZE = 65536
#: Methods that change state: on these a session must present its own CSRF token.
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def actor_to_session(actor: Actor, csrf_token: str) -> dict[str, Any]:
    """What a signed-in session stores: who, under which credential version, and the CSRF
    token issued with it (a request's CSRF token must be this session's)."""
    return {
        "member_id": actor.member_id,
        "role": str(actor.role),
        "name": actor.name,
        "cv": actor.credential_version,
        "csrf": csrf_token,
    }


def actor_from_session(data: Any) -> Actor | None:
    from market.access.actor import Actor

    if not isinstance(data, dict):
        return None
    try:
        return Actor(
            member_id=int(data["member_id"]),
            role=str(data["role"]),
            name=str(data["name"]),
            credential_version=int(data["cv"]),
        )
    except (KeyError, TypeError, ValueError):
        return None


class TokenCache:
    """What the middleware remembers per process, so that no request on the hot path goes to
    the database: bearer token → grant, and member → credential stamp (current version,
    active, role). Entries are dropped when a change is announced over the channels
    (`invalidate`), and trusted for `CACHE_SECONDS` at most in any case.

    A stamp read from the database while a change is being announced could be stale: a
    read only stores its result if no invalidation happened since it started (`generation`).
    """

    def __init__(self) -> None:
        self._tokens: OrderedDict[str, tuple[float, TokenGrant]] = OrderedDict()
        self._stamps: dict[int, tuple[float, CredentialStamp]] = {}
        self.generation = 0
        #: Called with (member ids, token ids) on every invalidation (open WebSockets).
        self.watchers: set[Callable[[set[int], set[int]], None]] = set()
        #: Called with the keys (`session_key`) of sessions signed out (open WebSockets).
        self.session_watchers: set[Callable[[set[str]], None]] = set()

    def get(self, token: str) -> TokenGrant | None:
        item = self._tokens.get(token)
        if item is None or item[0] < time.monotonic():
            return None
        return item[1]

    def put(self, token: str, grant: TokenGrant, generation: int) -> None:
        if generation != self.generation:
            return
        self._tokens[token] = (time.monotonic() + CACHE_SECONDS, grant)
        self._tokens.move_to_end(token)
        while len(self._tokens) > TOKEN_CACHE_SIZE:
            self._tokens.popitem(last=False)

    def stamp(self, member_id: int) -> CredentialStamp | None:
        item = self._stamps.get(member_id)
        if item is None or item[0] < time.monotonic():
            return None
        return item[1]

    def put_stamp(self, stamp: CredentialStamp, generation: int) -> None:
        if generation != self.generation:
            return
        if len(self._stamps) >= STAMP_CACHE_SIZE:
            self._stamps.clear()
        self._stamps[stamp.member_id] = (time.monotonic() + CACHE_SECONDS, stamp)

    def invalidate(self, member_ids: Iterable[int], token_ids: Iterable[int]) -> None:
        self.generation += 1
        members, tokens = set(member_ids), set(token_ids)
        for member_id in members:
            self._stamps.pop(member_id, None)
        if members or tokens:
            stale = [
                key
                for key, (_, grant) in self._tokens.items()
                if grant.token_id in tokens or grant.actor.member_id in members
            ]
            for key in stale:
                del self._tokens[key]
        for watcher in list(self.watchers):
            watcher(members, tokens)

    def end_sessions(self, keys: Iterable[str]) -> None:
        """Sessions signed out (in any process): their open sockets close."""
        ended = set(keys)
        for watcher in list(self.session_watchers):
            watcher(ended)


def session_key(session_id: str) -> str:
    """What names a session on the channels: a digest, never the id (the id is the cookie, a
    bearer secret, and the channels run through Redis)."""
    return hashlib.sha256(session_id.encode()).hexdigest()[:32]


def bearer_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    header = connection.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    # Browsers cannot set headers on a WebSocket; programs may pass the token as a parameter.
    if connection.scope["type"] == ScopeType.WEBSOCKET:
        return connection.query_params.get("token") or None
    return None


def _stamp_allows(stamp: CredentialStamp | None, actor: Actor) -> bool:
    return (
        stamp is not None
        and stamp.active
        and stamp.version == actor.credential_version
        and stamp.role == str(actor.role)
    )


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
        actor = actor_from_session(data)
        if (
            isinstance(data, dict)
            and actor is not None
            and not (_csrf_of_session(connection, data) and await self._current(connection, actor))
        ):
            actor = None
        return AuthenticationResult(user=actor, auth="session")

    async def _current(self, connection: ASGIConnection[Any, Any, Any, Any], actor: Actor) -> bool:
        return await holds_credentials(connection, actor)

    async def _from_token(
        self, connection: ASGIConnection[Any, Any, Any, Any], token: str
    ) -> Actor | None:
        from market.access.auth import authenticate_token
        from market.access.credentials import CredentialStamp
        from market.db.engine import unit_of_work

        services = app_services(connection.app)
        cache = services.token_cache
        grant = cache.get(token)
        if grant is None:
            generation = cache.generation
            try:
                async with unit_of_work(services.session_factory) as session:
                    grant = await authenticate_token(session, token)
            except KlasterError:
                return None
            actor = grant.actor
            cache.put(token, grant, generation)
            stamp = CredentialStamp(actor.member_id, actor.credential_version, True, actor.role)
            cache.put_stamp(stamp, generation)
            return actor
        if grant.expires_at is not None and grant.expires_at <= datetime.now(UTC):
            return None
        return grant.actor if await self._current(connection, grant.actor) else None


async def holds_credentials(connection: ASGIConnection[Any, Any, Any, Any], actor: Actor) -> bool:
    """Does the member still hold the credentials this actor was issued under (active, same
    role, same credential version)? From the process's cache; one query when it misses."""
    from market.access.credentials import load_stamp
    from market.db.engine import unit_of_work

    services = app_services(connection.app)
    cache = services.token_cache
    stamp = cache.stamp(actor.member_id)
    if stamp is None:
        generation = cache.generation
        async with unit_of_work(services.session_factory) as session:
            stamp = await load_stamp(session, actor.member_id)
        if stamp is not None:
            cache.put_stamp(stamp, generation)
    return _stamp_allows(stamp, actor)


async def authenticate_again(connection: ASGIConnection[Any, Any, Any, Any]) -> Actor | None:
    """Who the connection's credentials stand for now (None: nobody any more) — for a
    long-lived connection (a WebSocket) after a credential change was announced."""
    result = await ActorMiddleware(app=connection.app).authenticate_request(connection)
    actor: Actor | None = result.user
    return actor


def _csrf_of_session(connection: ASGIConnection[Any, Any, Any, Any], data: dict[str, Any]) -> bool:
    """A state-changing request must carry the CSRF token issued with this session (Litestar's
    CSRF middleware has checked that the form's or header's token matches the cookie; this
    checks that the cookie is the session's, so a token planted before sign-in is useless)."""
    if connection.scope.get("method", "GET") not in UNSAFE_METHODS:
        return True
    expected = data.get("csrf")
    cookie = connection.cookies.get(CSRF_COOKIE)
    if not isinstance(expected, str) or not cookie:
        return False
    return hmac.compare_digest(expected.encode(), cookie.encode())


class CredentialRelay:
    """Relays committed credential changes between app processes: this process's commits are
    published on the `access` channel, and every process drops the cached entries an event
    names (this one at once, before publishing)."""

    def __init__(self, services: AppServices) -> None:
        from market.access.credentials import on_commit

        self._services = services
        self._channel = services.web_config.channel_prefix + ACCESS_CHANNEL
        self._task: asyncio.Task[None] | None = None
        on_commit(services.engine.sync_engine, self._committed)

    def _committed(self, changes: Changes) -> None:
        self._services.token_cache.invalidate(changes.member_ids, changes.token_ids)
        event = {"members": sorted(changes.member_ids), "tokens": sorted(changes.token_ids)}
        self._services.channels_plugin.publish(event, channels=[self._channel])

    async def start(self) -> None:
        subscriber = await self._services.channels_plugin.subscribe([self._channel])
        self._task = asyncio.create_task(self._relay(subscriber), name="klaster-access-relay")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def _relay(self, subscriber: Any) -> None:
        async for raw in subscriber.iter_events():
            try:
                event = json.loads(raw)
                members = [int(m) for m in event.get("members", ())]
                tokens = [int(t) for t in event.get("tokens", ())]
            except (ValueError, TypeError, AttributeError):
                log.warning("malformed access event: %r", raw[:200])
                continue
            try:
                sessions = [str(k) for k in event.get("sessions", ())]
            except TypeError:
                sessions = []
            # The cache is looked up through the services: tests may replace it.
            if members or tokens:
                self._services.token_cache.invalidate(members, tokens)
            if sessions:
                self._services.token_cache.end_sessions(sessions)


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


#: The session cookie (its value is the server-side session's id).
SESSION_COOKIE = "klaster_session"

#: A session dict holding this key (True) gets a new session id when it is stored: the id a
#: visitor had before signing in (which someone may have planted) dies with the old session.
RENEW_KEY = "_renew"


class RenewingSessionBackend(ServerSideSessionBackend):
    """Server-side sessions whose id is renewed on request (`RENEW_KEY`)."""

    async def store_in_message(
        self,
        scope_session: ScopeSession,
        message: Message,
        connection: ASGIConnection[Any, Any, Any, Any],
    ) -> None:
        if isinstance(scope_session, dict) and scope_session.pop(RENEW_KEY, False):
            old = connection.cookies.get(self.config.key)
            if old and old != "null":
                await self.delete(
                    old, store=self.config.get_store_from_app(connection.scope["app"])
                )
            connection.state[RENEW_KEY] = self.generate_session_id()
        await super().store_in_message(scope_session, message, connection)

    def get_session_id(self, connection: ASGIConnection[Any, Any, Any, Any]) -> str:
        renewed = connection.state.get(RENEW_KEY)
        return str(renewed) if renewed else super().get_session_id(connection)


@dataclass
class SessionConfig(ServerSideSessionConfig):
    """`ServerSideSessionConfig` with `RenewingSessionBackend`."""

    _backend_class = RenewingSessionBackend


def start_session(request: Request[Any, Any, Any], response: Response[Any], actor: Actor) -> None:
    """Sign `actor` in: a new session (new id) holding a new CSRF token, which the response's
    CSRF cookie carries (forms rendered after this use it; one planted before is refused)."""
    services = app_services(request.app)
    token = generate_csrf_token(services.settings.secret_key)
    request.set_session({SESSION_KEY: actor_to_session(actor, token), RENEW_KEY: True})
    response.set_cookie(
        CSRF_COOKIE,
        token,
        path="/",
        secure=services.web_config.secure_cookies,
        httponly=False,
        samesite="lax",
    )


def end_session(request: Request[Any, Any, Any], response: Response[Any]) -> None:
    """Sign out: the session is deleted and the CSRF cookie with it; the session's open
    sockets close in every app process (announced on the `access` channel)."""
    session_id = request.cookies.get(SESSION_COOKIE)
    request.clear_session()
    response.delete_cookie(CSRF_COOKIE, path="/")
    if session_id and session_id != "null":
        services = app_services(request.app)
        key = session_key(session_id)
        services.token_cache.end_sessions([key])
        channel = services.web_config.channel_prefix + ACCESS_CHANNEL
        services.channels_plugin.publish({"sessions": [key]}, channels=[channel])


def client_address(scope: Scope, trusted_proxies: frozenset[str]) -> str:
    """The client's address: the peer's, unless the peer is a trusted proxy; then the nearest
    address in `X-Forwarded-For` that is not itself a trusted proxy. `*` trusts any peer (only
    the proxy can reach the app) but never an address written in the header."""
    client = scope.get("client")
    peer = str(client[0]) if client else "unknown"
    if not trusted_proxies or not ("*" in trusted_proxies or peer in trusted_proxies):
        return peer
    forwarded: list[str] = []
    for name, value in scope.get("headers", ()):
        if name.lower() == b"x-forwarded-for":
            forwarded.extend(p.strip() for p in value.decode("latin-1").split(","))
    hops = [hop for hop in forwarded if hop]
    for hop in reversed(hops):
        if hop not in trusted_proxies:
            return hop
    return hops[0] if hops else peer


async def throttle_account(connection: ASGIConnection[Any, Any, Any, Any], login: str) -> None:
    """Count a sign-in attempt against the account (any address): rotating addresses does not
    buy a brute force more guesses at one password (429 past `KLASTER_SIGNIN_ACCOUNT_RATE`)."""
    from web.ratelimit import enforce

    services = app_services(connection.app)
    key = (login or "").strip().casefold()[:80] or "-"
    await enforce(services, services.signin_account_limit, key)
