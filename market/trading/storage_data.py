"""A storage metering point's technical data (energy, charge/discharge power, efficiencies,
minimum and final-minimum state of charge) as its owner and the coordinator see and edit it.

Metering points are the coordinator's to manage (`market.members.service`): the coordinator
may edit any point's storage data and make a point a storage point (technology `storage`,
which the law's rule set counts as not renewable); the owner edits the data of their own
storage point. Another member's point answers as an unused id does. Services never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from market.access import audit
from market.access.actor import Actor
from market.access.models import Role
from market.core.errors import Forbidden, NotFound, ValidationFailed
from market.network.models import MeteringPoint, Technology
from market.trading.day_ahead import (
    StorageUnitInput,
    StorageUnitView,
    storage_unit,
    storage_unit_view,
    write_storage_unit,
)


@dataclass(frozen=True, slots=True)
class StoragePointView:
    id: int
    ppe_code: str
    name: str
    technology: str
    contracted_power_kw: Decimal
    active: bool
    unit: StorageUnitView | None
    #: The coordinator may make the point a storage point; its owner may not.
    may_set_technology: bool

    @property
    def is_storage(self) -> bool:
        return self.technology == Technology.STORAGE.value


def _coordinator(actor: Actor) -> bool:
    return actor.role == Role.COORDINATOR.value


async def _managed_point(session: AsyncSession, actor: Actor, point_id: int) -> MeteringPoint:
    point = await session.get(MeteringPoint, point_id)
    if point is None or (not _coordinator(actor) and point.member_id != actor.member_id):
        raise NotFound("metering_point_id", "no metering point %(id)s", id=point_id)
    return point


async def _view(session: AsyncSession, actor: Actor, point: MeteringPoint) -> StoragePointView:
    unit = await storage_unit(session, point.id)
    return StoragePointView(
        id=point.id,
        ppe_code=point.ppe_code,
        name=point.name,
        technology=point.technology,
        contracted_power_kw=point.contracted_power_kw,
        active=point.active,
        unit=None if unit is None else storage_unit_view(unit),
        may_set_technology=_coordinator(actor),
    )


async def storage_point(session: AsyncSession, actor: Actor, point_id: int) -> StoragePointView:
    """The point and its storage data (None before any was entered)."""
    return await _view(session, actor, await _managed_point(session, actor, point_id))


async def save_storage_data(
    session: AsyncSession,
    actor: Actor,
    point_id: int,
    inp: StorageUnitInput,
    *,
    make_storage: bool = False,
) -> StoragePointView:
    """Store the point's storage data; with `make_storage` (the coordinator only) the point
    becomes a storage point first."""
    point = await _managed_point(session, actor, point_id)
    if not point.active:
        raise ValidationFailed(
            "metering_point_id", "metering point %(ppe)s is inactive", ppe=point.ppe_code
        )
    if make_storage and point.technology != Technology.STORAGE.value:
        if not _coordinator(actor):
            raise Forbidden("technology", "only the coordinator sets a metering point's technology")
        audit.record(session, actor, "update", "metering_point", point.id,
                     technology=Technology.STORAGE.value, previous=point.technology)  # fmt: skip
        point.technology = Technology.STORAGE.value
    await write_storage_unit(session, actor, point, inp)
    return await _view(session, actor, point)
