"""Finding 1 of branch `outside3` in the production topology (the rest is in
test_outside3.py, whose per-module app and database the two processes here cannot share):
signing out through one app process closes the session's live socket on the other."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.world import PASSWORD
from tests.web.test_redis_fanout import build_cluster_sync, two_apps

__all__ = ["build_cluster_sync", "two_apps"]

pytestmark = [pytest.mark.anyio, pytest.mark.redis, pytest.mark.postgres]


async def test_signing_out_on_one_process_closes_the_socket_on_the_other(two_apps: Any) -> None:
    """The production topology: two app processes, sessions and channels in Redis. The
    socket is open on B; the session signs out through A."""
    import asyncio

    import httpx
    import websockets

    (app_a, app_b), _ids = two_apps
    async with httpx.AsyncClient(timeout=10) as http:
        page = await http.get(app_a + "/login")
        csrf = str(page.cookies.get("csrftoken"))
        form = {"login": "alice", "password": PASSWORD, "_csrf_token": csrf}
        r = await http.post(app_a + "/login", data=form)
        assert r.status_code in (302, 303), r.text
        session = str(http.cookies.get("klaster_session"))
        headers = {"Cookie": f"klaster_session={session}", "Origin": app_b}
        url = app_b.replace("http://", "ws://") + "/ws/live?page=live"
        async with websockets.connect(url, additional_headers=headers) as ws:
            await asyncio.sleep(0.2)  # the socket is served on B
            token = str(http.cookies.get("csrftoken"))
            r = await http.post(app_a + "/logout", headers={"x-csrftoken": token})
            assert r.status_code in (200, 303), r.text
            with pytest.raises(websockets.ConnectionClosed) as closed:
                while True:
                    await asyncio.wait_for(ws.recv(), timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
