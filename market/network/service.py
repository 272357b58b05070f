"""Coordinator services for the network (nodes, lines, grid connections). The clearing reads
the network at gate closure, so a change applies to every interval whose gate has not closed
yet. Services take typed inputs (`market.network.inputs`) and never commit: the caller owns
the transaction."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from market.access import audit
from market.access.actor import WRITE, Actor, require_role
from market.core.errors import Conflict, NotFound, ValidationFailed
from market.core.fields import UNSET, add_unique
from market.core.money import id_or_none
from market.network.inputs import (
    GridConnectionInput,
    LineChange,
    LineInput,
    NodeChange,
    NodeInput,
)
from market.network.models import GridConnection, Line, MeteringPoint, Node


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


def _node_view(n: Node) -> NodeView:
    return NodeView(n.id, n.code, n.name, n.kind, n.active, n.map_x, n.map_y)


async def create_node(session: AsyncSession, actor: Actor, data: NodeInput) -> NodeView:
    require_role(actor, *WRITE)
    duplicate = Conflict("code", "node %(code)s already exists", code=data.code)
    if await session.scalar(select(Node.id).where(Node.code == data.code)):
        raise duplicate
    node = Node(code=data.code, name=data.name, kind=data.kind.value, active=True,
                map_x=data.map_x, map_y=data.map_y)  # fmt: skip
    await add_unique(session, node, duplicate)
    audit.record(session, actor, "create", "node", node.id, code=node.code)
    await session.flush()
    return _node_view(node)


async def update_node(
    session: AsyncSession, actor: Actor, node_id: int, change: NodeChange
) -> NodeView:
    require_role(actor, *WRITE)
    node = await session.get(Node, node_id)
    if node is None:
        raise NotFound("node_id", "no node %(node_id)s", node_id=node_id)
    if change.name is not UNSET:
        node.name = change.name
    if change.kind is not UNSET:
        node.kind = change.kind.value
    if change.map_x is not UNSET:
        node.map_x = change.map_x
    if change.map_y is not UNSET:
        node.map_y = change.map_y
    if change.active is not UNSET:
        if not change.active:
            used = await session.scalar(
                select(func.count(MeteringPoint.id)).where(
                    MeteringPoint.node_id == node.id, MeteringPoint.active
                )
            )
            if used:
                raise ValidationFailed(
                    "active",
                    "%(count)s active metering point(s) sit at this node; move them",
                    count=used,
                )
        node.active = change.active
    audit.record(session, actor, "update", "node", node.id, active=node.active)
    await session.flush()
    return _node_view(node)


async def create_line(session: AsyncSession, actor: Actor, data: LineInput) -> LineView:
    require_role(actor, *WRITE)
    a = await node_by_code(session, data.from_node, "from_node")
    b = await node_by_code(session, data.to_node, "to_node")
    if a.id == b.id:
        raise ValidationFailed("to_node", "a line joins two different nodes")
    duplicate = Conflict("code", "line %(code)s already exists", code=data.code)
    if await session.scalar(select(Line.id).where(Line.code == data.code)):
        raise duplicate
    line = Line(code=data.code, name=data.name, from_node_id=a.id, to_node_id=b.id,
                capacity_kw=data.capacity_kw, reactance=data.reactance, active=True)  # fmt: skip
    await add_unique(session, line, duplicate)
    audit.record(session, actor, "create", "line", line.id, code=line.code,
                 capacity_kw=str(line.capacity_kw))  # fmt: skip
    await session.flush()
    return LineView(
        line.id, line.code, line.name, a.code, b.code, line.capacity_kw, line.reactance, line.active
    )


async def update_line(
    session: AsyncSession, actor: Actor, line_id: int, change: LineChange
) -> LineView:
    """Change a line; the next gate closure uses the new values."""
    require_role(actor, *WRITE)
    line = await session.get(Line, line_id)
    if line is None:
        raise NotFound("line_id", "no line %(line_id)s", line_id=line_id)
    changes: dict[str, Any] = {}
    if change.capacity_kw is not UNSET:
        line.capacity_kw = change.capacity_kw
        changes["capacity_kw"] = str(line.capacity_kw)
    if change.reactance is not UNSET:
        line.reactance = change.reactance
        changes["reactance"] = str(line.reactance)
    if change.active is not UNSET:
        line.active = changes["active"] = change.active
    if change.name is not UNSET:
        line.name = change.name
    audit.record(session, actor, "update", "line", line.id, details=changes)
    await session.flush()
    codes = dict((await session.execute(select(Node.id, Node.code))).all())
    return LineView(line.id, line.code, line.name, codes[line.from_node_id],
                    codes[line.to_node_id], line.capacity_kw, line.reactance,
                    line.active)  # fmt: skip


async def set_grid_connection(
    session: AsyncSession, actor: Actor, data: GridConnectionInput
) -> GridConnectionView:
    require_role(actor, *WRITE)
    target = await node_by_code(session, data.node)
    conn = await session.scalar(select(GridConnection).where(GridConnection.node_id == target.id))
    if conn is None:
        conn = GridConnection(node_id=target.id)
        session.add(conn)
    conn.import_price, conn.export_price = data.import_price, data.export_price
    conn.import_limit_kw, conn.export_limit_kw = data.import_limit_kw, data.export_limit_kw
    audit.record(session, actor, "set", "grid_connection", target.code,
                 import_price=str(data.import_price),
                 export_price=str(data.export_price))  # fmt: skip
    await session.flush()
    return GridConnectionView(target.code, data.import_price, data.export_price,
                              data.import_limit_kw, data.export_limit_kw)  # fmt: skip


async def node_by_code(session: AsyncSession, value: str, field: str = "node") -> Node:
    """A node by code or id."""
    value = value.strip()
    node = await session.scalar(select(Node).where(Node.code == value))
    if node is None:
        # an id: ASCII digits within the database's integer (`"²".isdigit()` is true, and
        # a 30-digit id overflowed SQLite's integer: both were 500s)
        node_id = id_or_none(value)
        if node_id is not None:
            node = await session.get(Node, node_id)
    if node is None:
        raise ValidationFailed(
            field, "unknown node %(node)s; use a node code of the network", node=value
        )
    return node
