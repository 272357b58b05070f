"""My market: a member's intervals, orders, standing orders, fills and API token."""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from market.access import auth as market_auth
from market.access.actor import Actor
from market.clearing.results import node_price_history
from market.cluster.service import cluster_info
from market.core.clock import Clock
from market.core.errors import NotFound
from market.core.money import id_or_none
from market.members.queries import MyPointView, my_metering_points
from market.trading import book, intervals, orders, standing
from market.trading.intervals import IntervalView
from market.trading.order_input import parse_change, parse_order, parse_standing
from web.api.intake import publish_later
from web.auth import requires_role
from web.deps import ClockDep, CurrentActor, Db, PublisherDep, SettingsDep
from web.pages.day_ahead import mine_context
from web.pages.forms import (
    ORDER_FIELDS,
    ModifyOrderForm,
    OrderForm,
    StandingForm,
    every_error,
    with_errors,
)
from web.pages.notices import my_notices
from web.ratelimit import rate_limited
from web.ui.formatting import to_local
from web.ui.render import expect_form, page, render

#: The form suggests the first interval whose gate is at least this far away, so that a member
#: has time to type a quantity and a price before it closes.
TIME_TO_ACT_S = 120


def default_interval_id(
    open_intervals: list[IntervalView], chosen: str | None = None
) -> int | None:
    """The interval the form shows selected: the member's choice while its gate is open, else
    the first that leaves `TIME_TO_ACT_S` to act (the last open one if none does)."""
    ids = {str(iv.id): iv.id for iv in open_intervals}
    if chosen and chosen in ids:
        return ids[chosen]
    for iv in open_intervals:
        if iv.seconds_to_gate >= TIME_TO_ACT_S:
            return iv.id
    return open_intervals[-1].id if open_intervals else None


async def open_intervals_context(
    db: AsyncSession, clock: Clock, chosen: str | None = None
) -> dict[str, Any]:
    """The intervals whose gate is still open, and which one the form selects."""
    view = await intervals.list_intervals(db, clock, upcoming=8, recent=0)
    open_now = [iv for iv in view.open if iv.accepting_orders]
    return {
        "open_intervals": open_now,
        "selected_interval_id": default_interval_id(open_now, chosen),
    }


async def price_hint_context(
    db: AsyncSession, points: list[MyPointView], interval_id: int | None, point_id: str | None
) -> dict[str, Any]:
    """Price suggestions for the order form: the chosen interval's best bid and offer so far,
    and the latest cleared prices at the chosen point's node."""
    point = next((p for p in points if str(p.id) == point_id), points[0] if points else None)
    book_view = await book.order_book(db, interval_id) if interval_id is not None else None
    history = await node_price_history(db, point.node, limit=4) if point else []
    return {
        "hint_point": point,
        "best_bid": book_view.bids[0].price if book_view and book_view.bids else None,
        "best_offer": book_view.asks[0].price if book_view and book_view.asks else None,
        "price_history": history,
    }


async def order_form_context(
    db: AsyncSession,
    actor: Actor,
    clock: Clock,
    chosen: str | None = None,
    point_id: str | None = None,
) -> dict[str, Any]:
    """What the order form needs: open intervals, my points, price band, price suggestions,
    a fresh idempotency key."""
    intervals_now = await open_intervals_context(db, clock, chosen)
    points = await my_metering_points(db, actor)
    hint = await price_hint_context(db, points, intervals_now["selected_interval_id"], point_id)
    return {
        **intervals_now,
        **hint,
        "points": points,
        "cluster": await cluster_info(db),
        "client_order_id": secrets.token_hex(12),
    }


async def orders_context(db: AsyncSession, actor: Actor, clock: Clock) -> dict[str, Any]:
    view = await intervals.list_intervals(db, clock, upcoming=8, recent=0)
    return {
        "orders": await orders.list_my_orders(db, actor, limit=30),
        "accepting_ids": {iv.id for iv in view.open if iv.accepting_orders},
    }


async def _buys_and_sells(db: AsyncSession, actor: Actor, interval_id: int) -> bool:
    """Whether the member now has both a bid and an offer open in the interval (allowed, but
    they may be matched with each other: the page says so)."""
    mine = await orders.list_my_orders(db, actor, interval_id=interval_id, status="open")
    return {o.side for o in mine} >= {"buy", "sell"}


@dataclass(frozen=True, slots=True)
class Earnings:
    """A member's local trading of one day: what selling earned, what buying cost."""

    revenue_pln: Decimal
    cost_pln: Decimal

    @property
    def net_pln(self) -> Decimal:
        return self.revenue_pln - self.cost_pln


