"""Metering points (PPE) of the members, each at a node of the grid."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from market.access.models import Member
from market.db.base import Base, check_in, energy_kwh, power_kw, utcnow
from market.network.models import Node


class LoadProfile(StrEnum):
    HOUSEHOLD = "household"
    BUSINESS = "business"
    MUNICIPAL = "municipal"
    FLAT = "flat"  # pumps, treatment plants: near-constant
    STREET_LIGHTING = "street_lighting"
    NONE = "none"


class MeteringPoint(Base):
    """A metering point (PPE) of a member, at a node of the grid."""

    __tablename__ = "metering_points"
    __table_args__ = (
        CheckConstraint("contracted_power_kw > 0", name="contracted_power"),
        CheckConstraint(
            "pv_kwp >= 0 AND other_generation_kw >= 0 AND storage_kwh >= 0 AND annual_use_kwh >= 0",
            name="nonnegative",
        ),
        CheckConstraint(check_in("load_profile", LoadProfile), name="load_profile"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ppe_code: Mapped[str] = mapped_column(String(18), unique=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("nodes.id"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    contracted_power_kw: Mapped[Decimal] = mapped_column(power_kw())
    pv_kwp: Mapped[Decimal] = mapped_column(power_kw(), default=Decimal(0))
    #: Dispatchable or steady generation (landfill gas, CHP), kW.
    other_generation_kw: Mapped[Decimal] = mapped_column(power_kw(), default=Decimal(0))
    storage_kwh: Mapped[Decimal] = mapped_column(energy_kwh(), default=Decimal(0))
    annual_use_kwh: Mapped[Decimal] = mapped_column(energy_kwh(), default=Decimal(0))
    load_profile: Mapped[str] = mapped_column(String(16), default=LoadProfile.HOUSEHOLD.value)
    note: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    member: Mapped[Member] = relationship(lazy="raise")
    node: Mapped[Node] = relationship(lazy="raise")

    @property
    def role(self) -> str:
        """consumer, producer, prosumer or storage (as a DSO export names it)."""
        generates = self.pv_kwp > 0 or self.other_generation_kw > 0
        if self.storage_kwh > 0 and not generates and self.annual_use_kwh == 0:
            return "storage"
        if generates and self.annual_use_kwh > 0:
            return "prosumer"
        return "producer" if generates else "consumer"
