"""WebSocket endpoints: HTML fragments for the pages, JSON events for programs."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from litestar import WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect
from litestar.params import FromQuery

from web.auth import signed_in
from web.config import app_services
from web.live.hub import pump
from web.ui.i18n import connection_locale


async def _serve(socket: WebSocket[Any, Any, Any], kind: str, page: str = "") -> None:
    hub = app_services(socket.app).live_hub
    assert hub is not None, "the live hub starts with the app"
    await socket.accept()
    client = hub.connect(kind, connection_locale(socket), page)
    sender = asyncio.create_task(pump(client, socket.send_text))
    try:
        # The receive loop notices the client leaving; messages from clients are ignored.
        while not sender.done():
            await socket.receive_data(mode="text")
    except WebSocketDisconnect:
        pass
    finally:
        hub.disconnect(client)
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sender


@websocket("/ws/live", guards=[signed_in])
async def live_socket(socket: WebSocket[Any, Any, Any], page: FromQuery[str] = "") -> None:
    """Out-of-band HTML fragments for htmx's ws extension (`ws-connect="/ws/live?page=live"`);
    `page` says which regions the page has, so only those are pushed."""
    await _serve(socket, "html", page)


@websocket("/api/v1/feed", guards=[signed_in])
async def feed_socket(socket: WebSocket[Any, Any, Any]) -> None:
    """The same events as JSON, one object per message (`klaster watch`)."""
    await _serve(socket, "json")
