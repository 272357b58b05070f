"""The coordinator's services: members, metering points, the network, market parameters.

Writes need the coordinator role; reads also allow the distributor. Every rejection names
the field and the rule; a rejected request changes nothing (one transaction per call).
Network changes apply to every interval whose gate has not closed yet (the clearing reads the
network at gate closure).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from market import audit
from market.auth import Actor, require_role
from market.errors import Conflict, NotFound, ValidationFailed
from market.intervals import get_cluster
from market.models import (
    Cluster,
    GridConnection,
    Interval,
    Line,
    LoadProfile,
    Member,
    MemberKind,
    MeteringPoint,
    Node,
    NodeKind,
    Role,
)
from market.money import decimal_places, parse_decimal
from market.passwords import MIN_LENGTH, hash_password
from market.ppe import validate_ppe

WRITE = (Role.COORDINATOR,)
READ = (Role.COORDINATOR, Role.DISTRIBUTOR)


# -- parsing -------------------------------------------------------------------------------


def _text(raw: object, field: str, *, max_len: int = 200, required: bool = True) -> str:
    value = "" if raw is None else str(raw).strip()
    if required and not value:
        raise ValidationFailed(field, "required")
    if len(value) > max_len:
        raise ValidationFailed(field, f"at most {max_len} characters")
    return value


def _number(
    raw: object,
    field: str,
    *,
    places: int,
    minimum: Decimal | None = Decimal(0),
    maximum: Decimal | None = None,
    exclusive_min: bool = False,
    unit: str = "",
) -> Decimal:
    try:
        value = parse_decimal(raw, field)
    except ValueError as exc:
        raise ValidationFailed(field, f"{exc}{f' ({unit})' if unit else ''}") from None
    if decimal_places(value) > places:
        raise ValidationFailed(field, f"at most {places} decimals")
    if minimum is not None and (value <= minimum if exclusive_min else value < minimum):
        rule = "greater than" if exclusive_min else "at least"
        raise ValidationFailed(field, f"must be {rule} {minimum} {unit}".rstrip())
    if maximum is not None and value > maximum:
        raise ValidationFailed(field, f"must be at most {maximum} {unit}".rstrip())
    return value


def _choice(raw: object, field: str, enum: Any) -> str:
    try:
        return str(enum(str(raw).strip().lower()).value)
    except ValueError:
        values = ", ".join(e.value for e in enum)
        raise ValidationFailed(field, f"must be one of: {values}") from None


def _int(raw: object, field: str, lo: int, hi: int) -> int:
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise ValidationFailed(field, "must be a whole number") from None
    if not lo <= value <= hi:
        raise ValidationFailed(field, f"must be between {lo} and {hi}")
    return value


async def _commit(session: AsyncSession, field: str, what: str) -> None:
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise Conflict(field, f"{what} already exists") from None


async def _node(session: AsyncSession, raw: object, field: str = "node") -> Node:
    """A node by code or id."""
    value = str(raw).strip() if raw is not None else ""
    node = await session.scalar(select(Node).where(Node.code == value))
    if node is None and value.isdigit():
        node = await session.get(Node, int(value))
    if node is None:
        raise ValidationFailed(field, f"unknown node {value!r}; use a node code of the network")
    return node


# -- members -------------------------------------------------------------------------------


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
            name=_text(name, "name"),
            kind=_choice(kind, "kind", MemberKind),
            role=_choice(role, "role", Role),
            login=_text(login, "login", max_len=80, required=False) or None,
            email=_text(email, "email", required=False) or None,
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
        await _commit(session, "login", "this login")
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
            member.name = changes["name"] = _text(name, "name")
        if kind is not None:
            member.kind = changes["kind"] = _choice(kind, "kind", MemberKind)
        if email is not None:
            member.email = changes["email"] = _text(email, "email", required=False) or None
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
        point.node_id = (await _node(session, fields["node"])).id
        changes["node"] = str(fields["node"])
    if "name" in fields:
        point.name = changes["name"] = _text(fields["name"], "name", required=False)
    if "contracted_power_kw" in fields:
        point.contracted_power_kw = _number(
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
            value = _number(fields[key], key, places=places, maximum=Decimal(10**9), unit=unit)
            setattr(point, key, value)
            changes[key] = str(value)
    if "load_profile" in fields:
        point.load_profile = _choice(fields["load_profile"], "load_profile", LoadProfile)
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
        await _commit(session, "ppe_code", "this PPE code")
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


# -- network -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NodeView:
    id: int
    code: str
    name: str
    kind: str
    active: bool
    map_x: float | None
    map_y: float | None


@dataclass(frozen=True, slots=True)
class LineView:
    id: int
    code: str
    name: str
    from_node: str
    to_node: str
    capacity_kw: Decimal
    reactance: Decimal | None
    active: bool


@dataclass(frozen=True, slots=True)
class GridConnectionView:
    node: str
    import_price: Decimal
    export_price: Decimal
    import_limit_kw: Decimal
    export_limit_kw: Decimal


@dataclass(frozen=True, slots=True)
class NetworkView:
    nodes: list[NodeView]
    lines: list[LineView]
    grid_connections: list[GridConnectionView]


async def list_network(session: AsyncSession) -> NetworkView:
    """The network (readable by everyone signed in: the live map draws it)."""
    nodes = (await session.scalars(select(Node).order_by(Node.id))).all()
    code = {n.id: n.code for n in nodes}
    lines = (await session.scalars(select(Line).order_by(Line.id))).all()
    conns = (await session.scalars(select(GridConnection).order_by(GridConnection.id))).all()
    return NetworkView(
        [NodeView(n.id, n.code, n.name, n.kind, n.active, n.map_x, n.map_y) for n in nodes],
        [
            LineView(
                ln.id,
                ln.code,
                ln.name,
                code[ln.from_node_id],
                code[ln.to_node_id],
                ln.capacity_kw,
                ln.reactance,
                ln.active,
            )
            for ln in lines
        ],
        [
            GridConnectionView(
                code[g.node_id],
                g.import_price,
                g.export_price,
                g.import_limit_kw,
                g.export_limit_kw,
            )
            for g in conns
        ],
    )


def _code(raw: object, field: str = "code") -> str:
    value = _text(raw, field, max_len=40)
    if any(c.isspace() for c in value):
        raise ValidationFailed(field, "no spaces in a code (use - or _)")
    return value


def _coordinate(raw: object, field: str) -> float | None:
    if raw is None or raw == "":
        return None
    return float(_number(raw, field, places=6, minimum=Decimal(-(10**6)), maximum=Decimal(10**6)))


async def create_node(
    session: AsyncSession,
    actor: Actor,
    *,
    code: object,
    name: object,
    kind: object,
    map_x: object = None,
    map_y: object = None,
) -> NodeView:
    require_role(actor, *WRITE)
    try:
        node = Node(
            code=_code(code),
            name=_text(name, "name"),
            kind=_choice(kind, "kind", NodeKind),
            active=True,
            map_x=_coordinate(map_x, "map_x"),
            map_y=_coordinate(map_y, "map_y"),
        )
        if await session.scalar(select(Node.id).where(Node.code == node.code)):
            raise Conflict("code", f"node {node.code!r} already exists")
        session.add(node)
        await session.flush()
        audit.record(session, actor, "create", "node", node.id, code=node.code)
        await _commit(session, "code", "this node code")
    except BaseException:
        await session.rollback()
        raise
    return NodeView(node.id, node.code, node.name, node.kind, node.active, node.map_x, node.map_y)


async def update_node(
    session: AsyncSession,
    actor: Actor,
    node_id: int,
    *,
    name: object = None,
    kind: object = None,
    active: bool | None = None,
    map_x: object = None,
    map_y: object = None,
) -> NodeView:
    require_role(actor, *WRITE)
    try:
        node = await session.get(Node, node_id)
        if node is None:
            raise NotFound("node_id", f"no node {node_id}")
        if name is not None:
            node.name = _text(name, "name")
        if kind is not None:
            node.kind = _choice(kind, "kind", NodeKind)
        if map_x is not None:
            node.map_x = _coordinate(map_x, "map_x")
        if map_y is not None:
            node.map_y = _coordinate(map_y, "map_y")
        if active is not None:
            if not active:
                used = await session.scalar(
                    select(func.count(MeteringPoint.id)).where(
                        MeteringPoint.node_id == node.id, MeteringPoint.active
                    )
                )
                if used:
                    raise ValidationFailed(
                        "active", f"{used} active metering point(s) sit at this node; move them"
                    )
            node.active = bool(active)
        audit.record(session, actor, "update", "node", node.id, active=node.active)
        await session.commit()
    except BaseException:
        await session.rollback()
        raise
    return NodeView(node.id, node.code, node.name, node.kind, node.active, node.map_x, node.map_y)


def _capacity(raw: object) -> Decimal:
    return _number(raw, "capacity_kw", places=3, maximum=Decimal(10**7), unit="kW")


def _reactance(raw: object) -> Decimal | None:
    if raw is None or raw == "":
        return None
    return _number(raw, "reactance", places=6, exclusive_min=True, maximum=Decimal(10**5))


async def create_line(
    session: AsyncSession,
    actor: Actor,
    *,
    code: object,
    from_node: object,
    to_node: object,
    capacity_kw: object,
    reactance: object = None,
    name: object = "",
) -> LineView:
    require_role(actor, *WRITE)
    try:
        a = await _node(session, from_node, "from_node")
        b = await _node(session, to_node, "to_node")
        if a.id == b.id:
            raise ValidationFailed("to_node", "a line joins two different nodes")
        line = Line(
            code=_code(code),
            name=_text(name, "name", required=False),
            from_node_id=a.id,
            to_node_id=b.id,
            capacity_kw=_capacity(capacity_kw),
            reactance=_reactance(reactance),
            active=True,
        )
        if await session.scalar(select(Line.id).where(Line.code == line.code)):
            raise Conflict("code", f"line {line.code!r} already exists")
        session.add(line)
        await session.flush()
        audit.record(
            session,
            actor,
            "create",
            "line",
            line.id,
            code=line.code,
            capacity_kw=str(line.capacity_kw),
        )
        await _commit(session, "code", "this line code")
    except BaseException:
        await session.rollback()
        raise
    return LineView(
        line.id, line.code, line.name, a.code, b.code, line.capacity_kw, line.reactance, line.active
    )


async def update_line(
    session: AsyncSession,
    actor: Actor,
    line_id: int,
    *,
    capacity_kw: object = None,
    reactance: object = None,
    active: bool | None = None,
    name: object = None,
) -> LineView:
    """Change a line; the next gate closure uses the new values."""
    require_role(actor, *WRITE)
    try:
        line = await session.get(Line, line_id)
        if line is None:
            raise NotFound("line_id", f"no line {line_id}")
        changes: dict[str, Any] = {}
        if capacity_kw is not None and capacity_kw != "":
            line.capacity_kw = _capacity(capacity_kw)
            changes["capacity_kw"] = str(line.capacity_kw)
        if reactance is not None:
            line.reactance = _reactance(reactance)
            changes["reactance"] = str(line.reactance)
        if active is not None:
            line.active = changes["active"] = bool(active)
        if name is not None:
            line.name = _text(name, "name", required=False)
        audit.record(session, actor, "update", "line", line.id, details=changes)
        await session.commit()
        codes = dict((await session.execute(select(Node.id, Node.code))).all())
    except BaseException:
        await session.rollback()
        raise
    return LineView(
        line.id,
        line.code,
        line.name,
        codes[line.from_node_id],
        codes[line.to_node_id],
        line.capacity_kw,
        line.reactance,
        line.active,
    )


def _price(raw: object, field: str) -> Decimal:
    return _number(
        raw, field, places=4, minimum=Decimal(-100), maximum=Decimal(100), unit="PLN/kWh"
    )


async def set_grid_connection(
    session: AsyncSession,
    actor: Actor,
    *,
    node: object,
    import_price: object,
    export_price: object,
    import_limit_kw: object,
    export_limit_kw: object,
) -> GridConnectionView:
    require_role(actor, *WRITE)
    try:
        target = await _node(session, node)
        imp, exp = _price(import_price, "import_price"), _price(export_price, "export_price")
        if exp > imp:
            raise ValidationFailed("export_price", "must not exceed the import price")
        limits = [
            _number(raw, key, places=3, maximum=Decimal(10**7), unit="kW")
            for raw, key in (
                (import_limit_kw, "import_limit_kw"),
                (export_limit_kw, "export_limit_kw"),
            )
        ]
        conn = await session.scalar(
            select(GridConnection).where(GridConnection.node_id == target.id)
        )
        if conn is None:
            conn = GridConnection(node_id=target.id)
            session.add(conn)
        conn.import_price, conn.export_price = imp, exp
        conn.import_limit_kw, conn.export_limit_kw = limits
        audit.record(
            session,
            actor,
            "set",
            "grid_connection",
            target.code,
            import_price=str(imp),
            export_price=str(exp),
        )
        await session.commit()
    except BaseException:
        await session.rollback()
        raise
    return GridConnectionView(target.code, imp, exp, limits[0], limits[1])


# -- market parameters ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ParametersView:
    name: str
    registry_number: str | None
    coordinator_name: str
    timezone: str
    interval_minutes: int
    gate_closure_minutes: int
    horizon_intervals: int
    price_floor: Decimal
    price_cap: Decimal
    profile_seed: int


def _params(c: Cluster) -> ParametersView:
    return ParametersView(
        c.name,
        c.registry_number,
        c.coordinator_name,
        c.timezone,
        c.interval_minutes,
        c.gate_closure_minutes,
        c.horizon_intervals,
        c.price_floor,
        c.price_cap,
        c.profile_seed,
    )


async def get_parameters(session: AsyncSession) -> ParametersView:
    return _params(await get_cluster(session))


async def update_parameters(
    session: AsyncSession, actor: Actor, **fields: object
) -> ParametersView:
    """Change any of: name, registry_number, coordinator_name, interval_minutes (only before
    the first interval exists), gate_closure_minutes, horizon_intervals, price_floor,
    price_cap, profile_seed. New values apply to intervals created from now on; the price band
    applies to every order placed or changed from now on."""
    require_role(actor, *WRITE)
    try:
        cluster = await get_cluster(session)
        changes: dict[str, Any] = {}
        for key, raw in fields.items():
            if key in ("name", "coordinator_name"):
                value: Any = _text(raw, key)
            elif key == "registry_number":
                value = _text(raw, key, max_len=60, required=False) or None
            elif key == "interval_minutes":
                value = _int(raw, key, 15, 60)
                if value not in (15, 60):
                    raise ValidationFailed(key, "must be 15 or 60")
                if value != cluster.interval_minutes and await session.scalar(
                    select(Interval.id).limit(1)
                ):
                    raise ValidationFailed(key, "can only change before the first interval")
            elif key == "gate_closure_minutes":
                value = _int(raw, key, 0, 24 * 60)
            elif key == "horizon_intervals":
                value = _int(raw, key, 1, 4 * 96)
            elif key in ("price_floor", "price_cap"):
                value = _price(raw, key)
            elif key == "profile_seed":
                value = _int(raw, key, 0, 2**31 - 1)
            else:
                raise ValidationFailed(key, "not a market parameter")
            setattr(cluster, key, value)
            changes[key] = str(value)
        if cluster.price_floor > cluster.price_cap:
            raise ValidationFailed("price_floor", "must not be above the price cap")
        audit.record(session, actor, "update", "parameters", cluster.id, details=changes)
        await session.commit()
    except BaseException:
        await session.rollback()
        raise
    return _params(cluster)
