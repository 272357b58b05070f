"""Meter readings on the cluster's interval grid.

**Hourly data is split evenly into quarter-hours** (in Wh, largest remainder, so the four
quarters add up exactly to the hourly value), because the market clears quarter-hours; each
quarter keeps the hour's quality flag. For a 60-minute cluster, quarter-hour data is summed
per hour (all four quarters needed; the worst quality wins).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from decimal import Decimal

from market.metering.parse import WH, ImportReport, Quality, Reading, RowError


def split_hour(reading: Reading, minutes: int = 15) -> list[Reading]:
    """Split a reading into equal parts of `minutes`, in Wh by largest remainder."""
    parts = reading.minutes // minutes
    if parts <= 1:
        return [reading]
    out: list[list[Decimal]] = [[], []]
    for k, total in enumerate((reading.import_kwh, reading.export_kwh)):
        wh = int(total / WH)
        base, extra = divmod(wh, parts)
        out[k] = [Decimal(base + (1 if i < extra else 0)) * WH for i in range(parts)]
    return [
        Reading(
            reading.line,
            reading.ppe,
            reading.start_utc + timedelta(minutes=minutes * i),
            minutes,
            out[0][i],
            out[1][i],
            reading.quality,
        )
        for i in range(parts)
    ]


_QUALITY_ORDER = [Quality.MEASURED, Quality.ESTIMATED, Quality.SUBSTITUTED]


def to_cluster_grid(
    readings: Iterable[Reading], cluster_minutes: int, report: ImportReport | None = None
) -> Iterator[Reading]:
    """Readings on the cluster's interval grid: hourly split for 15-minute clusters,
    quarter-hours summed per hour (worst quality wins) for 60-minute clusters."""
    if cluster_minutes == 15:
        for r in readings:
            yield from split_hour(r, 15)
        return
    pending: dict[tuple[str, datetime], list[Reading]] = {}
    for r in readings:
        if r.minutes == cluster_minutes:
            yield r
            continue
        hour = r.start_utc.replace(minute=0)
        group = pending.setdefault((r.ppe, hour), [])
        group.append(r)
        if len(group) == cluster_minutes // r.minutes:
            del pending[(r.ppe, hour)]
            yield Reading(
                group[0].line,
                r.ppe,
                hour,
                cluster_minutes,
                sum((g.import_kwh for g in group), Decimal(0)),
                sum((g.export_kwh for g in group), Decimal(0)),
                max((g.quality for g in group), key=_QUALITY_ORDER.index),
            )
    for (ppe, hour), group in pending.items():
        if report is not None:
            for g in group:
                report.add_error(
                    RowError(
                        g.line,
                        "interval_start",
                        "incomplete hour %(start)s for %(ppe)s: a 60-minute cluster needs all "
                        "four quarter-hours",
                        {"start": hour, "ppe": ppe},
                    )
                )
                report.valid_rows -= 1
