"""Coordinator services for members and metering points (PPE codes validated)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from market.access import audit
from market.access.actor import READ, WRITE, Actor, require_role
from market.access.models import Member, MemberKind, Role
from market.access.passwords import MIN_LENGTH, hash_password
from market.core.errors import Conflict, NotFound, ValidationFailed
from market.core.fields import choice, commit, number, text
from market.members.ppe import validate_ppe
from market.network.models import LoadProfile, MeteringPoint, Node
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


def _password(raw: object) -> str:
    value = "" if raw is None else str(raw)
    if len(value) < MIN_LENGTH:
        raise ValidationFailed("password", f"at least {MIN_LENGTH} characters")
    return value


async def create_member(
    session: AsyncSession,
    actor: Actor,
    *,
    name: object,
    kind: object,
    role: object = Role.MEMBER.value,
    login: object = None,
    password: object = None,
    email: object = None,
    show_name: bool = False,
) -> MemberView:
    require_role(actor, *WRITE)
    try:
        member = Member(
            name=text(name, "name"),
            kind=choice(kind, "kind", MemberKind),
            role=choice(role, "role", Role),
            login=text(login, "login", max_len=80, required=False) or None,
            email=text(email, "email", required=False) or None,
            show_name=bool(show_name),
            active=True,
        )
        if member.login:
            member.password_hash = hash_password(_password(password))
            if await session.scalar(select(Member.id).where(Member.login == member.login)):
                raise Conflict("login", f"login {member.login!r} is taken; choose another")
        session.add(member)
        await session.flush()
        audit.record(
            session, actor, "create", "member", member.id, name=member.name, role=member.role
        )
        await commit(session, "login", "this login")
    except BaseException:
        await session.rollback()
        raise
    return _member_view(member)


async def update_member(
    session: AsyncSession,
    actor: Actor,
    member_id: int,
    *,
    name: object = None,
    kind: object = None,
    email: object = None,
    show_name: bool | None = None,
    password: object = None,
    active: bool | None = None,
) -> MemberView:
    require_role(actor, *WRITE)
    try:
        member = await session.get(Member, member_id)
        if member is None:
            raise NotFound("member_id", f"no member {member_id}")
        changes: dict[str, Any] = {}
        if name is not None:
            member.name = changes["name"] = text(name, "name")
        if kind is not None:
            member.kind = changes["kind"] = choice(kind, "kind", MemberKind)
        if email is not None:
            member.email = changes["email"] = text(email, "email", required=False) or None
        if show_name is not None:
            member.show_name = changes["show_name"] = bool(show_name)
        if active is not None:
            if not active and member.id == actor.member_id:
                raise ValidationFailed("active", "you cannot deactivate your own account")
            member.active = changes["active"] = bool(active)
        if password is not None and password != "":
            if not member.login:
                raise ValidationFailed("password", "the member has no login to set it for")
            member.password_hash = hash_password(_password(password))
            changes["password"] = "changed"
        audit.record(session, actor, "update", "member", member.id, details=changes)
        await session.commit()
    except BaseException:
        await session.rollback()
        raise
    return _member_view(member)


async def deactivate_member(session: AsyncSession, actor: Actor, member_id: int) -> MemberView:
    return await update_member(session, actor, member_id, active=False)


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
    )


async def _apply_point_fields(
    session: AsyncSession, point: MeteringPoint, fields: dict[str, object]
) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if "member_id" in fields:
        member = await session.get(Member, int(str(fields["member_id"])))
        if member is None or member.role != Role.MEMBER.value:
            raise ValidationFailed("member_id", "choose an existing market member")
        point.member_id = changes["member_id"] = member.id
    if "node" in fields:
        point.node_id = (await node_by_code(session, fields["node"])).id
        changes["node"] = str(fields["node"])
    if "name" in fields:
        point.name = changes["name"] = text(fields["name"], "name", required=False)
    if "contracted_power_kw" in fields:
        point.contracted_power_kw = number(
            fields["contracted_power_kw"],
            "contracted_power_kw",
            places=3,
            exclusive_min=True,
            maximum=Decimal(100000),
            unit="kW",
        )
    for key, unit, places in (
        ("pv_kwp", "kWp", 3),
        ("other_generation_kw", "kW", 3),
        ("storage_kwh", "kWh", 3),
        ("annual_use_kwh", "kWh", 3),
    ):
        if key in fields:
            value = number(fields[key], key, places=places, maximum=Decimal(10**9), unit=unit)
            setattr(point, key, value)
            changes[key] = str(value)
    if "load_profile" in fields:
        point.load_profile = choice(fields["load_profile"], "load_profile", LoadProfile)
    if "active" in fields:
        point.active = changes["active"] = bool(fields["active"])
    return changes


async def create_metering_point(
    session: AsyncSession,
    actor: Actor,
    *,
    ppe_code: object,
    member_id: object,
    node: object,
    contracted_power_kw: object,
    pv_kwp: object = 0,
    other_generation_kw: object = 0,
    storage_kwh: object = 0,
    annual_use_kwh: object = 0,
    load_profile: object = LoadProfile.HOUSEHOLD.value,
    name: object = "",
) -> MeteringPointView:
    require_role(actor, *WRITE)
    try:
        code = validate_ppe(str(ppe_code or ""), "ppe_code")
        if await session.scalar(select(MeteringPoint.id).where(MeteringPoint.ppe_code == code)):
            raise Conflict("ppe_code", f"metering point {code} is already registered")
        point = MeteringPoint(ppe_code=code, active=True)
        await _apply_point_fields(
            session,
            point,
            {
                "member_id": member_id,
                "node": node,
                "contracted_power_kw": contracted_power_kw,
                "pv_kwp": pv_kwp,
                "other_generation_kw": other_generation_kw,
                "storage_kwh": storage_kwh,
                "annual_use_kwh": annual_use_kwh,
                "load_profile": load_profile,
                "name": name,
            },
        )
        session.add(point)
        await session.flush()
        audit.record(session, actor, "create", "metering_point", point.id, ppe_code=code)
        await commit(session, "ppe_code", "this PPE code")
        return await _one_point(session, point.id)
    except BaseException:
        await session.rollback()
        raise


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
    session: AsyncSession, actor: Actor, point_id: int, **fields: object
) -> MeteringPointView:
    """Change any of: member_id, node, name, contracted_power_kw, pv_kwp,
    other_generation_kw, storage_kwh, annual_use_kwh, load_profile, active."""
    require_role(actor, *WRITE)
    allowed = {
        "member_id",
        "node",
        "name",
        "contracted_power_kw",
        "pv_kwp",
        "active",
        "other_generation_kw",
        "storage_kwh",
        "annual_use_kwh",
        "load_profile",
    }
    unknown = set(fields) - allowed
    if unknown:
        raise ValidationFailed(sorted(unknown)[0], "not a metering point field")
    try:
        point = await session.get(MeteringPoint, point_id)
        if point is None:
            raise NotFound("metering_point_id", f"no metering point {point_id}")
        changes = await _apply_point_fields(session, point, fields)
        audit.record(session, actor, "update", "metering_point", point.id, details=changes)
        await session.commit()
        return await _one_point(session, point.id)
    except BaseException:
        await session.rollback()
        raise


async def deactivate_metering_point(
    session: AsyncSession, actor: Actor, point_id: int
) -> MeteringPointView:
    return await update_metering_point(session, actor, point_id, active=False)
