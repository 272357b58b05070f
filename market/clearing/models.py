"""Clearing runs and their results, stored in one transaction per interval."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from market.db.base import Base, amount_pln, energy_kwh, price_pln, utcnow


class ClearingRun(Base):
    """The one stored clearing of an interval (its stored input re-clears to `result_hash`)."""

    __tablename__ = "clearing_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    interval_id: Mapped[int] = mapped_column(ForeignKey("intervals.id"), unique=True)
    #: sha256 of the problem's canonical JSON (`matching.jsonio.problem_digest`).
    input_hash: Mapped[str] = mapped_column(String(64))
    #: sha256 of the result's canonical JSON without timings.
    result_hash: Mapped[str] = mapped_column(String(64))
    #: The problem as canonical JSON, zlib-compressed, so `klaster clear-interval` can
    #: re-clear it (JSON compresses about tenfold; 100k orders are ~1 MB).
    problem_gz: Mapped[bytes] = mapped_column(LargeBinary)
    solver: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    order_count: Mapped[int] = mapped_column(Integer)
    welfare_pln: Mapped[Decimal] = mapped_column(amount_pln())
    congestion_rent_pln: Mapped[Decimal] = mapped_column(amount_pln())
    matched_kwh: Mapped[Decimal] = mapped_column(energy_kwh())
    local_kwh: Mapped[Decimal] = mapped_column(energy_kwh())
    import_kwh: Mapped[Decimal] = mapped_column(energy_kwh())
    export_kwh: Mapped[Decimal] = mapped_column(energy_kwh())
    #: Milliseconds per step, as `matching.Timings` reports them, plus storing.
    timings: Mapped[dict[str, float]] = mapped_column(JSON)
    worker_id: Mapped[str] = mapped_column(String(80))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime] = mapped_column(default=utcnow)


class NodePrice(Base):
    __tablename__ = "node_prices"

    run_id: Mapped[int] = mapped_column(
        ForeignKey("clearing_runs.id", ondelete="CASCADE"), primary_key=True
    )
    node_id: Mapped[int] = mapped_column(ForeignKey("nodes.id"), primary_key=True)
    price: Mapped[Decimal] = mapped_column(price_pln())
    #: Range of optimal prices the price was chosen from (NULL = unbounded).
    price_low: Mapped[Decimal | None] = mapped_column(price_pln())
    price_high: Mapped[Decimal | None] = mapped_column(price_pln())
    bought_kwh: Mapped[Decimal] = mapped_column(energy_kwh())
    sold_kwh: Mapped[Decimal] = mapped_column(energy_kwh())


class LineFlow(Base):
    __tablename__ = "line_flows"

    run_id: Mapped[int] = mapped_column(
        ForeignKey("clearing_runs.id", ondelete="CASCADE"), primary_key=True
    )
    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id"), primary_key=True)
    #: Positive from → to.
    flow_kwh: Mapped[Decimal] = mapped_column(energy_kwh())
    limit_kwh: Mapped[Decimal] = mapped_column(energy_kwh())
    congested: Mapped[bool]


class GridExchange(Base):
    __tablename__ = "grid_exchanges"

    run_id: Mapped[int] = mapped_column(
        ForeignKey("clearing_runs.id", ondelete="CASCADE"), primary_key=True
    )
    node_id: Mapped[int] = mapped_column(ForeignKey("nodes.id"), primary_key=True)
    import_kwh: Mapped[Decimal] = mapped_column(energy_kwh())
    export_kwh: Mapped[Decimal] = mapped_column(energy_kwh())
    import_price: Mapped[Decimal] = mapped_column(price_pln())
    export_price: Mapped[Decimal] = mapped_column(price_pln())
    import_amount_pln: Mapped[Decimal] = mapped_column(amount_pln())
    export_amount_pln: Mapped[Decimal] = mapped_column(amount_pln())


class Trade(Base):
    """A bilateral trade; a NULL order id on a side means the upstream grid."""

    __tablename__ = "trades"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(
        ForeignKey("clearing_runs.id", ondelete="CASCADE"), index=True
    )
    seller_order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    buyer_order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    seller_node_id: Mapped[int] = mapped_column(ForeignKey("nodes.id"))
    buyer_node_id: Mapped[int] = mapped_column(ForeignKey("nodes.id"))
    quantity_kwh: Mapped[Decimal] = mapped_column(energy_kwh())
    seller_price: Mapped[Decimal] = mapped_column(price_pln())
    buyer_price: Mapped[Decimal] = mapped_column(price_pln())
