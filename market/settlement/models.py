"""Stored settled days (`market.settlement.stored`): each member's figures per local day, with
what they were computed from, so that a statement reads its own rows instead of settling the
whole cluster's month again."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from market.db.base import Base, utcnow


class SettledDay(Base):
    """One local day of stored figures of one `kind`: what they were computed from (`stamp`:
    the day's clearing runs, day-ahead auction, points, reference prices and, for the
    statutory kind, rates, prices and rules) and the latest meter import they saw
    (`meter_mark`). A day whose stamp differs, or which a later meter import touched, is
    computed again on the next read."""

    __tablename__ = "settled_days"

    kind: Mapped[str] = mapped_column(String(24), primary_key=True)
    local_day: Mapped[date] = mapped_column(Date, primary_key=True)
    stamp: Mapped[str] = mapped_column(String(64))
    meter_mark: Mapped[int] = mapped_column(Integer, default=0)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)


class SettledMemberDay(Base):
    """A member's figures of one local day (`kind`), as JSON with decimals as strings (exact);
    member 0 holds the cluster's own figures where a kind has them. A member's month is read
    by the primary key (kind, member, day)."""

    __tablename__ = "settled_member_days"

    kind: Mapped[str] = mapped_column(String(24), primary_key=True)
    member_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    local_day: Mapped[date] = mapped_column(Date, primary_key=True)
    figures: Mapped[dict[str, Any]] = mapped_column(JSON)