async def fills_context(
    db: AsyncSession, actor: Actor, clock: Clock, timezone: str
) -> dict[str, Any]:
    """My latest fills, and today's (local day) sales revenue and purchase cost."""
    today = to_local(clock.now(), timezone).date()
    day = await book.my_fills(db, actor, day=today, limit=5000)
    earnings = Earnings(
        revenue_pln=sum((f.amount_pln for f in day if f.side == "sell"), Decimal("0.00")),
        cost_pln=sum((f.amount_pln for f in day if f.side == "buy"), Decimal("0.00")),
    )
    fills = await book.my_fills(db, actor, limit=20)
    return {"fills": fills, "today": earnings, "today_day": today}


class MemberController(Controller):
    path = "/my"
    guards = [requires_role("member")]  # noqa: RUF012 - Litestar's declaration style

    @get("/")
    async def index(
        self,
        request: HTMXRequest,
        db: Db,
        actor: CurrentActor,
        clock: ClockDep,
        settings: SettingsDep,
    ) -> Template:
        return render(
            request,
            "my/index.html",
            section="my",
            intervals=await intervals.list_intervals(db, clock, upcoming=6, recent=0),
            **await fills_context(db, actor, clock, settings.timezone),
            notices=await my_notices(db, actor, clock, limit=3),
            latest=True,
            standing=await standing.list_standing_orders(db, actor),
            **await orders_context(db, actor, clock),
            **await order_form_context(db, actor, clock),
            **await mine_context(db, actor, clock),
        )

    @get("/intervals")
    async def intervals_fragment(self, request: HTMXRequest, db: Db, clock: ClockDep) -> Template:
        view = await intervals.list_intervals(db, clock, upcoming=6, recent=0)
        return render(request, "my/_intervals.html", intervals=view)

    @get("/order-intervals")
    async def order_intervals(
        self,
        request: HTMXRequest,
        db: Db,
        clock: ClockDep,
        interval_id: FromQuery[str | None] = None,
    ) -> Template:
        """The order form's interval list, refetched at every gate closure (keeps the choice
        while its gate is open)."""
        context = await open_intervals_context(db, clock, interval_id)
        return render(request, "my/_interval_select.html", **context)

    @get("/price-hint")
    async def price_hint(
        self,
        request: HTMXRequest,
        db: Db,
        actor: CurrentActor,
        interval_id: FromQuery[str | None] = None,
        metering_point_id: FromQuery[str | None] = None,
    ) -> Template:
        """The order form's price suggestions for the chosen interval and point."""
        points = await my_metering_points(db, actor)
        chosen = id_or_none(interval_id)  # "²": no interval, not a 500
        context = await price_hint_context(db, points, chosen, metering_point_id)
        return render(request, "my/_price_hint.html", **context)

    @get("/notifications")
    async def notifications(
        self,
        request: HTMXRequest,
        db: Db,
        actor: CurrentActor,
        clock: ClockDep,
        latest: FromQuery[bool] = False,
    ) -> Template:
        """My notifications: the page, or the /my region (`?latest=true`) htmx refetches."""
        notices = await my_notices(db, actor, clock, limit=3 if latest else 30)
        return page(request, "my/notifications.html", "my/_notices.html", section="my",
                    notices=notices, latest=latest)  # fmt: skip

    @get("/orders")
    async def orders_fragment(
        self,
        request: HTMXRequest,
        db: Db,
        actor: CurrentActor,
        clock: ClockDep,
    ) -> Template:
        return render(request, "my/_orders.html", **await orders_context(db, actor, clock))

    @get("/fills")
    async def fills_fragment(
        self,
        request: HTMXRequest,
        db: Db,
        actor: CurrentActor,
        clock: ClockDep,
        settings: SettingsDep,
    ) -> Template:
        context = await fills_context(db, actor, clock, settings.timezone)
        return render(request, "my/_fills.html", **context)

    @post("/orders", middleware=[rate_limited("order_limit")])
    async def place(
        self,
        request: HTMXRequest,
        db: Db,
        actor: CurrentActor,
        clock: ClockDep,
        publisher: PublisherDep,
        settings: SettingsDep,
        data: URLEncodedBody[OrderForm],
    ) -> Template:
        context = await order_form_context(
            db, actor, clock, data.interval_id, data.metering_point_id
        )
        expect_form(request, "my/_order_form.html", form=asdict(data), **context)
        problems = every_error(asdict(data), ORDER_FIELDS)
        if len(problems) > 1:
            return with_errors(request, "my/_order_form.html", problems, settings.timezone,
                               form=asdict(data), **context)  # fmt: skip
        done = await orders.place_order(db, actor, clock, parse_order(asdict(data)))
        both_sides = await _buys_and_sells(db, actor, done.view.interval_id)
        context.update(  # the suggestions now include the order just placed
            await price_hint_context(
                db, context["points"], done.view.interval_id, data.metering_point_id
            )
        )
        form = {
            "side": data.side,
            "interval_id": data.interval_id,
            "metering_point_id": data.metering_point_id,
        }
        return Template(
            "my/_order_placed.html",
            context={
                **context,
                "placed": done.view,
                "both_sides": both_sides,
                "form": form,
                **await orders_context(db, actor, clock),
            },
            background=publish_later(publisher, done.events),
        )

    @get("/orders/{order_id:int}/edit")
    async def edit_form(
        self, request: HTMXRequest, db: Db, actor: CurrentActor, order_id: FromPath[int]
    ) -> Template:
        order = await orders.find_my_order(db, actor, order_id)
        if order is None:
            raise NotFound("order_id", "no order %(id)s of yours", id=order_id)
        return render(request, "my/_order_edit.html", o=order)

    @post("/orders/{order_id:int}")
    async def modify(
        self,
        request: HTMXRequest,
        db: Db,
        actor: CurrentActor,
        clock: ClockDep,
        publisher: PublisherDep,
        order_id: FromPath[int],
        settings: SettingsDep,
        data: URLEncodedBody[ModifyOrderForm],
    ) -> Template:
        current = await orders.find_my_order(db, actor, order_id)
        if current is None:
            # someone else's order answers as an unused id, with no edit form to fill
            raise NotFound("order_id", "no order %(id)s of yours", id=order_id)
        expect_form(request, "my/_order_edit.html", o=current, form=asdict(data))
        given = {k: v for k, v in asdict(data).items() if v.strip()}
        problems = every_error(given, {k: ORDER_FIELDS[k] for k in given})
        if len(problems) > 1:
            return with_errors(request, "my/_order_edit.html", problems, settings.timezone,
                               o=current, form=asdict(data))  # fmt: skip
        change = parse_change(data.quantity_kwh, data.price)
        done = await orders.modify_order(db, actor, clock, order_id, change)
        template = render(request, "my/_orders.html", **await orders_context(db, actor, clock))
        # the edit form targets its own row; the saved order comes back in the whole table
        template.headers["HX-Retarget"] = "#my-orders"
        template.background = publish_later(publisher, done.events)
        return template

    @post("/orders/{order_id:int}/cancel")
    async def cancel(
        self,
        request: HTMXRequest,
        db: Db,
        actor: CurrentActor,
        clock: ClockDep,
        publisher: PublisherDep,
        order_id: FromPath[int],
    ) -> Template:
        done = await orders.cancel_order(db, actor, clock, order_id)
        template = render(request, "my/_orders.html", **await orders_context(db, actor, clock))
        template.background = publish_later(publisher, done.events)
        return template

    @post("/standing")
    async def create_standing(
        self,
        request: HTMXRequest,
        db: Db,
        actor: CurrentActor,
        clock: ClockDep,
        data: URLEncodedBody[StandingForm],
    ) -> Template:
        points = await my_metering_points(db, actor)
        expect_form(request, "my/_standing_form.html", form=asdict(data), points=points,
                    check=(parse_standing, asdict(data)))  # fmt: skip
        rule = parse_standing(asdict(data))
        await standing.create_standing_order(db, actor, clock, rule)
        return render(
            request,
            "my/_standing_created.html",
            points=points,
            standing=await standing.list_standing_orders(db, actor),
        )

    @post("/standing/{rule_id:int}/{action:str}")
    async def standing_action(
        self,
        request: HTMXRequest,
        db: Db,
        actor: CurrentActor,
        clock: ClockDep,
        rule_id: FromPath[int],
        action: FromPath[str],
    ) -> Template:
        if action == "delete":
            await standing.delete_standing_order(db, actor, clock, rule_id)
        elif action in ("pause", "resume"):
            await standing.set_standing_paused(db, actor, clock, rule_id, action == "pause")
        else:
            raise NotFound("action", "use pause, resume or delete")
        return render(
            request, "my/_standing.html", standing=await standing.list_standing_orders(db, actor)
        )

    @post("/token")
    async def create_token(
        self, request: HTMXRequest, db: Db, actor: CurrentActor, settings: SettingsDep
    ) -> Template:
        token = await market_auth.create_api_token(db, actor, "web", days=settings.token_days)
        return render(request, "my/_token.html", token=token)


HANDLERS = [MemberController]
