"""What the live pages show, loaded once per event and rendered once per language.

`load_live_state` reads the state of the live market page (next open interval and its
aggregated order book, latest cleared intervals, the latest result's network flows) through
the market services; the same loader serves the first page render and every pushed update, so
the page and the pushes cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from market.core.events import INTERVAL_CLEARED, NOTIFICATION
from market.trading.halt import state_of_event
from market.trading.notifications import GATE_WARNING_S
from web.config import app_services
from web.live.hub import LiveHub, LiveUpdate, channel_names

if TYPE_CHECKING:
    from litestar import Litestar
    from sqlalchemy.ext.asyncio import AsyncSession

    from market.clearing.results import IntervalResultView, IntervalSummary
    from market.cluster.service import ClusterInfo
    from market.core.clock import Clock
    from market.network.queries import NetworkMapView
    from market.trading.book import OrderBookView
    from market.trading.intervals import IntervalsView, IntervalView

LATEST = 8
#: Order statuses a clearing ends in (each is a member's own message).
OUTCOMES = ("filled", "partly_filled", "unfilled")


@dataclass
class LiveState:
    intervals: IntervalsView | None = None
    #: The next interval open for orders, and its aggregated book.
    book_interval: IntervalView | None = None
    book: OrderBookView | None = None
    #: The latest cleared intervals, newest first.
    latest: list[IntervalSummary] = field(default_factory=list)
    #: The newest result, with its line flows.
    result: IntervalResultView | None = None
    network: NetworkMapView | None = None
    cluster: ClusterInfo | None = None

    def json_data(self, kind: str) -> OrderBookView | IntervalResultView | None:
        """The part of the state a program needs for this event type."""
        if kind == "orderbook":
            return self.book
        if kind == "interval_cleared":
            return self.result
        return None


async def load_live_state(session: AsyncSession, clock: Clock) -> LiveState:
    from market.clearing import results
    from market.cluster.service import cluster_info
    from market.core.errors import NotFound
    from market.network.queries import network_for_map
    from market.trading import book, intervals

    state = LiveState()
    state.intervals = await intervals.list_intervals(session, clock, upcoming=4, recent=LATEST)
    state.cluster = await cluster_info(session)
    accepting = [iv for iv in state.intervals.open if iv.accepting_orders]
    if accepting:
        state.book_interval = accepting[0]
        state.book = await book.order_book(session, accepting[0].id)
    state.latest = list(await results.latest_results(session, limit=LATEST))
    # The newest interval that has a result: one that failed before its run was stored has
    # none (the page answered 404, and every live push failed, while it was the newest).
    for summary in state.latest:
        try:
            state.result = await results.interval_result(session, summary.interval_id)
        except NotFound:
            continue
        break
    state.network = await network_for_map(session)
    return state


async def refresh_book(session: AsyncSession, clock: Clock, previous: LiveState) -> LiveState:
    """The previous state with the open intervals and the order book read again."""
    from market.trading import book, intervals

    state = replace(previous)
    state.intervals = await intervals.list_intervals(session, clock, upcoming=4, recent=LATEST)
    accepting = [iv for iv in state.intervals.open if iv.accepting_orders]
    state.book_interval = accepting[0] if accepting else None
    state.book = await book.order_book(session, accepting[0].id) if accepting else None
    return state


async def private_messages(
    session: AsyncSession, clock: Clock, event: dict[str, Any], members: set[int]
) -> dict[int, Any]:
    """Each member's own message for `event`: after a `notification` event the member's new
    stored notifications; after a clearing how each of the member's orders in the interval
    ended; after a gate closure the next interval open for orders, for each
    member with nothing placed in it (when its gate closes within `GATE_WARNING_S`)."""
    from sqlalchemy import select

    from market.access.actor import Actor
    from market.trading import book, intervals, notifications
    from market.trading.models import Order, OrderStatus

    if event.get("type") == INTERVAL_CLEARED:
        rows = await session.execute(
            book.with_context().where(
                Order.interval_id == int(event.get("interval_id") or 0),
                Order.member_id.in_(members),
                Order.status.in_(OUTCOMES),
            )
        )
        ended: dict[int, list[Any]] = {}
        for o, i, p, n in rows.all():
            ended.setdefault(o.member_id, []).append(book.order_view(o, i, p, n))
        return ended
    if event.get("type") == NOTIFICATION:
        after = int(event.get("after") or 0)
        found: dict[int, Any] = {}
        for member in sorted(members):
            actor = Actor(member, "member", "")
            items = await notifications.list_notifications(session, actor, limit=5, after_id=after)
            if items:
                found[member] = items
        return found
    view = await intervals.list_intervals(session, clock, upcoming=2, recent=0)
    upcoming = next((iv for iv in view.open if iv.accepting_orders), None)
    if upcoming is None or upcoming.seconds_to_gate > GATE_WARNING_S:
        return {}
    placed = set(
        await session.scalars(
            select(Order.member_id)
            .where(Order.interval_id == upcoming.id, Order.status == OrderStatus.OPEN.value)
            .distinct()
        )
    )
    return {member: upcoming for member in members - placed}


def make_hub(app: Litestar) -> LiveHub:
    services = app_services(app)
    sessions = services.session_factory
    clock = services.clock
    engine = app.template_engine
    assert engine is not None

    last: list[LiveState] = []

    async def load(event: dict[str, Any]) -> LiveState:
        """Everything after a gate or clearing event; only the book after an order event
        (the latest results and the network have not changed)."""
        async with sessions() as session:
            if event.get("type") == "orderbook" and last:
                state = await refresh_book(session, clock, last[0])
            else:
                state = await load_live_state(session, clock)
        last[:] = [state]
        return state

    def render(update: LiveUpdate, locale: str, page: str) -> str:
        template = engine.get_template("live/_push.html")
        return str(
            template.render(
                update=update,
                live=update.data,
                locale=locale,
                page=page,
                market_now=clock.now(),
                halt_of=state_of_event,
                clock_speed=getattr(clock, "speed", 1.0),
            )
        )

    async def load_private(event: dict[str, Any], members: set[int]) -> dict[int, Any]:
        async with sessions() as session:
            return await private_messages(session, clock, event, members)

    def render_private(kind: str, data: Any, locale: str) -> str:
        template = engine.get_template("live/_private.html")
        return str(
            template.render(
                kind=kind, data=data, locale=locale, market_now=clock.now(), timezone=timezone
            )
        )

    timezone = services.settings.timezone
    return LiveHub(
        services.channels_plugin,
        render_html=render,
        load_state=load,
        load_private=load_private,
        render_private=render_private,
        channels=channel_names(services.web_config.channel_prefix),
        on_halt=lambda event: services.halt.set(state_of_event(event)),
    )
