"""The technical data of a storage unit at a metering point of technology `storage`."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from market.db.base import Base, Dec, power_kw, utcnow
from market.db.base import energy_kwh as kwh_column


class StorageUnit(Base):
    """What the day-ahead auction needs to schedule a battery: usable energy, power limits,
    efficiencies and the bounds on its state of charge (kWh)."""

    __tablename__ = "storage_units"
    __table_args__ = (
        CheckConstraint("energy_kwh > 0", name="energy"),
        CheckConstraint("charge_kw >= 0 AND discharge_kw >= 0", name="power"),
        CheckConstraint(
            "efficiency_charge > 0 AND efficiency_charge <= 1 "
            "AND efficiency_discharge > 0 AND efficiency_discharge <= 1",
            name="efficiency",
        ),
        CheckConstraint("soc_min_kwh >= 0 AND soc_min_kwh <= energy_kwh", name="soc_min"),
        CheckConstraint(
            "soc_final_min_kwh IS NULL OR "
            "(soc_final_min_kwh >= soc_min_kwh AND soc_final_min_kwh <= energy_kwh)",
            name="soc_final",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    metering_point_id: Mapped[int] = mapped_column(ForeignKey("metering_points.id"), unique=True)
    energy_kwh: Mapped[Decimal] = mapped_column(kwh_column())
    charge_kw: Mapped[Decimal] = mapped_column(power_kw())
    discharge_kw: Mapped[Decimal] = mapped_column(power_kw())
    efficiency_charge: Mapped[Decimal] = mapped_column(Dec(5, 4))
    efficiency_discharge: Mapped[Decimal] = mapped_column(Dec(5, 4))
    #: The state of charge never goes below this (kWh).
    soc_min_kwh: Mapped[Decimal] = mapped_column(kwh_column(), default=Decimal(0))
    #: The state at the end of the day at least (kWh); NULL: the day's initial state.
    soc_final_min_kwh: Mapped[Decimal | None] = mapped_column(kwh_column())
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
