"""Fee rates as the cluster's parameters, with validity dates (local days, both included)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import CheckConstraint, Date, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from market.db.base import Base, Dec, check_in, utcnow


class Fee(StrEnum):
    OZE = "oze"  # opłata OZE
    COGENERATION = "cogeneration"  # opłata kogeneracyjna
    CERTIFICATE = "certificate"  # cost of the certificate obligation passed on, if known
    QUALITY = "quality"  # stawka jakościowa
    DISTRIBUTION_VARIABLE = "distribution_variable"  # zmienna stawka sieciowa


class FeeRate(Base):
    """One fee's rate in PLN/kWh (net) from `valid_from` to `valid_to` (None = open); a
    `tariff_group` (G11, C11, …) or None for every group."""

    __tablename__ = "fee_rates"
    __table_args__ = (
        CheckConstraint(check_in("fee", Fee), name="fee"),
        CheckConstraint("rate_pln_per_kwh >= 0", name="rate"),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="validity"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    fee: Mapped[str] = mapped_column(String(24), index=True)
    tariff_group: Mapped[str | None] = mapped_column(String(8))
    rate_pln_per_kwh: Mapped[Decimal] = mapped_column(Dec(12, 6))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text, default="")
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
