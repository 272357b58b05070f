"""Read-only queries for a member's own pages (written by the web helper; no writes here)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from market.access.actor import READ, Actor, require_role
from market.access.models import Member, Role
from market.core.errors import NotFound
from market.members.service import MemberView, MeteringPointView, _member_view, _point_view
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


async def member_view(session: AsyncSession, actor: Actor, member_id: int) -> MemberView:
    """One member as `members.service.list_members` shows it (with its count of metering
    points), read alone: a member's page and forms need one row, not the cluster's 5,000."""
    require_role(actor, *READ)
    member = await session.get(Member, member_id)
    if member is None:
        raise NotFound("member_id", "no record %(record_id)s", record_id=member_id)
    points = await session.scalar(
        select(func.count(MeteringPoint.id)).where(MeteringPoint.member_id == member_id)
    )
    return _member_view(member, points or 0)


async def metering_point_view(
    session: AsyncSession, actor: Actor, point_id: int
) -> MeteringPointView:
    """One metering point as `members.service.list_metering_points` shows it, read alone (a
    member finds only their own)."""
    require_role(actor, *READ)
    query = (
        select(MeteringPoint, Member.name, Node.code)
        .join(Member, MeteringPoint.member_id == Member.id)
        .join(Node, MeteringPoint.node_id == Node.id)
        .where(MeteringPoint.id == point_id)
    )
    if actor.role == Role.MEMBER.value:
        query = query.where(MeteringPoint.member_id == actor.member_id)
    row = (await session.execute(query)).first()
    if row is None:
        raise NotFound("point_id", "no record %(record_id)s", record_id=point_id)
    return _point_view(*row)
