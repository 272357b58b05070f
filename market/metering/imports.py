"""Importing a meter-data file into the database (all or nothing, unless told to skip).

Two passes over the (seekable) file keep memory flat: the first validates every row and
collects errors with line numbers; if there are errors and bad rows are not to be skipped,
nothing is stored. The second pass stores the valid readings on the cluster's interval grid
(hourly values split into quarter-hours, see `market.meterdata`) in batches inside one
transaction — the caller's (the request, or the command's unit of work): nothing here
commits. A reading for an interval already stored replaces it (the row's export version
changes with the new import's id).
"""

from __future__ import annotations

import hashlib
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from market.access.actor import Actor, require_role
from market.access.models import Role
from market.cluster.models import Cluster
from market.core.errors import NotFound, ValidationFailed
from market.metering.grid import to_cluster_grid
from market.metering.models import MeterImport, MeterReading
from market.metering.parse import ImportReport, read_meter_csv
from market.network.models import MeteringPoint

BATCH = 1000


def _digest(stream: IO[str]) -> str:
    stream.seek(0)
    h = hashlib.sha256()
    while chunk := stream.read(1 << 16):
        h.update(chunk.encode("utf-8"))
    stream.seek(0)
    return h.hexdigest()


async def _upsert(session: AsyncSession, values: list[dict[str, Any]]) -> None:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(MeterReading).values(values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["start_utc", "metering_point_id"],
        set_={
            "import_kwh": stmt.excluded.import_kwh,
            "export_kwh": stmt.excluded.export_kwh,
            "quality": stmt.excluded.quality,
            "source_minutes": stmt.excluded.source_minutes,
            "import_id": stmt.excluded.import_id,
        },
    )
    await session.execute(stmt)


async def import_meter_data(
    session: AsyncSession,
    actor: Actor | None,
    stream: IO[str],
    *,
    filename: str,
    skip_bad_rows: bool = False,
    resolution_minutes: int | None = None,
) -> ImportReport:
    """Validate and (if clean, or skipping bad rows) store a meter-data CSV.

    `actor` None means the trusted command line; otherwise distributor or coordinator only.
    Returns the report; `report.stored` is 0 when nothing was stored.
    """
    if actor is not None:
        require_role(actor, Role.DISTRIBUTOR, Role.COORDINATOR)
    cluster = await session.scalar(select(Cluster).order_by(Cluster.id).limit(1))
    if cluster is None:
        raise NotFound("cluster", "no cluster is set up yet; run `klaster seed` first")
    known = dict((await session.execute(select(MeteringPoint.ppe_code, MeteringPoint.id))).all())
    sha = _digest(stream)

    def readings(report: ImportReport) -> Any:
        raw = read_meter_csv(
            stream,
            is_known_ppe=known.__contains__,
            zone=cluster.timezone,
            resolution_minutes=resolution_minutes,
            report=report,
        )
        return to_cluster_grid(raw, cluster.interval_minutes, report)

    check = ImportReport()
    for _reading in readings(check):
        pass
    if check.valid_rows == 0 and check.ok:
        raise ValidationFailed("file", "the file has no data rows")
    if not check.ok and not skip_bad_rows:
        return check
    stream.seek(0)
    record = MeterImport(
        filename=filename[:200],
        sha256=sha,
        resolution_minutes=check.resolution_minutes,
        rows=check.rows,
        skipped_rows=check.error_count,
        stored_readings=0,
        imported_by_id=actor.member_id if actor else None,
    )
    session.add(record)
    await session.flush()
    store = ImportReport()
    batch: list[dict[str, Any]] = []
    stored = 0
    for r in readings(store):
        batch.append(
            {
                "start_utc": r.start_utc,
                "metering_point_id": known[r.ppe],
                "import_kwh": r.import_kwh,
                "export_kwh": r.export_kwh,
                "quality": r.quality.value,
                "source_minutes": store.resolution_minutes,
                "import_id": record.id,
            }
        )
        if len(batch) >= BATCH:
            await _upsert(session, batch)
            stored += len(batch)
            batch = []
    if batch:
        await _upsert(session, batch)
        stored += len(batch)
    record.stored_readings = stored
    check.stored = stored
    return check


async def recent_imports(session: AsyncSession, limit: int = 10) -> list[MeterImport]:
    """The latest meter-data imports, newest first."""
    rows = await session.scalars(select(MeterImport).order_by(MeterImport.id.desc()).limit(limit))
    return list(rows)
