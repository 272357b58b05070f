"""The scope of an export: what is small enough to hold (cluster, metering points, nodes,
the cleared intervals of the range) and the export's identity.

The version is derived from the stored clearing runs and meter-data imports, never from the
wall clock: the same range exported again gives the same bytes unless an interval was
re-cleared or meter data re-imported (then the version changes).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from market.access.models import Member
from market.clearing.models import ClearingRun
from market.clearing.results import cleared_with_runs
from market.cluster.models import Cluster
from market.core.errors import NotFound, ValidationFailed
from market.metering.models import MeterImport, MeterReading
from market.network.models import GridConnection, Line, MeteringPoint, Node
from market.trading.models import Interval, IntervalStatus


@dataclass(frozen=True, slots=True)
class PointInfo:
    id: int
    ppe: str
    role: str
    node_id: int
    node: str
    member_id: int
    member: str
    active: bool
    contracted_power_kw: Decimal = Decimal(0)
    pv_kwp: Decimal = Decimal(0)
    other_generation_kw: Decimal = Decimal(0)
    storage_kwh: Decimal = Decimal(0)
    annual_use_kwh: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class RunInfo:
    interval_id: int
    start_utc: datetime
    minutes: int
    run_id: int
    version: str
    finished_at: datetime


@dataclass(frozen=True, slots=True)
class ExportScope:
    """Everything small an export needs, and its identity."""

    start: datetime
    end: datetime
    cluster_id: str
    cluster_name: str
    coordinator: str
    timezone: str
    minutes: int
    import_reference: Decimal
    export_reference: Decimal
    points: tuple[PointInfo, ...]
    nodes: dict[int, str]
    runs: tuple[RunInfo, ...]
    meter_imports: dict[int, datetime]
    #: sha256 of the runs and meter imports in the range (12 hex digits shown).
    version: str
    #: Latest clearing or meter import in the range: the same data, the same timestamp.
    generated_at: datetime

    @property
    def interval_count(self) -> int:
        return len(self.runs)

    @property
    def metering_rows_estimate(self) -> int:
        return len(self.runs) * sum(1 for p in self.points if p.active)

    def meta(self) -> dict[str, Any]:
        return {
            "format": "klaster-export",
            "format_version": 1,
            "title": f"Klaster export {self.cluster_name}",
            "cluster_id": self.cluster_id,
            "cluster_name": self.cluster_name,
            "coordinator_id": self.coordinator,
            "timezone": self.timezone,
            "from": self.start,
            "to": self.end,
            "intervals": len(self.runs),
            "resolution": f"PT{self.minutes}M",
            "price_unit": "PLN/kWh",
            "energy_unit": "kWh",
            "amount_unit": "PLN",
            "amount_sign": "+ the member pays, - the member receives",
            "version": self.version,
            "generated_at": self.generated_at,
        }


def _role(mp: MeteringPoint) -> str:
    return str(mp.role)


def _run_version(run_id: int, result_hash: str, finished_at: datetime) -> str:
    digest = hashlib.sha256(f"{result_hash}|{finished_at.isoformat()}".encode()).hexdigest()
    return f"r{run_id}-{digest[:8]}"


def aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def check_range(start: datetime, end: datetime) -> None:
    """A range ends after it starts (`ValidationFailed` on `to`)."""
    if end <= start:
        raise ValidationFailed(
            "to",
            "the end of the range (%(end)s) must be after its start (%(start)s)",
            start=start,
            end=end,
        )


async def load_scope(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    *,
    max_days: int | None = None,
    allow_empty: bool = False,
) -> ExportScope:
    """The scope of an export of [start, end); `NotFound` when nothing was cleared there
    (unless `allow_empty`: the cluster report also shows day-ahead-only and meter-only
    intervals, and decides itself when there is nothing)."""
    start, end = aware(start), aware(end)
    check_range(start, end)
    if max_days is not None and end - start > timedelta(days=max_days):
        raise ValidationFailed(
            "to",
            "the range is longer than %(days)s days; split it or use the command line",
            days=max_days,
        )
    cluster = await session.scalar(select(Cluster).order_by(Cluster.id).limit(1))
    if cluster is None:
        raise NotFound("cluster", "no cluster is set up yet; run `klaster seed` first")
    conn = await session.scalar(select(GridConnection).order_by(GridConnection.id).limit(1))
    nodes = dict((await session.execute(select(Node.id, Node.code))).all())
    point_rows = await session.execute(
        select(MeteringPoint, Member.name)
        .join(Member, Member.id == MeteringPoint.member_id)
        .order_by(MeteringPoint.ppe_code)
    )
    points = tuple(
        PointInfo(
            mp.id,
            mp.ppe_code,
            _role(mp),
            mp.node_id,
            nodes[mp.node_id],
            mp.member_id,
            name,
            mp.active,
            mp.contracted_power_kw,
            mp.pv_kwp,
            mp.other_generation_kw,
            mp.storage_kwh,
            mp.annual_use_kwh,
        )
        for mp, name in point_rows
    )
    run_rows = await session.execute(
        cleared_with_runs(
            start,
            end,
            Interval.id,
            Interval.start_utc,
            Interval.minutes,
            ClearingRun.id,
            ClearingRun.result_hash,
            ClearingRun.finished_at,
        )
    )
    runs = tuple(
        RunInfo(iid, aware(t), minutes, rid, _run_version(rid, rhash, aware(fin)), aware(fin))
        for iid, t, minutes, rid, rhash, fin in run_rows
    )
    if not runs and not allow_empty:
        raise NotFound(
            "from",
            "no cleared intervals between %(start)s and %(end)s; "
            "choose a range in which the market has cleared",
            start=start,
            end=end,
        )
    imports_used = await session.execute(
        select(MeterReading.import_id, func.count(), MeterImport.imported_at)
        .join(MeterImport, MeterImport.id == MeterReading.import_id)
        .where(MeterReading.start_utc >= start, MeterReading.start_utc < end)
        .group_by(MeterReading.import_id, MeterImport.imported_at)
        .order_by(MeterReading.import_id)
    )
    meter_imports: dict[int, datetime] = {}
    digest = hashlib.sha256()
    for run in runs:
        digest.update(f"{run.start_utc.isoformat()}|{run.version}\n".encode())
    for import_id, count, imported_at in imports_used:
        meter_imports[import_id] = aware(imported_at)
        digest.update(f"m{import_id}|{count}\n".encode())
    generated_at = max([r.finished_at for r in runs] + list(meter_imports.values()), default=start)
    return ExportScope(
        start=start,
        end=end,
        cluster_id=cluster.registry_number or cluster.name,
        cluster_name=cluster.name,
        coordinator=cluster.coordinator_name,
        timezone=cluster.timezone,
        minutes=cluster.interval_minutes,
        import_reference=conn.import_price if conn else cluster.price_cap,
        export_reference=conn.export_price if conn else cluster.price_floor,
        points=points,
        nodes=nodes,
        runs=runs,
        meter_imports=meter_imports,
        version=digest.hexdigest()[:12],
        generated_at=generated_at.replace(microsecond=0),
    )


async def line_names(session: AsyncSession) -> dict[int, str]:
    """Line id → code (for reports)."""
    return dict((await session.execute(select(Line.id, Line.code))).all())


async def cleared_span(session: AsyncSession) -> tuple[datetime, datetime] | None:
    """First and last start of a cleared interval (to offer sensible default ranges)."""
    first, last = (
        await session.execute(
            select(func.min(Interval.start_utc), func.max(Interval.start_utc)).where(
                Interval.status == IntervalStatus.CLEARED.value
            )
        )
    ).one()
    if first is None or last is None:
        return None
    return aware(first), aware(last)
