"""Live market page (everyone signed in): order book, curves, latest results, network map."""

from __future__ import annotations

from litestar import get
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template

from web.auth import signed_in
from web.deps import ClockDep, Db
from web.live.render import load_live_state
from web.ui.render import page


@get("/live", guards=[signed_in])
async def live_page(request: HTMXRequest, db: Db, clock: ClockDep) -> Template:
    """The whole page; its regions are then replaced by pushes over /ws/live?page=live."""
    return page(request, "live/index.html", section="live", live=await load_live_state(db, clock))


HANDLERS = [live_page]
