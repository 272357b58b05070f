"""My market: a member's intervals, orders, standing orders, fills and API token."""

from __future__ import annotations

import secrets
from dataclasses import asdict
from typing import Any

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, URLEncodedBody
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from market.access import auth as market_auth
from market.access.actor import Actor
from market.cluster.service import cluster_info
from market.core.clock import Clock
from market.members.queries import my_metering_points
from market.trading import intervals, orders, standing
from web.auth import requires_role
from web.pages.forms import ModifyOrderForm, OrderForm, StandingForm
from web.ratelimit import rate_limited
from web.ui.i18n import connection_locale, gettext
from web.ui.render import expect_form, page, render

Db = NamedDependency[AsyncSession]
# Protocol- and dataclass-typed dependencies are not validated by Litestar (it cannot check
# a Protocol); they are set up by the app, not taken from the request.
ClockDep = NamedDependency[Any]
PublisherDep = NamedDependency[Any]
ActorDep = NamedDependency[Any]


async def order_form_context(db: AsyncSession, actor: Actor, clock: Clock) -> dict[str, Any]:
    """What the order form needs: open intervals, my points, price band, a fresh idempotency key."""
    view = await intervals.list_intervals(db, clock, upcoming=8, recent=0)
    return {
        "open_intervals": [iv for iv in view.open if iv.accepting_orders],
        "points": await my_metering_points(db, actor),
        "cluster": await cluster_info(db),
        "client_order_id": secrets.token_hex(12),
    }


async def orders_context(db: AsyncSession, actor: Actor, clock: Clock) -> dict[str, Any]:
    view = await intervals.list_intervals(db, clock, upcoming=8, recent=0)
    return {
        "orders": await orders.list_my_orders(db, actor, limit=30),
        "accepting_ids": {iv.id for iv in view.open if iv.accepting_orders},
    }


class MemberController(Controller):
    path = "/my"
    guards = [requires_role("member")]  # noqa: RUF012 - Litestar's declaration style

    @get("/")
    async def index(
        self,
        request: HTMXRequest,
        db: Db,
        actor: ActorDep,
        clock: ClockDep,
    ) -> Template:
        return render(
            request,
            "my/index.html",
            section="my",
            intervals=await intervals.list_intervals(db, clock, upcoming=6, recent=0),
            fills=await orders.my_fills(db, actor, limit=20),
            standing=await standing.list_standing_orders(db, actor),
            **await orders_context(db, actor, clock),
            **await order_form_context(db, actor, clock),
        )

    @get("/intervals")
    async def intervals_fragment(self, request: HTMXRequest, db: Db, clock: ClockDep) -> Template:
        view = await intervals.list_intervals(db, clock, upcoming=6, recent=0)
        return page(request, "my/index.html", "my/_intervals.html", intervals=view)

    @get("/orders")
    async def orders_fragment(
        self,
        request: HTMXRequest,
        db: Db,
        actor: ActorDep,
        clock: ClockDep,
    ) -> Template:
        return render(request, "my/_orders.html", **await orders_context(db, actor, clock))

    @get("/fills")
    async def fills_fragment(self, request: HTMXRequest, db: Db, actor: ActorDep) -> Template:
        return render(request, "my/_fills.html", fills=await orders.my_fills(db, actor, limit=20))

    @post("/orders", middleware=[rate_limited("order_limit")])
    async def place(
        self,
        request: HTMXRequest,
        db: Db,
        actor: ActorDep,
        clock: ClockDep,
        publisher: PublisherDep,
        data: URLEncodedBody[OrderForm],
    ) -> Template:
        context = await order_form_context(db, actor, clock)
        expect_form(request, "my/_order_form.html", form=asdict(data), **context)
        order = await orders.place_order(db, actor, clock, publisher, **asdict(data))
        ok = gettext("Order %(id)s placed.", connection_locale(request), id=order.id)
        form = {
            "side": data.side,
            "interval_id": data.interval_id,
            "metering_point_id": data.metering_point_id,
        }
        return Template(
            "my/_order_placed.html",
            context={**context, "ok": ok, "form": form, **await orders_context(db, actor, clock)},
        )

    @get("/orders/{order_id:int}/edit")
    async def edit_form(
        self, request: HTMXRequest, db: Db, actor: ActorDep, order_id: FromPath[int]
    ) -> Template:
        order = next(
            (o for o in await orders.list_my_orders(db, actor, limit=200) if o.id == order_id), None
        )
        if order is None:
            from market.core.errors import NotFound

            raise NotFound("order_id", f"no order {order_id} of yours")
        return render(request, "my/_order_edit.html", o=order)

    @post("/orders/{order_id:int}")
    async def modify(
        self,
        request: HTMXRequest,
        db: Db,
        actor: ActorDep,
        clock: ClockDep,
        publisher: PublisherDep,
        order_id: FromPath[int],
        data: URLEncodedBody[ModifyOrderForm],
    ) -> Template:
        current = next(
            (o for o in await orders.list_my_orders(db, actor, limit=200) if o.id == order_id), None
        )
        expect_form(request, "my/_order_edit.html", o=current, form=asdict(data))
        await orders.modify_order(
            db, actor, clock, publisher, order_id, quantity_kwh=data.quantity_kwh, price=data.price
        )
        return render(request, "my/_orders.html", **await orders_context(db, actor, clock))

    @post("/orders/{order_id:int}/cancel")
    async def cancel(
        self,
        request: HTMXRequest,
        db: Db,
        actor: ActorDep,
        clock: ClockDep,
        publisher: PublisherDep,
        order_id: FromPath[int],
    ) -> Template:
        await orders.cancel_order(db, actor, clock, publisher, order_id)
        return render(request, "my/_orders.html", **await orders_context(db, actor, clock))

    @post("/standing")
    async def create_standing(
        self,
        request: HTMXRequest,
        db: Db,
        actor: ActorDep,
        clock: ClockDep,
        data: URLEncodedBody[StandingForm],
    ) -> Template:
        points = await my_metering_points(db, actor)
        expect_form(request, "my/_standing_form.html", form=asdict(data), points=points)
        fields = asdict(data)
        if fields["mode"] == "forecast" and not fields["quantity_kwh"].strip():
            fields["quantity_kwh"] = None
        await standing.create_standing_order(db, actor, clock, **fields)
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
        actor: ActorDep,
        clock: ClockDep,
        rule_id: FromPath[int],
        action: FromPath[str],
    ) -> Template:
        if action == "delete":
            await standing.delete_standing_order(db, actor, clock, rule_id)
        elif action in ("pause", "resume"):
            await standing.set_standing_paused(db, actor, clock, rule_id, action == "pause")
        else:
            from market.core.errors import NotFound

            raise NotFound("action", "use pause, resume or delete")
        return render(
            request, "my/_standing.html", standing=await standing.list_standing_orders(db, actor)
        )

    @post("/token")
    async def create_token(self, request: HTMXRequest, db: Db, actor: ActorDep) -> Template:
        token = await market_auth.create_api_token(db, actor, "web")
        return render(request, "my/_token.html", token=token)


HANDLERS = [MemberController]
