"""Who is acting, and role checks (what every service receives first)."""

from __future__ import annotations

from dataclasses import dataclass

from market.access.models import Member, Role
from market.core.errors import Forbidden

WRITE = (Role.COORDINATOR,)
READ = (Role.COORDINATOR, Role.DISTRIBUTOR)


@dataclass(frozen=True, slots=True)
class Actor:
    member_id: int
    role: str
    name: str
    login: str | None = None
    #: The member's credential version when this actor was authenticated.
    credential_version: int = 1

    @property
    def is_coordinator(self) -> bool:
        return self.role == Role.COORDINATOR.value

    @property
    def is_distributor(self) -> bool:
        return self.role == Role.DISTRIBUTOR.value


def actor_of(member: Member) -> Actor:
    return Actor(member.id, member.role, member.name, member.login, member.credential_version)


def require_role(actor: Actor, *roles: Role | str) -> None:
    allowed = {str(r) for r in roles}
    if actor.role not in allowed:
        raise Forbidden("role", "this needs the role %(roles)s", roles=" or ".join(sorted(allowed)))
