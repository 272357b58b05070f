"""The imported market prices (RCE) per 15- or 60-minute period."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from market.db.base import Base, Dec, utcnow


class MarketPrice(Base):
    """The market price RCE (rynkowa cena energii, PLN/MWh, net) of one period of 15 or 60
    minutes starting at `start_utc`; what net-billing pays a prosumer for energy fed in.
    Imported by `klaster import-prices` (one row per start and resolution; a re-import
    replaces the price)."""

    __tablename__ = "market_prices"
    __table_args__ = (CheckConstraint("resolution_minutes IN (15, 60)", name="resolution"),)

    start_utc: Mapped[datetime] = mapped_column(primary_key=True)
    resolution_minutes: Mapped[int] = mapped_column(Integer, primary_key=True)
    price_pln_per_mwh: Mapped[Decimal] = mapped_column(Dec(10, 2))
    source: Mapped[str] = mapped_column(String(200), default="")
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)
