"""The export's statutory table: per metering point and local hour, what it took and fed in,
its share of the hour's exempt energy and the fees avoided on it (`market.statutory`: meter
data where imported, else cleared positions; the same hourly matching and allocation as
`klaster report statutory --by point --granularity hour`). Σ over the points of an hour =
the cluster's exempt energy and avoided fees of that hour."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from market.export.scope import ExportScope
from market.export.tables import StatutoryRow
from market.statutory.hourly import match_hour
from market.statutory.inputs import load_points, point_hours
from market.statutory.rates import load_rate_book
from market.statutory.rules import RULES

BATCH_ROWS = 5000
_ZERO = Decimal("0.000")
_ZERO4 = Decimal("0.0000")


async def statutory_batches(
    session: AsyncSession, scope: ExportScope
) -> AsyncIterator[list[StatutoryRow]]:
    zone = ZoneInfo(scope.timezone)
    points, _capacity = await load_points(session, RULES)
    rates = await load_rate_book(session)
    ppe = {p.id: p.ppe for p in scope.points}
    batch: list[StatutoryRow] = []
    async for hour, figures in point_hours(session, points, scope.start, scope.end):
        local: datetime = hour.astimezone(zone)
        local_day = local.date()
        number = _hour_number(hour, local_day, zone)
        result = match_hour(hour, local_day, figures, RULES, rates)
        shares = {a.point_id: a for a in result.allocations}
        for p in figures:
            share = shares.get(p.point_id)
            batch.append(
                StatutoryRow(
                    scope.cluster_id,
                    ppe.get(p.point_id, str(p.point_id)),
                    hour,
                    local,
                    local_day,
                    number,
                    p.technology,
                    RULES.is_renewable(p.technology),
                    p.source.value,
                    p.import_kwh,
                    p.export_kwh,
                    share.exempt_kwh if share else _ZERO,
                    share.avoided_fees_pln if share else _ZERO4,
                    RULES.version,
                    scope.version,
                )
            )
        if len(batch) >= BATCH_ROWS:
            yield batch
            batch = []
    if batch:
        yield batch


def _hour_number(hour_utc: datetime, local_day: date, zone: ZoneInfo) -> int:
    """The hour's number in its local day (1 = from midnight), counting real hours: the
    repeated autumn hour is 3 and 4, a spring day ends with 23."""
    midnight = datetime.combine(local_day, datetime.min.time(), zone).astimezone(UTC)
    return int((hour_utc - midnight).total_seconds() // 3600) + 1
