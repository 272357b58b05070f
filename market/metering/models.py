"""Meter data tables: imported files and the readings on the cluster's interval grid.

Registered on the market's declarative `Base`. A reading is keyed by (interval start,
metering point), so an export fetches one interval's readings with one index range scan; a
later import of the same interval replaces the values and records its `import_id`, which
changes the version of the exported row.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from market.db.base import Base, energy_kwh, utcnow

QUALITIES = ("measured", "estimated", "substituted")


class MeterImport(Base):
    """One imported meter-data file."""

    __tablename__ = "meter_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(String(200))
    #: sha256 of the file's bytes.
    sha256: Mapped[str] = mapped_column(String(64))
    #: Resolution of the file (15 or 60); stored readings are on the cluster's grid.
    resolution_minutes: Mapped[int] = mapped_column(Integer)
    rows: Mapped[int] = mapped_column(Integer)
    skipped_rows: Mapped[int] = mapped_column(Integer, default=0)
    stored_readings: Mapped[int] = mapped_column(Integer)
    imported_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)


class MeterReading(Base):
    """Metered energy of one metering point over one interval of the cluster's grid."""

    __tablename__ = "meter_readings"
    __table_args__ = (
        CheckConstraint("import_kwh >= 0 AND export_kwh >= 0", name="nonnegative"),
        CheckConstraint("quality IN ('measured', 'estimated', 'substituted')", name="quality"),
    )

    start_utc: Mapped[datetime] = mapped_column(primary_key=True)
    metering_point_id: Mapped[int] = mapped_column(
        ForeignKey("metering_points.id"), primary_key=True, index=True
    )
    import_kwh: Mapped[Decimal] = mapped_column(energy_kwh())
    export_kwh: Mapped[Decimal] = mapped_column(energy_kwh())
    quality: Mapped[str] = mapped_column(String(16))
    #: 60 when an hourly value was split evenly into quarter-hours.
    source_minutes: Mapped[int] = mapped_column(Integer)
    import_id: Mapped[int] = mapped_column(ForeignKey("meter_imports.id"), index=True)
