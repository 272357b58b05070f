"""Delivery intervals, orders and standing orders."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import DDL, CheckConstraint, Date, ForeignKey, Index, Integer, String, Text, event
from sqlalchemy import UniqueConstraint as Unique
from sqlalchemy.orm import Mapped, mapped_column, relationship

from market.access.models import Member
from market.db.base import Base, amount_pln, check_in, energy_kwh, price_pln, utcnow
from market.network.models import MeteringPoint
from market.trading.day_ahead_models import Market


class IntervalStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    CLEARING = "clearing"
    CLEARED = "cleared"
    FAILED = "failed"


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderStatus(StrEnum):
    OPEN = "open"
    CANCELLED = "cancelled"
    FILLED = "filled"
    PARTLY_FILLED = "partly_filled"
    UNFILLED = "unfilled"


class StandingMode(StrEnum):
    FIXED = "fixed"  # the same quantity every matching interval
    FORECAST = "forecast"  # my forecast surplus (sell) or deficit (buy) for the interval


class Interval(Base):
    """A delivery interval. open → closed (gate) → clearing (claimed) → cleared | failed."""

    __tablename__ = "intervals"
    __table_args__ = (
        CheckConstraint(check_in("status", IntervalStatus), name="status"),
        Index("ix_intervals_status_start", "status", "start_utc"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    start_utc: Mapped[datetime] = mapped_column(unique=True)
    minutes: Mapped[int] = mapped_column(Integer)
    gate_closure_utc: Mapped[datetime]
    local_day: Mapped[date] = mapped_column(Date, index=True)
    #: 1…92/96/100 within the local day.
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default=IntervalStatus.OPEN.value)
    reason: Mapped[str | None] = mapped_column(Text)
    #: Worker holding the clearing claim, and until when (a stale claim may be taken over).
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    claim_until: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    cleared_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StandingOrder(Base):
    """A rule that places an order into every upcoming interval it matches."""

    __tablename__ = "standing_orders"
    __table_args__ = (
        CheckConstraint(check_in("side", Side), name="side"),
        CheckConstraint(check_in("mode", StandingMode), name="mode"),
        CheckConstraint("hour_from >= 0 AND hour_to <= 24 AND hour_from < hour_to", name="hours"),
        CheckConstraint("mode = 'forecast' OR quantity_kwh > 0", name="quantity"),
        CheckConstraint(check_in("market", Market), name="market"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    metering_point_id: Mapped[int] = mapped_column(ForeignKey("metering_points.id"), index=True)
    side: Mapped[str] = mapped_column(String(4))
    mode: Mapped[str] = mapped_column(String(16), default=StandingMode.FIXED.value)
    #: Fixed quantity per interval; with mode "forecast" an optional cap.
    quantity_kwh: Mapped[Decimal | None] = mapped_column(energy_kwh())
    price: Mapped[Decimal] = mapped_column(price_pln())
    #: ISO weekdays it applies on, e.g. "12345" for Monday to Friday.
    weekdays: Mapped[str] = mapped_column(String(7), default="1234567")
    #: Local hours [hour_from, hour_to) it applies in.
    hour_from: Mapped[int] = mapped_column(Integer, default=0)
    hour_to: Mapped[int] = mapped_column(Integer, default=24)
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    paused: Mapped[bool] = mapped_column(default=False)
    #: "id": an order into each interval's own auction; "da": into the day-ahead auction of
    #: each day (placed when the day's auction opens and again at its gate).
    market: Mapped[str] = mapped_column(
        String(2), default=Market.INTRADAY.value, server_default=Market.INTRADAY.value
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    metering_point: Mapped[MeteringPoint] = relationship(lazy="raise")


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint(check_in("side", Side), name="side"),
        CheckConstraint(check_in("status", OrderStatus), name="status"),
        CheckConstraint("quantity_kwh > 0", name="quantity"),
        Unique("member_id", "client_order_id"),
        Unique("standing_order_id", "interval_id"),
        # Status is not indexed (the interval's orders are few; the filter is cheap), so the
        # clearing's update of every order of a day touches no index: on PostgreSQL a HOT
        # update, with the page room `ORDERS_FILLFACTOR` keeps (issue 13, da13b).
        Index("ix_orders_interval_id", "interval_id"),
        CheckConstraint(check_in("market", Market), name="market"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Looked up through the (member_id, client_order_id) unique index (its prefix).
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    metering_point_id: Mapped[int] = mapped_column(ForeignKey("metering_points.id"), index=True)
    interval_id: Mapped[int] = mapped_column(ForeignKey("intervals.id"))
    side: Mapped[str] = mapped_column(String(4))
    quantity_kwh: Mapped[Decimal] = mapped_column(energy_kwh())
    price: Mapped[Decimal] = mapped_column(price_pln())
    status: Mapped[str] = mapped_column(String(16), default=OrderStatus.OPEN.value)
    #: "id": the interval's own (intraday) auction; "da": the day-ahead auction of its day.
    market: Mapped[str] = mapped_column(
        String(2), default=Market.INTRADAY.value, server_default=Market.INTRADAY.value
    )
    client_order_id: Mapped[str | None] = mapped_column(String(64))
    standing_order_id: Mapped[int | None] = mapped_column(
        ForeignKey("standing_orders.id", ondelete="SET NULL")
    )
    #: Set when the interval is cleared.
    accepted_kwh: Mapped[Decimal | None] = mapped_column(energy_kwh())
    clearing_price: Mapped[Decimal | None] = mapped_column(price_pln())
    #: accepted × nodal price: paid by a buyer, received by a seller (PLN).
    amount_pln: Mapped[Decimal | None] = mapped_column(amount_pln())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    member: Mapped[Member] = relationship(lazy="raise")
    metering_point: Mapped[MeteringPoint] = relationship(lazy="raise")
    interval: Mapped[Interval] = relationship(lazy="raise")


#: PostgreSQL keeps this share of each page of `orders` for new rows, the rest for the new
#: versions of the rows when their interval or day is cleared: the update then stays on the
#: page (HOT) and writes no index entry. A cleared row is ~30 bytes longer than an open one
#: (its accepted kWh, price and amount), so the room must exceed what the rows take: at 50 %
#: the last ~14 % of a page's rows found none (68,564 of a 5,000-point day's 479,390 updates
#: were not HOT, each writing all five indexes); at 40 % every one is, and the server's
#: update of the day takes half the time (da13d; docs/benchmarks.md). The table is ~25 %
#: bigger (94 → 117 MB for that day before clearing).
ORDERS_FILLFACTOR = 40

event.listen(
    Order.__table__,
    "after_create",
    DDL(f"ALTER TABLE orders SET (fillfactor = {ORDERS_FILLFACTOR})").execute_if(  # type: ignore[no-untyped-call]
        dialect="postgresql"
    ),
)
