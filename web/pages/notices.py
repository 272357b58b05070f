"""A member's notifications: those stored by the market (a standing order's order refused,
with the reason: `market.trading.notifications`), and those derived from its own records: how
each order of a cleared interval ended (filled, partly filled, not filled, with
the price against the limit), and a warning when the next gate is about to close on an
interval in which the member has nothing placed. `/my` shows the latest live (refetched at
every gate closure and clearing, as the other private regions are); `/my/notifications`
lists them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from market.access.actor import Actor
from market.core.clock import Clock
from market.trading import intervals, notifications, orders
from market.trading.book import OrderView
from market.trading.intervals import IntervalView
from market.trading.notifications import GATE_WARNING_S, NotificationView

#: Order outcomes that make a notification.
OUTCOMES = ("filled", "partly_filled", "unfilled")


@dataclass(frozen=True, slots=True)
class Notices:
    #: The next interval whose gate closes within `GATE_WARNING_S` with nothing of mine in it.
    gate_soon: IntervalView | None
    #: My orders of cleared intervals, newest interval first.
    outcomes: list[OrderView]
    #: Stored notifications (a standing order's order refused, and why), newest first.
    stored: list[NotificationView]


async def my_notices(db: AsyncSession, actor: Actor, clock: Clock, limit: int = 30) -> Notices:
    view = await intervals.list_intervals(db, clock, upcoming=2, recent=0)
    mine = await orders.list_my_orders(db, actor, limit=200)
    placed = {o.interval_id for o in mine if o.status == "open"}
    gate_soon = next(
        (
            iv
            for iv in view.open
            if iv.accepting_orders and iv.seconds_to_gate <= GATE_WARNING_S and iv.id not in placed
        ),
        None,
    )
    outcomes = [o for o in mine if o.status in OUTCOMES][:limit]
    stored = await notifications.list_notifications(db, actor, limit=limit)
    return Notices(gate_soon, outcomes, stored)
