"""The cluster's grid: nodes, lines, grid connections, and the members' metering points (PPE)
at its nodes."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from market.access.models import Member
from market.db.base import Base, Dec, check_in, energy_kwh, power_kw, price_pln, utcnow


class NodeKind(StrEnum):
    GPZ = "gpz"  # 110/15 kV main supply point
    FEEDER = "feeder"  # 15 kV feeder section
    STATION = "station"  # 15/0.4 kV MV/LV station
    LV = "lv"  # low-voltage circuit


class Node(Base):
    __tablename__ = "nodes"
    __table_args__ = (CheckConstraint(check_in("kind", NodeKind), name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(default=True)
    #: Position on the network map (any unit; the web scales it).
    map_x: Mapped[float | None]
    map_y: Mapped[float | None]


class Line(Base):
    """A line or transformer with one limit (kW) in both directions."""

    __tablename__ = "lines"
    __table_args__ = (
        CheckConstraint("from_node_id <> to_node_id", name="not_loop"),
        CheckConstraint("capacity_kw >= 0", name="capacity"),
        CheckConstraint("reactance IS NULL OR reactance > 0", name="reactance"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    from_node_id: Mapped[int] = mapped_column(ForeignKey("nodes.id"), index=True)
    to_node_id: Mapped[int] = mapped_column(ForeignKey("nodes.id"), index=True)
    capacity_kw: Mapped[Decimal] = mapped_column(power_kw())
    reactance: Mapped[Decimal | None] = mapped_column(Dec(12, 6))
    active: Mapped[bool] = mapped_column(default=True)

    from_node: Mapped[Node] = relationship(foreign_keys=[from_node_id], lazy="raise")
    to_node: Mapped[Node] = relationship(foreign_keys=[to_node_id], lazy="raise")


class GridConnection(Base):
    """Where the cluster meets the upstream grid: it sells at `import_price` and buys at
    `export_price` (PLN/kWh), within limits in kW."""

    __tablename__ = "grid_connections"
    __table_args__ = (
        CheckConstraint("export_price <= import_price", name="prices"),
        CheckConstraint("import_limit_kw >= 0 AND export_limit_kw >= 0", name="limits"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("nodes.id"), unique=True)
    import_price: Mapped[Decimal] = mapped_column(price_pln())
    export_price: Mapped[Decimal] = mapped_column(price_pln())
    import_limit_kw: Mapped[Decimal] = mapped_column(power_kw())
    export_limit_kw: Mapped[Decimal] = mapped_column(power_kw())

    node: Mapped[Node] = relationship(lazy="raise")


class LoadProfile(StrEnum):
    HOUSEHOLD = "household"
    BUSINESS = "business"
    MUNICIPAL = "municipal"
    FLAT = "flat"  # pumps, treatment plants: near-constant
    STREET_LIGHTING = "street_lighting"
    NONE = "none"


class Technology(StrEnum):
    """What generates at a metering point; whether it counts as renewable is the law's
    (`market.statutory.rules`), not this list's."""

    PV = "pv"
    WIND = "wind"
    HYDRO = "hydro"
    BIOGAS = "biogas"
    LANDFILL_GAS = "landfill_gas"
    BIOMASS = "biomass"
    GAS_CHP = "gas_chp"
    STORAGE = "storage"
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
        CheckConstraint(check_in("technology", Technology), name="technology"),
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
    #: The generation technology (`Technology`); `none` for a consumer.
    technology: Mapped[str] = mapped_column(
        String(16), default=Technology.NONE.value, server_default=Technology.NONE.value
    )
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
