"""A member's stored notifications: what the market did on the member's behalf while nobody
was looking, and why.

Today one kind is stored: a standing order's order the pipeline rejected when the scheduler
placed it (at interval creation or gate closure), with the rejection's message id and params
(the reader's language and time zone are applied when it is shown, as for any market error).
Other notices (how an order ended, a gate about to close with nothing placed) are derived
from the orders themselves and are not stored twice (`web/pages/notices.py`).

A rule rejected again for the same interval (the gate closure retries what creating the
interval could not place) is stored once: (kind, rule, interval) is unique.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from market.access.actor import Actor
from market.core.errors import KlasterError
from market.core.events import NOTIFICATION
from market.db.base import Base, utcnow
from market.trading.models import Interval

STANDING_REJECTED = "standing_rejected"
#: Warn a member about the next gate when it closes within this many market seconds (one
#: interval: the gate that closes next) and the member has nothing placed in its interval.
GATE_WARNING_S = 900


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint(
            "kind", "standing_order_id", "interval_id", name="uq_notifications_rule_interval"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    #: The reason: a market message id (English, the catalogue's key) and its params, tagged
    #: so that decimals and times come back as such (`encode_params`).
    field: Mapped[str] = mapped_column(String(64), default="")
    message_id: Mapped[str] = mapped_column(Text)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    interval_id: Mapped[int | None] = mapped_column(ForeignKey("intervals.id"))
    standing_order_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("standing_orders.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def encode_params(params: Mapping[str, object]) -> dict[str, Any]:
    """JSON-safe params that decode to the same types (decimals, dates, times)."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, Decimal):
            out[key] = {"decimal": str(value)}
        elif isinstance(value, datetime):
            out[key] = {"datetime": value.isoformat()}
        elif isinstance(value, date):
            out[key] = {"date": value.isoformat()}
        elif isinstance(value, (str, int, float, bool)) or value is None:
            out[key] = value
        else:
            out[key] = str(value)
    return out


def decode_params(params: Mapping[str, Any]) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in params.items():
        if isinstance(value, dict) and len(value) == 1:
            ((tag, text),) = value.items()
            if tag == "decimal":
                out[key] = Decimal(text)
                continue
            if tag == "datetime":
                out[key] = datetime.fromisoformat(text)
                continue
            if tag == "date":
                out[key] = date.fromisoformat(text)
                continue
        out[key] = value
    return out


@dataclass(frozen=True, slots=True)
class NotificationView:
    id: int
    kind: str
    field: str
    message_id: str
    params: dict[str, object]
    interval_id: int | None
    interval_start: datetime | None
    interval_minutes: int | None
    standing_order_id: int | None
    created_at: datetime


async def record_rejections(
    session: AsyncSession, rejected: Sequence[tuple[int, int, int, KlasterError]]
) -> list[tuple[int, int]]:
    """Store each (member, rule, interval, error) not stored before: (member, notification)
    of each stored."""
    if not rejected:
        return []
    rules = {rule for _, rule, _, _ in rejected}
    rows = await session.execute(
        select(Notification.standing_order_id, Notification.interval_id).where(
            Notification.kind == STANDING_REJECTED, Notification.standing_order_id.in_(rules)
        )
    )
    seen: set[tuple[int | None, int | None]] = {(rule, interval) for rule, interval in rows}
    fresh = []
    for member_id, rule_id, interval_id, error in rejected:
        if (rule_id, interval_id) in seen:
            continue
        seen.add((rule_id, interval_id))
        fresh.append(
            Notification(
                member_id=member_id,
                kind=STANDING_REJECTED,
                field=error.field,
                message_id=error.message_id,
                params=encode_params(error.params),
                interval_id=interval_id,
                standing_order_id=rule_id,
            )
        )
    session.add_all(fresh)
    await session.flush()
    return [(n.member_id, n.id) for n in fresh]


async def list_notifications(
    session: AsyncSession, actor: Actor, *, limit: int = 30, after_id: int = 0
) -> list[NotificationView]:
    """The member's stored notifications, newest first (`after_id`: only newer ones)."""
    rows = await session.execute(
        select(Notification, Interval.start_utc, Interval.minutes)
        .outerjoin(Interval, Interval.id == Notification.interval_id)
        .where(Notification.member_id == actor.member_id, Notification.id > after_id)
        .order_by(Notification.id.desc())
        .limit(limit)
    )
    return [
        NotificationView(
            id=n.id,
            kind=n.kind,
            field=n.field,
            message_id=n.message_id,
            params=decode_params(n.params or {}),
            interval_id=n.interval_id,
            interval_start=start,
            interval_minutes=minutes,
            standing_order_id=n.standing_order_id,
            created_at=n.created_at,
        )
        for n, start, minutes in rows.all()
    ]


def notification_event(stored: Sequence[tuple[int, int]]) -> dict[str, object] | None:
    """The live event for new notifications (member, id): whom to tell, and the last id
    before them (each member's socket reads the member's own newer ones)."""
    if not stored:
        return None
    members = sorted({member for member, _ in stored})
    return {"type": NOTIFICATION, "members": members, "after": min(i for _, i in stored) - 1}
