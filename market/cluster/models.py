"""The energy cluster and its market parameters (one per database)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from market.core.settings import DEFAULT_TIMEZONE
from market.db.base import Base, price_pln, utcnow


class Cluster(Base):
    """The energy cluster and its market parameters (one per database)."""

    __tablename__ = "clusters"
    __table_args__ = (
        CheckConstraint("interval_minutes IN (15, 60)", name="interval_minutes"),
        CheckConstraint("price_floor <= price_cap", name="price_band"),
        CheckConstraint("gate_closure_minutes >= 0", name="gate_closure"),
        CheckConstraint(
            "day_ahead_gate_minute IS NULL OR "
            "(day_ahead_gate_minute >= 0 AND day_ahead_gate_minute < 1440)",
            name="day_ahead_gate",
        ),
        CheckConstraint("grid_prices IN ('fixed', 'market')", name="grid_prices"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    registry_number: Mapped[str | None] = mapped_column(String(60))
    coordinator_name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(60), default=DEFAULT_TIMEZONE)
    interval_minutes: Mapped[int] = mapped_column(Integer, default=15)
    #: The gate closes this many minutes before the interval starts.
    gate_closure_minutes: Mapped[int] = mapped_column(Integer, default=5)
    #: How many intervals ahead are open for orders.
    horizon_intervals: Mapped[int] = mapped_column(Integer, default=8)
    price_floor: Mapped[Decimal] = mapped_column(price_pln())
    price_cap: Mapped[Decimal] = mapped_column(price_pln())
    #: The day-ahead gate: minutes after local midnight of the day before delivery (720: D−1
    #: 12:00 local time); NULL: no day-ahead auction.
    day_ahead_gate_minute: Mapped[int | None] = mapped_column(
        Integer, default=720, server_default="720"
    )
    #: Where the day-ahead problem takes the grid connections' prices: "fixed" (each
    #: connection's import/export price in every interval) or "market" (per interval from the
    #: imported RCE, `market.prices.grid`; docs/clearing.md).
    grid_prices: Mapped[str] = mapped_column(String(8), default="fixed", server_default="fixed")
    #: Seed of the deterministic synthetic profiles (forecasts for standing orders).
    profile_seed: Mapped[int] = mapped_column(Integer, default=2026)
    #: When the coordinator halted the market (None: trading), and why (shown to everyone).
    halted_at: Mapped[datetime | None] = mapped_column(default=None)
    halt_reason: Mapped[str | None] = mapped_column(String(200), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
