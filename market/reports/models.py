"""Stored report figures that are costly to compute: the storage effect of a day-ahead day
(`market.reports.storage_effect`), kept per day-ahead run (one run is one day and version, so
a re-clear, which stores the next run, leaves the old figures unread)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from market.db.base import Base, utcnow


class StorageEffectFigures(Base):
    __tablename__ = "storage_effects"

    #: The day-ahead run (auction and version) whose stored problem was cleared twice.
    run_id: Mapped[int] = mapped_column(
        ForeignKey("day_ahead_runs.id", ondelete="CASCADE"), primary_key=True
    )
    #: `StorageEffect` as JSON (decimals as strings).
    figures: Mapped[dict[str, Any]] = mapped_column(JSON)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)
