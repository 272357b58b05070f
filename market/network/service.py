"""Coordinator services for the network (nodes, lines, grid connections) and the market
parameters. The clearing reads the network at gate closure, so a change applies to every
interval whose gate has not closed yet."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from market.access import audit
from market.access.actor import WRITE, Actor, require_role
from market.core.errors import Conflict, NotFound, ValidationFailed
from market.core.fields import choice, commit, number, text
from market.network.models import GridConnection, Line, MeteringPoint, Node, NodeKind


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
    value = text(raw, field, max_len=40)
    if any(c.isspace() for c in value):
        raise ValidationFailed(field, "no spaces in a code (use - or _)")
    return value


def _coordinate(raw: object, field: str) -> float | None:
    if raw is None or raw == "":
        return None
    return float(number(raw, field, places=6, minimum=Decimal(-(10**6)), maximum=Decimal(10**6)))


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
            name=text(name, "name"),
            kind=choice(kind, "kind", NodeKind),
            active=True,
            map_x=_coordinate(map_x, "map_x"),
            map_y=_coordinate(map_y, "map_y"),
        )
        if await session.scalar(select(Node.id).where(Node.code == node.code)):
            raise Conflict("code", f"node {node.code!r} already exists")
        session.add(node)
        await session.flush()
        audit.record(session, actor, "create", "node", node.id, code=node.code)
        await commit(session, "code", "this node code")
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
            node.name = text(name, "name")
        if kind is not None:
            node.kind = choice(kind, "kind", NodeKind)
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
    return number(raw, "capacity_kw", places=3, maximum=Decimal(10**7), unit="kW")


def _reactance(raw: object) -> Decimal | None:
    if raw is None or raw == "":
        return None
    return number(raw, "reactance", places=6, exclusive_min=True, maximum=Decimal(10**5))


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
        a = await node_by_code(session, from_node, "from_node")
        b = await node_by_code(session, to_node, "to_node")
        if a.id == b.id:
            raise ValidationFailed("to_node", "a line joins two different nodes")
        line = Line(
            code=_code(code),
            name=text(name, "name", required=False),
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
        await commit(session, "code", "this line code")
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
            line.name = text(name, "name", required=False)
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
    return number(raw, field, places=4, minimum=Decimal(-100), maximum=Decimal(100), unit="PLN/kWh")


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
        target = await node_by_code(session, node)
        imp, exp = _price(import_price, "import_price"), _price(export_price, "export_price")
        if exp > imp:
            raise ValidationFailed("export_price", "must not exceed the import price")
        limits = [
            number(raw, key, places=3, maximum=Decimal(10**7), unit="kW")
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


async def node_by_code(session: AsyncSession, raw: object, field: str = "node") -> Node:
    """A node by code or id."""
    value = str(raw).strip() if raw is not None else ""
    node = await session.scalar(select(Node).where(Node.code == value))
    if node is None and value.isdigit():
        node = await session.get(Node, int(value))
    if node is None:
        raise ValidationFailed(field, f"unknown node {value!r}; use a node code of the network")
    return node
