"""Writing and reading the append-only audit log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from market.access.actor import Actor, require_role
from market.access.models import AuditEntry, Role


def row(
    actor: Actor | None,
    action: str,
    entity: str,
    entity_id: object = None,
    *,
    interval_id: int | None = None,
    details: dict[str, Any] | None = None,
    **more: Any,
) -> dict[str, Any]:
    """The column values of one entry (for `record`, or a bulk insert of many entries)."""
    return {
        "actor_id": actor.member_id if actor else None,
        "actor_name": actor.name if actor else "system",
        "action": action,
        "entity": entity,
        "entity_id": None if entity_id is None else str(entity_id),
        "interval_id": interval_id,
        "details": {k: _jsonable(v) for k, v in {**(details or {}), **more}.items()},
    }


def record(
    session: AsyncSession,
    actor: Actor | None,
    action: str,
    entity: str,
    entity_id: object = None,
    **fields: Any,
) -> AuditEntry:
    """Add an entry to the caller's transaction (it is committed, or not, with the change).
    `fields`: `interval_id`, `details` and further details, as for `row`."""
    entry = AuditEntry(**row(actor, action, entity, entity_id, **fields))
    session.add(entry)
    return entry


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return str(value)


@dataclass(frozen=True, slots=True)
class AuditView:
    id: int
    at: datetime
    actor_id: int | None
    actor_name: str
    action: str
    entity: str
    entity_id: str | None
    interval_id: int | None
    details: dict[str, Any]


async def list_audit(
    session: AsyncSession,
    actor: Actor,
    *,
    limit: int = 100,
    before_id: int | None = None,
    entity: str | None = None,
    entity_id: str | None = None,
) -> list[AuditView]:
    """Newest first; page with `before_id`. Coordinator and distributor only."""
    require_role(actor, Role.COORDINATOR, Role.DISTRIBUTOR)
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(max(1, min(limit, 1000)))
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    if entity:
        query = query.where(AuditEntry.entity == entity)
    if entity_id:
        query = query.where(AuditEntry.entity_id == entity_id)
    rows = (await session.scalars(query)).all()
    return [
        AuditView(
            r.id,
            r.at,
            r.actor_id,
            r.actor_name,
            r.action,
            r.entity,
            r.entity_id,
            r.interval_id,
            dict(r.details),
        )
        for r in rows
    ]
