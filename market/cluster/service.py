"""The cluster record: read by every service that needs the market's parameters."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from market.cluster.models import Cluster
from market.core.errors import NotFound


async def get_cluster(session: AsyncSession) -> Cluster:
    cluster = await session.scalar(select(Cluster).order_by(Cluster.id).limit(1))
    if cluster is None:
        raise NotFound("cluster", "no cluster set up yet; run 'klaster seed --demo' first")
    return cluster


@dataclass(frozen=True, slots=True)
class ClusterInfo:
    """The cluster's public parameters as the pages show them (a snapshot, not ORM)."""

    name: str
    coordinator_name: str
    timezone: str
    interval_minutes: int
    gate_closure_minutes: int
    price_floor: Decimal
    price_cap: Decimal


async def cluster_info(session: AsyncSession) -> ClusterInfo:
    c = await get_cluster(session)
    return ClusterInfo(
        c.name, c.coordinator_name, c.timezone, c.interval_minutes, c.gate_closure_minutes,
        c.price_floor, c.price_cap,
    )  # fmt: skip


async def is_empty(session: AsyncSession) -> bool:
    """True when no cluster has been set up yet (seed-if-empty)."""
    return (await session.scalar(select(Cluster.id).limit(1))) is None
