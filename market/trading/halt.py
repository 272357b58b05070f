"""The market halt: the coordinator stops all trading (with a reason shown to everyone) and
resumes it. While halted, no order is placed, modified or cancelled (`check_trading`);
gates still close and intervals clear with the orders they have (docs/clearing.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from market.access import audit
from market.access.actor import WRITE, Actor, require_role
from market.cluster.models import Cluster
from market.cluster.service import get_cluster
from market.core.errors import Conflict, MarketHalted
from market.core.events import MARKET_HALTED, Publisher, publish_safely
from market.core.fields import Fields, text

#: The longest reason a halt may give.
REASON_MAX_CHARS = 200


@dataclass(frozen=True, slots=True)
class HaltState:
    """Whether the market is halted: since when and why (both None while trading)."""

    halted_at: datetime | None = None
    reason: str | None = None

    @property
    def halted(self) -> bool:
        return self.halted_at is not None


def halt_event(state: HaltState) -> dict[str, object]:
    """The live event of a halt or resume (`market.core.events`)."""
    at = state.halted_at.isoformat() if state.halted_at is not None else None
    return {"type": MARKET_HALTED, "halted_at": at, "reason": state.reason}


def state_of_event(event: dict[str, object]) -> HaltState:
    """The halt an event announces (`halt_event`'s inverse)."""
    at, reason = event.get("halted_at"), event.get("reason")
    if not isinstance(at, str):
        return HaltState()
    return HaltState(datetime.fromisoformat(at), reason if isinstance(reason, str) else "")


async def publish_halt(publisher: Publisher, state: HaltState) -> None:
    """Tell the live views (after the caller's commit)."""
    await publish_safely(publisher, MARKET_HALTED, halt_event(state))


def parse_reason(fields: Fields) -> str:
    """The halt's reason: required, at most 200 characters."""
    return text(fields.get("reason"), "reason", max_len=REASON_MAX_CHARS)


def check_trading(cluster: Cluster) -> None:
    """Raise `MarketHalted` (with the reason) while the coordinator has halted the market."""
    if cluster.halted_at is not None:
        raise MarketHalted("", "the market is halted: %(reason)s", reason=cluster.halt_reason or "")


async def halt_state(session: AsyncSession) -> HaltState:
    """The halt as stored (one small query)."""
    row = (
        await session.execute(
            select(Cluster.halted_at, Cluster.halt_reason).order_by(Cluster.id).limit(1)
        )
    ).first()
    return HaltState() if row is None else HaltState(row[0], row[1])


async def halt_market(session: AsyncSession, actor: Actor, now: datetime, reason: str) -> HaltState:
    """Halt the market with a reason (coordinator); audited."""
    require_role(actor, *WRITE)
    cluster = await get_cluster(session)
    if cluster.halted_at is not None:
        raise Conflict("", "the market is already halted")
    cluster.halted_at = now
    cluster.halt_reason = reason
    audit.record(session, actor, "halt", "market", cluster.id, reason=reason)
    await session.flush()
    return HaltState(now, reason)


async def resume_market(session: AsyncSession, actor: Actor) -> HaltState:
    """Resume trading (coordinator); audited."""
    require_role(actor, *WRITE)
    cluster = await get_cluster(session)
    if cluster.halted_at is None:
        raise Conflict("", "the market is not halted")
    audit.record(session, actor, "resume", "market", cluster.id, reason=cluster.halt_reason)
    cluster.halted_at = None
    cluster.halt_reason = None
    await session.flush()
    return HaltState()
