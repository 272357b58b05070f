"""Live market page (everyone signed in): order book, curves, latest results, network map."""

from __future__ import annotations

from litestar import get
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template

from market.cluster.service import get_cluster
from market.core.errors import NotFound
from market.trading.day_ahead_gate import NextGate, next_gate
from web.auth import signed_in
from web.deps import ClockDep, Db
from web.live.render import load_live_state
from web.ui.render import page, render


@get("/live", guards=[signed_in])
async def live_page(request: HTMXRequest, db: Db, clock: ClockDep) -> Template:
    """The whole page; its regions are then replaced by pushes over /ws/live?page=live."""
    return page(request, "live/index.html", section="live", live=await load_live_state(db, clock),
                next_gate=await _next_gate(db, clock))  # fmt: skip


async def _next_gate(db: Db, clock: ClockDep) -> NextGate | None:
    try:
        cluster = await get_cluster(db)
    except NotFound:
        return None
    return await next_gate(db, cluster, clock.now())


@get("/live/next-gate", guards=[signed_in])
async def next_gate_fragment(request: HTMXRequest, db: Db, clock: ClockDep) -> Template:
    """Which gate closes next (day-ahead or intraday), refetched by the live page."""
    return render(request, "live/_next_gate.html", next_gate=await _next_gate(db, clock))


HANDLERS = [live_page, next_gate_fragment]
