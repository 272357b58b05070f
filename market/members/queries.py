"""Read-only queries for a member's own pages (written by the web helper; no writes here)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from market.access.actor import Actor
from market.network.models import MeteringPoint, Node


@dataclass(frozen=True, slots=True)
class MyPointView:
    id: int
    ppe_code: str
    name: str
    node: str
    node_name: str
    contracted_power_kw: Decimal
    pv_kwp: Decimal
    technology: str = "none"


async def my_metering_points(session: AsyncSession, actor: Actor) -> list[MyPointView]:
    """The actor's active metering points, by PPE code."""
    rows = (
        await session.execute(
            select(MeteringPoint, Node)
            .join(Node, Node.id == MeteringPoint.node_id)
            .where(MeteringPoint.member_id == actor.member_id, MeteringPoint.active)
            .order_by(MeteringPoint.ppe_code)
        )
    ).all()
    return [
        MyPointView(
            id=p.id,
            ppe_code=p.ppe_code,
            name=p.name,
            node=n.code,
            node_name=n.name,
            contracted_power_kw=p.contracted_power_kw,
            pv_kwp=p.pv_kwp,
            technology=p.technology,
        )
        for p, n in rows
    ]
