"""Credential versions: when what a member may do changes, what was issued before stops.

A member's `credential_version` is bumped, in the same flush, whenever the member is
deactivated, reactivated, gets a new password or a new role — whichever service made the
change (a SQLAlchemy `before_flush` hook, so no code path can forget it). Sessions and API
tokens carry the version they were issued under; the web layer compares it with a stamp it
caches per process.

After such a change (or a token's revocation) commits, the ids are handed to the callbacks
subscribed for that database engine (`on_commit`): the web app publishes them over its
channels, so every app process drops its cached stamps within a second.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event, inspect, select
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from market.access.models import ApiToken, Member

#: Member attributes whose change invalidates what was issued before.
GUARDED = ("active", "password_hash", "role")
_PENDING = "klaster.credentials"
#: `session.info` key: ids of members whose password was only rehashed (same password).
REHASHED = "klaster.rehashed"


@dataclass(frozen=True, slots=True)
class CredentialStamp:
    """What a session or token is checked against: the member's current state."""

    member_id: int
    version: int
    active: bool
    role: str


@dataclass(frozen=True, slots=True)
class Changes:
    """Committed changes the other app processes must hear of."""

    member_ids: frozenset[int] = frozenset()
    token_ids: frozenset[int] = frozenset()


@dataclass(slots=True)
class _Pending:
    members: set[int] = field(default_factory=set)
    tokens: set[int] = field(default_factory=set)


Listener = Callable[[Changes], None]
_listeners: weakref.WeakKeyDictionary[Engine, list[Listener]] = weakref.WeakKeyDictionary()


def on_commit(engine: Engine, listener: Listener) -> None:
    """Call `listener` (synchronously, right after the commit) with the credential changes
    each transaction on `engine` commits."""
    _listeners.setdefault(engine, []).append(listener)


async def load_stamp(session: AsyncSession, member_id: int) -> CredentialStamp | None:
    row = (
        await session.execute(
            select(Member.credential_version, Member.active, Member.role).where(
                Member.id == member_id
            )
        )
    ).one_or_none()
    if row is None:
        return None
    return CredentialStamp(member_id, int(row[0]), bool(row[1]), str(row[2]))


def _changed(obj: Any, names: tuple[str, ...]) -> bool:
    state = inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in names)


@event.listens_for(Session, "before_flush")
def _bump_versions(session: Session, _context: Any, _instances: Any) -> None:
    rehashed: set[int] = session.info.get(REHASHED, set())
    pending: _Pending = session.info.setdefault(_PENDING, _Pending())
    for obj in session.dirty:
        if isinstance(obj, Member):
            guarded = GUARDED if obj.id not in rehashed else ("active", "role")
            if _changed(obj, guarded):
                obj.credential_version = (obj.credential_version or 1) + 1
                pending.members.add(obj.id)
        elif isinstance(obj, ApiToken) and _changed(obj, ("revoked", "expires_at")):
            pending.tokens.add(obj.id)


@event.listens_for(Session, "after_commit")
def _announce(session: Session) -> None:
    pending: _Pending | None = session.info.pop(_PENDING, None)
    session.info.pop(REHASHED, None)
    if pending is None or not (pending.members or pending.tokens):
        return
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    changes = Changes(frozenset(pending.members), frozenset(pending.tokens))
    for listener in _listeners.get(engine, ()):
        listener(changes)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(REHASHED, None)
