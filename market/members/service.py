"""Coordinator services for members and metering points (PPE codes validated). Services take
typed inputs (`market.members.inputs`) and never commit: the caller owns the transaction."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from market.access import audit
from market.access.actor import READ, WRITE, Actor, require_role
from market.access.models import Member, Role
from market.access.passwords import hash_password
from market.core.errors import Conflict, NotFound, ValidationFailed
from market.core.fields import UNSET, add_unique
from market.members.inputs import (
    MemberChange,
    MemberInput,
    MeteringPointChange,
    MeteringPointInput,
)
from market.network.models import MeteringPoint, Node, Technology
from market.network.service import node_by_code


@dataclass(frozen=True, slots=True)
class MemberView:
    id: int
    name: str
    kind: str
    role: str
    login: str | None
    email: str | None
    show_name: bool
    active: bool
    metering_points: int


def _member_view(m: Member, points: int = 0) -> MemberView:
    return MemberView(m.id, m.name, m.kind, m.role, m.login, m.email, m.show_name, m.active, points)


async def list_members(session: AsyncSession, actor: Actor) -> list[MemberView]:
    require_role(actor, *READ)
    counts = dict(
        (
            await session.execute(
                select(MeteringPoint.member_id, func.count(MeteringPoint.id)).group_by(
                    MeteringPoint.member_id
                )
            )
        ).all()
    )
    rows = (await session.scalars(select(Member).order_by(Member.name, Member.id))).all()
    return [_member_view(m, counts.get(m.id, 0)) for m in rows]


async def create_member(session: AsyncSession, actor: Actor, data: MemberInput) -> MemberView:
    require_role(actor, *WRITE)
    taken = Conflict("login", "login %(login)s is taken; choose another", login=data.login or "")
    if data.login and await session.scalar(select(Member.id).where(Member.login == data.login)):
        raise taken
    member = Member(name=data.name, kind=data.kind.value, role=data.role.value, login=data.login,
                    email=data.email, show_name=data.show_name, active=True)  # fmt: skip
    if data.login and data.password is not None:
        member.password_hash = hash_password(data.password)
    await add_unique(session, member, taken)
    audit.record(session, actor, "create", "member", member.id, name=member.name,
                 role=member.role)  # fmt: skip
    await session.flush()
    return _member_view(member)


async def update_member(
    session: AsyncSession, actor: Actor, member_id: int, change: MemberChange
) -> MemberView:
    require_role(actor, *WRITE)
    member = await session.get(Member, member_id)
    if member is None:
        raise NotFound("member_id", "no member %(member_id)s", member_id=member_id)
    changes: dict[str, Any] = {}
    if change.name is not UNSET:
        member.name = changes["name"] = change.name
    if change.kind is not UNSET:
        member.kind = changes["kind"] = change.kind.value
    if change.email is not UNSET:
        member.email = changes["email"] = change.email
    if change.show_name is not UNSET:
        member.show_name = changes["show_name"] = change.show_name
    if change.active is not UNSET:
        if not change.active and member.id == actor.member_id:
            raise ValidationFailed("active", "you cannot deactivate your own account")
        member.active = changes["active"] = change.active
    if change.password is not UNSET:
        if not member.login:
            raise ValidationFailed("password", "the member has no login to set it for")
        member.password_hash = hash_password(change.password)
        changes["password"] = "changed"
    audit.record(session, actor, "update", "member", member.id, details=changes)
    await session.flush()
    return _member_view(member)


async def deactivate_member(session: AsyncSession, actor: Actor, member_id: int) -> MemberView:
    return await update_member(session, actor, member_id, MemberChange(active=False))


# -- metering points -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MeteringPointView:
    id: int
    ppe_code: str
    member_id: int
    member_name: str
    node: str
    name: str
    contracted_power_kw: Decimal
    pv_kwp: Decimal
    other_generation_kw: Decimal
    storage_kwh: Decimal
    annual_use_kwh: Decimal
    load_profile: str
    role: str
    active: bool
    technology: str = Technology.NONE.value


async def list_metering_points(
    session: AsyncSession, actor: Actor, *, member_id: int | None = None
) -> list[MeteringPointView]:
    """All points for the coordinator and distributor; a member sees only their own."""
    query = (
        select(MeteringPoint, Member.name, Node.code)
        .join(Member, MeteringPoint.member_id == Member.id)
        .join(Node, MeteringPoint.node_id == Node.id)
        .order_by(MeteringPoint.id)
    )
    if actor.role == Role.MEMBER.value:
        member_id = actor.member_id
    if member_id is not None:
        query = query.where(MeteringPoint.member_id == member_id)
    return [_point_view(p, m, n) for p, m, n in (await session.execute(query)).all()]


def _point_view(p: MeteringPoint, member_name: str, node: str) -> MeteringPointView:
    return MeteringPointView(
        p.id,
        p.ppe_code,
        p.member_id,
        member_name,
        node,
        p.name,
        p.contracted_power_kw,
        p.pv_kwp,
        p.other_generation_kw,
        p.storage_kwh,
        p.annual_use_kwh,
        p.load_profile,
        p.role,
        p.active,
        p.technology,
    )


async def _apply_point_change(
    session: AsyncSession, point: MeteringPoint, change: MeteringPointChange
) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if change.member_id is not UNSET:
        member = await session.get(Member, change.member_id)
        if member is None or member.role != Role.MEMBER.value:
            raise ValidationFailed("member_id", "choose an existing market member")
        point.member_id = changes["member_id"] = member.id
    if change.node is not UNSET:
        point.node_id = (await node_by_code(session, change.node)).id
        changes["node"] = change.node
    if change.name is not UNSET:
        point.name = changes["name"] = change.name
    if change.contracted_power_kw is not UNSET:
        point.contracted_power_kw = change.contracted_power_kw
    for key in ("pv_kwp", "other_generation_kw", "storage_kwh", "annual_use_kwh"):
        value = getattr(change, key)
        if value is not UNSET:
            setattr(point, key, value)
            changes[key] = str(value)
    if change.load_profile is not UNSET:
        point.load_profile = change.load_profile.value
    if change.technology is not UNSET:
        point.technology = changes["technology"] = change.technology.value
    if change.active is not UNSET:
        point.active = changes["active"] = change.active
    return changes


def default_technology(data: MeteringPointInput) -> Technology:
    """As migration 0007 fills existing points: PV when it has PV, other generation → gas CHP
    (not renewable until the coordinator says what it is), storage, else none."""
    if data.pv_kwp > 0:
        return Technology.PV
    if data.other_generation_kw > 0:
        return Technology.GAS_CHP
    if data.storage_kwh > 0:
        return Technology.STORAGE
    return Technology.NONE


async def create_metering_point(
    session: AsyncSession, actor: Actor, data: MeteringPointInput
) -> MeteringPointView:
    require_role(actor, *WRITE)
    code = data.ppe_code
    registered = Conflict(
        "ppe_code", "metering point %(ppe_code)s is already registered", ppe_code=code
    )
    if await session.scalar(select(MeteringPoint.id).where(MeteringPoint.ppe_code == code)):
        raise registered
    point = MeteringPoint(ppe_code=code, active=True)
    await _apply_point_change(
        session,
        point,
        MeteringPointChange(
            member_id=data.member_id, node=data.node, name=data.name,
            contracted_power_kw=data.contracted_power_kw, pv_kwp=data.pv_kwp,
            other_generation_kw=data.other_generation_kw, storage_kwh=data.storage_kwh,
            annual_use_kwh=data.annual_use_kwh, load_profile=data.load_profile,
            technology=data.technology or default_technology(data),
        ),
    )  # fmt: skip
    await add_unique(session, point, registered)
    audit.record(session, actor, "create", "metering_point", point.id, ppe_code=code)
    await session.flush()
    return await _one_point(session, point.id)


async def _one_point(session: AsyncSession, point_id: int) -> MeteringPointView:
    row = (
        await session.execute(
            select(MeteringPoint, Member.name, Node.code)
            .join(Member, MeteringPoint.member_id == Member.id)
            .join(Node, MeteringPoint.node_id == Node.id)
            .where(MeteringPoint.id == point_id)
        )
    ).one()
    return _point_view(*row)


async def update_metering_point(
    session: AsyncSession, actor: Actor, point_id: int, change: MeteringPointChange
) -> MeteringPointView:
    require_role(actor, *WRITE)
    point = await session.get(MeteringPoint, point_id)
    if point is None:
        raise NotFound("metering_point_id", "no metering point %(point_id)s", point_id=point_id)
    changes = await _apply_point_change(session, point, change)
    audit.record(session, actor, "update", "metering_point", point.id, details=changes)
    await session.flush()
    return await _one_point(session, point.id)


async def deactivate_metering_point(
    session: AsyncSession, actor: Actor, point_id: int
) -> MeteringPointView:
    return await update_metering_point(session, actor, point_id, MeteringPointChange(active=False))
