"""Stored what-if simulations: a coordinator queues a scenario over a range of days (run in a
process of its own, `klaster simulate-run`), or imports the result file of a
`klaster simulate -o` run; two stored runs are compared side by side."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from market.db.base import Base, check_in, utcnow


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    #: Stopped by the coordinator (nothing of it stored).
    CANCELLED = "cancelled"


class SimulationRun(Base):
    __tablename__ = "simulation_runs"
    __table_args__ = (CheckConstraint(check_in("status", RunStatus), name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The scenario's name (shown in lists and comparisons).
    name: Mapped[str] = mapped_column(String(200))
    #: Where the scenario came from: a shipped scenario's name, an uploaded file's name, or
    #: the imported result file's name.
    source: Mapped[str] = mapped_column(String(200))
    #: The scenario document as validated (`market.simulation.scenario.parse_scenario`), so
    #: the run can be repeated; empty for an imported result.
    scenario: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    seed: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default=RunStatus.QUEUED.value)
    reason: Mapped[str] = mapped_column(Text, default="")
    #: The simulation's summary (`market.simulation.engine`), once done.
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    created_by: Mapped[int] = mapped_column(ForeignKey("members.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    claimed_by: Mapped[str | None] = mapped_column(String(80), default=None)
    #: The running process's lease (`market.db.lease`): renewed every few seconds while it
    #: lives, so a run whose process died is seen (and can be taken over) within a minute.
    claim_until: Mapped[datetime | None] = mapped_column(default=None)
