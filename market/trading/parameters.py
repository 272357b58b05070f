"""The market parameters (interval length, gate closure, horizon, price band), set by the
coordinator. New values apply to intervals created from now on; the price band applies to
every order placed or changed from now on."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from market.access import audit
from market.access.actor import WRITE, Actor, require_role
from market.cluster.models import Cluster
from market.cluster.service import get_cluster
from market.core.errors import ValidationFailed
from market.core.fields import integer, text
from market.network.service import _price
from market.trading.models import Interval


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
                value: Any = text(raw, key)
            elif key == "registry_number":
                value = text(raw, key, max_len=60, required=False) or None
            elif key == "interval_minutes":
                value = integer(raw, key, 15, 60)
                if value not in (15, 60):
                    raise ValidationFailed(key, "must be 15 or 60")
                if value != cluster.interval_minutes and await session.scalar(
                    select(Interval.id).limit(1)
                ):
                    raise ValidationFailed(key, "can only change before the first interval")
            elif key == "gate_closure_minutes":
                value = integer(raw, key, 0, 24 * 60)
            elif key == "horizon_intervals":
                value = integer(raw, key, 1, 4 * 96)
            elif key in ("price_floor", "price_cap"):
                value = _price(raw, key)
            elif key == "profile_seed":
                value = integer(raw, key, 0, 2**31 - 1)
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
