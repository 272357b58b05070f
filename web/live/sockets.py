"""WebSocket endpoints: HTML fragments for the pages, JSON events for programs.

A browser opening a socket sends `Origin`; only the site's own origin may open one (another
site's page would otherwise ride on the visitor's session cookie: cross-site WebSocket
hijacking). Programs send no `Origin` and authenticate with a token. A socket whose member is
deactivated, changes password or role, or whose token is revoked, or whose session signs out,
is closed (code 4401) as soon as the change is announced (`web.auth.CredentialRelay`).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any
from urllib.parse import urlsplit

from litestar import WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect
from litestar.params import FromQuery

from web.auth import SESSION_COOKIE, authenticate_again, session_key, signed_in
from web.config import app_services
from web.live.hub import pump
from web.ui.i18n import connection_locale

#: Close codes (4000–4999: the application's own): a refused origin, lost credentials.
CLOSE_ORIGIN = 4403
CLOSE_SIGNED_OUT = 4401


def origin_allowed(socket: WebSocket[Any, Any, Any], site_origins: frozenset[str]) -> bool:
    """No `Origin` (a program), or the configured site's origin, or (none configured) an
    origin naming the host the request was made to."""
    origin = socket.headers.get("origin")
    if origin is None:
        return True
    origin = origin.strip().rstrip("/").lower()
    if site_origins:
        return origin in site_origins
    parts = urlsplit(origin)
    host = (socket.headers.get("host") or "").strip().lower()
    return parts.scheme in ("http", "https") and bool(host) and parts.netloc == host


async def _receive_until_gone(socket: WebSocket[Any, Any, Any]) -> None:
    # The receive loop notices the client leaving; messages from clients are ignored.
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            await socket.receive_data(mode="text")


async def _watch_credentials(socket: WebSocket[Any, Any, Any]) -> None:
    """Return once the socket's credentials no longer hold."""
    cache = app_services(socket.app).token_cache
    actor = socket.scope.get("user")
    by_token = socket.scope.get("auth") == "token"
    cookie = None if by_token else socket.cookies.get(SESSION_COOKIE)
    own_session = session_key(cookie) if cookie else None
    changed = asyncio.Event()
    signed_out = False

    def watcher(members: set[int], tokens: set[int]) -> None:
        if actor is None or actor.member_id in members or (by_token and tokens):
            changed.set()

    def session_watcher(keys: set[str]) -> None:
        # the session this socket was opened with was signed out (in this process or another)
        nonlocal signed_out
        if own_session is not None and own_session in keys:
            signed_out = True
            changed.set()

    cache.watchers.add(watcher)
    cache.session_watchers.add(session_watcher)
    try:
        while True:
            await changed.wait()
            changed.clear()
            if signed_out or await authenticate_again(socket) is None:
                return
    finally:
        cache.watchers.discard(watcher)
        cache.session_watchers.discard(session_watcher)


async def _serve(socket: WebSocket[Any, Any, Any], kind: str, page: str = "") -> None:
    services = app_services(socket.app)
    hub = services.live_hub
    assert hub is not None, "the live hub starts with the app"
    if not origin_allowed(socket, services.web_config.site_origins):
        await socket.close(code=CLOSE_ORIGIN, reason="origin not allowed")
        return
    await socket.accept()
    actor = socket.scope.get("user")
    member = actor.member_id if actor is not None and actor.role == "member" else None
    client = hub.connect(kind, connection_locale(socket), page, member)
    tasks = {
        asyncio.create_task(pump(client, socket.send_text)),
        asyncio.create_task(_receive_until_gone(socket)),
    }
    guard = asyncio.create_task(_watch_credentials(socket))
    tasks.add(guard)
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        if guard in done and guard.exception() is None:
            with contextlib.suppress(Exception):
                await socket.close(code=CLOSE_SIGNED_OUT, reason="signed out")
    finally:
        hub.disconnect(client)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


@websocket("/ws/live", guards=[signed_in])
async def live_socket(socket: WebSocket[Any, Any, Any], page: FromQuery[str] = "") -> None:
    """Out-of-band HTML fragments for htmx's ws extension (`ws-connect="/ws/live?page=live"`);
    `page` says which regions the page has, so only those are pushed."""
    await _serve(socket, "html", page)


@websocket("/api/v1/feed", guards=[signed_in])
async def feed_socket(socket: WebSocket[Any, Any, Any]) -> None:
    """The same events as JSON, one object per message (`klaster watch`)."""
    await _serve(socket, "json")
