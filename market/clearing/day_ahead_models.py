"""The stored day-ahead clearing of a local day: one run per version, and what it decided per
interval (nodal prices, line flows, grid exchange, each metering point's position, storage
schedules). Block outcomes are on `BlockOrder`, simple orders' on `Order`.

The four big result tables (prices, flows, positions, storage schedules: ~310,000 rows a day
at 5,000 metering points) carry no foreign keys (migration `0015_da13c_result_fks`): on
PostgreSQL each key was a trigger and an index lookup per inserted row, 4 s of the server's
time for a day's positions alone. Their ids are written by one writer only
(`market.clearing.day_ahead._store`), in the transaction that inserts the run they belong to,
from the intervals, nodes, lines, metering points and storage orders the clearing read; none
of those rows is ever deleted (metering points and nodes are deactivated, storage orders
cancelled), and neither is a run. The small grid table keeps its keys."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy import UniqueConstraint as Unique
from sqlalchemy.orm import Mapped, mapped_column

from market.db.base import Base, amount_pln, energy_kwh, price_pln, utcnow


class DayAheadRun(Base):
    """One clearing of a day-ahead auction (a re-clear stores the next version; the auction's
    `version` names the one in force)."""

    __tablename__ = "day_ahead_runs"
    __table_args__ = (Unique("auction_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    auction_id: Mapped[int] = mapped_column(ForeignKey("day_ahead_auctions.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    #: sha256 of the problem document's canonical JSON, and of the result's without timings.
    input_hash: Mapped[str] = mapped_column(String(64))
    result_hash: Mapped[str] = mapped_column(String(64))
    #: The issue-12 problem document as canonical JSON, zlib-compressed.
    problem_gz: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    interval_count: Mapped[int] = mapped_column(Integer)
    order_count: Mapped[int] = mapped_column(Integer)
    welfare_pln: Mapped[Decimal] = mapped_column(amount_pln())
    timings: Mapped[dict[str, float]] = mapped_column(JSON)
    worker_id: Mapped[str] = mapped_column(String(80))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime] = mapped_column(default=utcnow)


def _run_fk() -> Mapped[int]:
    return mapped_column(ForeignKey("day_ahead_runs.id", ondelete="CASCADE"), primary_key=True)


def _key() -> Mapped[int]:
    """A key column of a big result table: no foreign key (see the module's docstring)."""
    return mapped_column(Integer, primary_key=True, autoincrement=False)


class DayAheadPrice(Base):
    __tablename__ = "day_ahead_prices"

    run_id: Mapped[int] = _key()
    interval_id: Mapped[int] = _key()
    node_id: Mapped[int] = _key()
    price: Mapped[Decimal] = mapped_column(price_pln())


class DayAheadFlow(Base):
    """A line's day-ahead flow in an interval (positive from → to): the capacity the
    intraday auction of that interval finds used up."""

    __tablename__ = "day_ahead_flows"

    run_id: Mapped[int] = _key()
    interval_id: Mapped[int] = _key()
    line_id: Mapped[int] = _key()
    flow_kwh: Mapped[Decimal] = mapped_column(energy_kwh())


class DayAheadGrid(Base):
    __tablename__ = "day_ahead_grid"

    run_id: Mapped[int] = _run_fk()
    interval_id: Mapped[int] = mapped_column(ForeignKey("intervals.id"), primary_key=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("nodes.id"), primary_key=True)
    import_kwh: Mapped[Decimal] = mapped_column(energy_kwh())
    export_kwh: Mapped[Decimal] = mapped_column(energy_kwh())


class DayAheadPosition(Base):
    """A metering point's firm day-ahead position in an interval: what it buys (import) and
    sells (export) in total over its simple orders, blocks and storage, and the amount."""

    __tablename__ = "day_ahead_positions"

    run_id: Mapped[int] = _key()
    interval_id: Mapped[int] = _key()
    metering_point_id: Mapped[int] = _key()
    import_kwh: Mapped[Decimal] = mapped_column(energy_kwh())
    export_kwh: Mapped[Decimal] = mapped_column(energy_kwh())
    #: Paid (positive) or received (negative) at the node's price, PLN.
    amount_pln: Mapped[Decimal] = mapped_column(amount_pln())


class StorageSchedule(Base):
    __tablename__ = "storage_schedules"

    run_id: Mapped[int] = _key()
    storage_order_id: Mapped[int] = _key()
    interval_id: Mapped[int] = _key()
    charge_kwh: Mapped[Decimal] = mapped_column(energy_kwh())
    discharge_kwh: Mapped[Decimal] = mapped_column(energy_kwh())
    #: State of charge at the end of the interval.
    soc_kwh: Mapped[Decimal] = mapped_column(energy_kwh())
