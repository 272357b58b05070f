"""The day-ahead auction of a local day, and the day-ahead orders that are not simple orders:
storage orders and exclusive groups of block orders (simple day-ahead orders are `Order` rows
with `market = 'da'`, placed by the one order pipeline)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Integer, String, Text
from sqlalchemy import UniqueConstraint as Unique
from sqlalchemy.orm import Mapped, mapped_column

from market.db.base import Base, Dec, check_in, energy_kwh, power_kw, price_pln, utcnow


class Market(StrEnum):
    """Which auction an order is for."""

    INTRADAY = "id"  # the per-interval auction (its own gate per interval)
    DAY_AHEAD = "da"  # the day-ahead auction of the interval's local day


class AuctionStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    CLEARING = "clearing"
    CLEARED = "cleared"
    FAILED = "failed"


class DayAheadAuction(Base):
    """The day-ahead auction of one local day. open → closed (gate) → clearing (claimed) →
    cleared | failed, the same claim/lease guard as an interval's."""

    __tablename__ = "day_ahead_auctions"
    __table_args__ = (CheckConstraint(check_in("status", AuctionStatus), name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    local_day: Mapped[date] = mapped_column(Date, unique=True)
    gate_closure_utc: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default=AuctionStatus.OPEN.value)
    reason: Mapped[str | None] = mapped_column(Text)
    #: How many times it has been cleared (a re-clear stores version + 1).
    version: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    claim_until: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    cleared_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StorageOrder(Base):
    """Schedule my storage unit on a day: its initial state and its wear cost. A standing one
    (`local_day` NULL, `daily`) places a day's order into every day-ahead auction."""

    __tablename__ = "storage_orders"
    __table_args__ = (
        CheckConstraint("soc_initial_kwh >= 0", name="soc_initial"),
        CheckConstraint("cost_per_kwh >= 0", name="cost"),
        CheckConstraint("(local_day IS NULL) = daily", name="daily"),
        Unique("metering_point_id", "local_day"),
        Unique("standing_id", "local_day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    metering_point_id: Mapped[int] = mapped_column(ForeignKey("metering_points.id"), index=True)
    local_day: Mapped[date | None] = mapped_column(Date, index=True)
    daily: Mapped[bool] = mapped_column(default=False)
    soc_initial_kwh: Mapped[Decimal] = mapped_column(energy_kwh())
    #: Wear cost per kWh discharged (PLN/kWh).
    cost_per_kwh: Mapped[Decimal] = mapped_column(price_pln(), default=Decimal(0))
    #: The standing order this day's order was placed by.
    standing_id: Mapped[int | None] = mapped_column(
        ForeignKey("storage_orders.id", ondelete="SET NULL")
    )
    cancelled: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class BlockGroup(Base):
    """Exclusive block orders made by one form: run `power_kw` for `duration_minutes`,
    starting at any step of `start_step_minutes` from `start_from` to `start_to` (local
    minutes after midnight); at most one of the group's blocks is accepted. A standing group
    (`daily`) places a day's group into every day-ahead auction."""

    __tablename__ = "block_groups"
    __table_args__ = (
        CheckConstraint("side IN ('buy', 'sell')", name="side"),
        CheckConstraint("power_kw > 0", name="power"),
        CheckConstraint("duration_minutes > 0", name="duration"),
        CheckConstraint("start_from >= 0 AND start_from <= start_to", name="starts"),
        CheckConstraint("start_step_minutes > 0", name="step"),
        CheckConstraint(
            "min_acceptance_ratio > 0 AND min_acceptance_ratio <= 1", name="min_acceptance"
        ),
        CheckConstraint("(local_day IS NULL) = daily", name="daily"),
        Unique("standing_id", "local_day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    metering_point_id: Mapped[int] = mapped_column(ForeignKey("metering_points.id"), index=True)
    local_day: Mapped[date | None] = mapped_column(Date, index=True)
    daily: Mapped[bool] = mapped_column(default=False)
    name: Mapped[str] = mapped_column(String(100), default="")
    side: Mapped[str] = mapped_column(String(4))
    power_kw: Mapped[Decimal] = mapped_column(power_kw())
    duration_minutes: Mapped[int] = mapped_column(Integer)
    start_from: Mapped[int] = mapped_column(Integer)
    start_to: Mapped[int] = mapped_column(Integer)
    start_step_minutes: Mapped[int] = mapped_column(Integer, default=60)
    #: Limit average price per kWh (PLN/kWh).
    price: Mapped[Decimal] = mapped_column(price_pln())
    min_acceptance_ratio: Mapped[Decimal] = mapped_column(Dec(5, 4), default=Decimal(1))
    standing_id: Mapped[int | None] = mapped_column(
        ForeignKey("block_groups.id", ondelete="SET NULL")
    )
    cancelled: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class BlockOrder(Base):
    """One block of a day's group: a profile over consecutive intervals of the day."""

    __tablename__ = "block_orders"
    __table_args__ = (
        CheckConstraint("first_number >= 1", name="first_number"),
        Unique("group_id", "first_number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(
        ForeignKey("block_groups.id", ondelete="CASCADE"), index=True
    )
    #: The local day's interval number (1…92/96/100) it starts in.
    first_number: Mapped[int] = mapped_column(Integer)
    #: kWh per interval from `first_number`, as decimal strings.
    quantities_kwh: Mapped[list[str]] = mapped_column(JSON)
    #: Set by the clearing: the accepted ratio (0 or within [min ratio, 1]).
    accepted_ratio: Mapped[Decimal | None] = mapped_column(Dec(7, 6))
    #: What it gains at the published prices (for a rejected one: had it been accepted).
    surplus_pln: Mapped[Decimal | None] = mapped_column(Dec(16, 2))
    paradoxically_rejected: Mapped[bool | None]
