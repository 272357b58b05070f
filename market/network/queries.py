"""The network as the live map draws it (read-only; written by the web helper)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from market.network.models import Line, Node


@dataclass(frozen=True, slots=True)
class MapNodeView:
    code: str
    name: str
    kind: str


@dataclass(frozen=True, slots=True)
class MapLineView:
    code: str
    name: str
    from_node: str
    to_node: str
    capacity_kw: Decimal


@dataclass(frozen=True, slots=True)
class NetworkMapView:
    nodes: list[MapNodeView]
    lines: list[MapLineView]


async def network_for_map(session: AsyncSession) -> NetworkMapView:
    """Active nodes and lines, lines named by their end nodes' codes."""
    nodes = (await session.scalars(select(Node).where(Node.active).order_by(Node.id))).all()
    src, dst = aliased(Node), aliased(Node)
    rows = (
        await session.execute(
            select(Line, src.code, dst.code)
            .join(src, src.id == Line.from_node_id)
            .join(dst, dst.id == Line.to_node_id)
            .where(Line.active)
            .order_by(Line.id)
        )
    ).all()
    return NetworkMapView(
        nodes=[MapNodeView(n.code, n.name, n.kind) for n in nodes],
        lines=[MapLineView(ln.code, ln.name, a, b, ln.capacity_kw) for ln, a, b in rows],
    )


async def clearable_network(session: AsyncSession) -> tuple[list[Node], list[Line]]:
    """The nodes and lines a clearing uses: the active ones, without a node no active line
    reaches when there are several. A node is added before the line to it can be: the
    clearing core refuses an unconnected node, so every interval failed ("node 'X' is not
    connected to anything") from the node's creation until its line was added. Orders and
    grid connections at a node left out are left out too, as at an inactive node."""
    nodes = list((await session.scalars(select(Node).where(Node.active).order_by(Node.id))).all())
    ids = {n.id for n in nodes}
    lines = [
        ln
        for ln in (await session.scalars(select(Line).where(Line.active).order_by(Line.id))).all()
        if ln.from_node_id in ids and ln.to_node_id in ids
    ]
    if len(nodes) > 1:
        reached = {ln.from_node_id for ln in lines} | {ln.to_node_id for ln in lines}
        nodes = [n for n in nodes if n.id in reached]
    return nodes, lines
