"""Why an interval cleared at its prices, in words, from the stored result: which line ran at
its limit, and per price what set it (the grid's price, or the order accepted at it)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from market.clearing.results import GridResult, IntervalResultView
from market.network.models import MeteringPoint, Node
from market.trading.models import IntervalStatus, Order


@dataclass(frozen=True, slots=True)
class PriceReason:
    """One sentence of why an interval cleared at its price: a message id and its params
    (the web layer translates it, as it does errors)."""

    message_id: str
    params: dict[str, object]


async def why_this_price(session: AsyncSession, view: IntervalResultView) -> list[PriceReason]:
    """Why the interval cleared at its prices, from the stored result: which line ran at its
    limit (prices differ across it), and per price what set it — the grid's import or export
    price, or an order accepted in part at exactly that price."""
    if view.summary.status != IntervalStatus.CLEARED.value:
        return []
    out = [
        PriceReason(
            "line %(line)s (%(from_node)s → %(to_node)s) ran at its limit of %(limit)s kWh, "
            "so the prices at its two ends differ",
            {
                "line": ln.code,
                "from_node": ln.from_node,
                "to_node": ln.to_node,
                "limit": ln.limit_kwh,
            },
        )
        for ln in view.lines
        if ln.congested
    ]
    if view.summary.matched_kwh <= 0 and not any(g.import_kwh or g.export_kwh for g in view.grid):
        out.append(PriceReason("no offer met a bid: nothing was traded", {}))
        return out
    orders = (
        await session.execute(
            select(Order.side, Order.price, Order.quantity_kwh, Order.accepted_kwh, Node.code)
            .join(MeteringPoint, Order.metering_point_id == MeteringPoint.id)
            .join(Node, MeteringPoint.node_id == Node.id)
            .where(Order.interval_id == view.summary.interval_id)
        )
    ).all()
    for price in sorted({n.price for n in view.nodes}):
        nodes = [n.code for n in view.nodes if n.price == price]
        out.append(_price_setter(price, nodes, view.grid, orders))
    return out


#: (a bid?, accepted in part?) → what the order that set the price says.
SETTER_MESSAGES = {
    (True, True): "at %(nodes)s a bid for %(quantity)s kWh at %(price)s PLN/kWh set the price: "
    "it was accepted in part",
    (True, False): "at %(nodes)s a bid for %(quantity)s kWh at %(price)s PLN/kWh set the price: "
    "it was the last bid accepted",
    (False, True): "at %(nodes)s an offer of %(quantity)s kWh at %(price)s PLN/kWh set the "
    "price: it was accepted in part",
    (False, False): "at %(nodes)s an offer of %(quantity)s kWh at %(price)s PLN/kWh set the "
    "price: it was the last offer accepted",
}


def _price_setter(
    price: Decimal, nodes: list[str], grid: list[GridResult], orders: Sequence[Any]
) -> PriceReason:
    where = ", ".join(nodes)
    for g in grid:
        if g.import_kwh > 0 and g.import_price == price:
            return PriceReason(
                "at %(nodes)s the price %(price)s PLN/kWh is the grid's import price: local "
                "offers did not cover the demand, the rest came from the grid",
                {"nodes": where, "price": price},
            )
        if g.export_kwh > 0 and g.export_price == price:
            return PriceReason(
                "at %(nodes)s the price %(price)s PLN/kWh is the grid's export price: local "
                "bids did not take all the offers, the rest went to the grid",
                {"nodes": where, "price": price},
            )
    at_price = [o for o in orders if o.code in nodes and o.price == price]
    partial = [o for o in at_price if o.accepted_kwh is not None
               and 0 < o.accepted_kwh < o.quantity_kwh]  # fmt: skip
    setter = (partial or at_price or [None])[0]
    if setter is not None:
        key = (setter.side == "buy", setter in partial)
        return PriceReason(
            SETTER_MESSAGES[key], {"nodes": where, "quantity": setter.quantity_kwh, "price": price}
        )
    return PriceReason(
        "at %(nodes)s the price %(price)s PLN/kWh lies between the last accepted and the first "
        "rejected order: any price in that gap balances supply and demand",
        {"nodes": where, "price": price},
    )
