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
