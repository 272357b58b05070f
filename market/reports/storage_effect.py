"""What storage changed on a day: the day-ahead clearing in force against the same problem
cleared again without its storage units (same orders, same network, same day).

Figures per variant: grid import and export (kWh, Σ over the day's intervals at the grid
connections), the members' demand (Σ accepted buying of simple orders and blocks; storage
charging is not demand) and self-sufficiency = 1 − grid import / demand (the share of the
demand met inside the cluster), clipped to [0, 1].

The source of both: the problem document stored with the day's run in force
(`day_ahead_runs.problem_gz`, its version and clearing time are reported), cleared twice by
the several-interval core, with and without its `storage` (off the event loop; about two
day-ahead solves, so the report page loads it after the page). The figures are computed once
per day-ahead run and kept (`market.reports.models.StorageEffectFigures`)."""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import anyio
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.clearing import day_ahead as da_clearing
from market.clearing.day_ahead_results import run_in_force
from market.core.errors import NotFound
from market.core.money import energy
from market.db.engine import dialect_name
from market.reports.models import StorageEffectFigures
from market.trading.day_ahead_models import AuctionStatus, DayAheadAuction


@dataclass(frozen=True, slots=True)
class DayFigures:
    grid_import_kwh: Decimal
    grid_export_kwh: Decimal
    demand_kwh: Decimal
    self_sufficiency: Decimal
    status: str


@dataclass(frozen=True, slots=True)
class StorageEffect:
    local_day: date
    storage_units: int
    with_storage: DayFigures
    without_storage: DayFigures
    #: The run whose problem was cleared again (the version in force) and when it cleared.
    version: int = 1
    cleared_at: datetime | None = None


def figures(doc: dict[str, Any], result: dict[str, Any]) -> DayFigures:
    """The figures of one clearing result of `doc` (pure)."""
    grid_in = sum(
        (g.get("import_kwh", 0.0) for iv in result.get("intervals", [])
         for g in iv.get("grid_connections", [])), 0.0,
    )  # fmt: skip
    grid_out = sum(
        (g.get("export_kwh", 0.0) for iv in result.get("intervals", [])
         for g in iv.get("grid_connections", [])), 0.0,
    )  # fmt: skip
    buys = {o["id"] for o in doc.get("orders", []) if o["side"] == "buy"}
    demand = sum(
        (o.get("accepted_kwh", 0.0) for o in result.get("orders", []) if o["id"] in buys), 0.0
    )
    blocks = {b["id"]: b for b in doc.get("blocks", []) if b["side"] == "buy"}
    for b in result.get("blocks", []):
        spec = blocks.get(b["id"])
        if spec is not None:
            demand += float(b.get("accepted_ratio", 0.0)) * sum(spec["quantities_kwh"])
    share = 0.0 if demand <= 0 else min(1.0, max(0.0, 1.0 - grid_in / demand))
    return DayFigures(
        energy(grid_in), energy(grid_out), energy(demand),
        Decimal(repr(round(share, 4))), str(result.get("status", "error")),
    )  # fmt: skip


def _both(doc: dict[str, Any]) -> tuple[DayFigures, DayFigures]:
    with_result = da_clearing.clear_document(doc)
    without_doc = {k: v for k, v in doc.items() if k != "storage"}
    without_result = da_clearing.clear_document(without_doc)
    return figures(doc, with_result), figures(without_doc, without_result)


def _to_json(effect: StorageEffect) -> dict[str, Any]:
    def day(f: DayFigures) -> dict[str, str]:
        return {
            "grid_import_kwh": str(f.grid_import_kwh),
            "grid_export_kwh": str(f.grid_export_kwh),
            "demand_kwh": str(f.demand_kwh),
            "self_sufficiency": str(f.self_sufficiency),
            "status": f.status,
        }

    return {
        "storage_units": effect.storage_units,
        "with_storage": day(effect.with_storage),
        "without_storage": day(effect.without_storage),
    }


def _from_json(
    doc: dict[str, Any], day: date, version: int, cleared_at: datetime | None
) -> StorageEffect:
    def figures_of(d: dict[str, str]) -> DayFigures:
        return DayFigures(
            Decimal(d["grid_import_kwh"]), Decimal(d["grid_export_kwh"]),
            Decimal(d["demand_kwh"]), Decimal(d["self_sufficiency"]), d["status"],
        )  # fmt: skip

    return StorageEffect(
        day, int(doc["storage_units"]), figures_of(doc["with_storage"]),
        figures_of(doc["without_storage"]), version, cleared_at,
    )  # fmt: skip


#: Up to this many orders in the day's problem, the first view clears it again while it
#: waits (a 75-point day: well under a second). A larger day (a 5,000-point cluster's
#: ~480,000 orders: ~35 s) is computed in the background (`compute_storage_effect`) while
#: the page says so; a request that waits that long times out behind most proxies.
INLINE_ORDERS = 50_000


async def storage_effect(
    session: AsyncSession, day: date, *, wait: bool = True
) -> StorageEffect | None:
    """The stored problem of the day's clearing in force, cleared with and without its
    storage (off the event loop) — once per day-ahead run: the figures are kept
    (`storage_effects`, keyed by the run, i.e. the day and its version) and read back on the
    next view; a re-clear stores a new run, so its first view computes them again. The
    figures are added to the caller's transaction. With `wait=False`, figures not kept yet of
    a day with more than `INLINE_ORDERS` orders are not computed: None."""
    auction = await session.scalar(select(DayAheadAuction).where(DayAheadAuction.local_day == day))
    run = await run_in_force(session, auction) if auction is not None else None
    if run is None:
        raise NotFound("day", "the day-ahead auction of %(day)s is not cleared", day=day)
    kept = await session.scalar(
        select(StorageEffectFigures.figures).where(StorageEffectFigures.run_id == run.id)
    )
    if kept is not None:
        return _from_json(kept, day, run.version, run.finished_at)
    if not wait and (run.order_count or 0) > INLINE_ORDERS:
        return None
    doc = json.loads(zlib.decompress(run.problem_gz))
    with_storage, without = await anyio.to_thread.run_sync(_both, doc)
    effect = StorageEffect(
        day, len(doc.get("storage", [])), with_storage, without, run.version, run.finished_at
    )
    # Two first views at once both compute; the first to commit keeps its figures.
    insert = pg_insert if dialect_name(session) == "postgresql" else sqlite_insert
    await session.execute(
        insert(StorageEffectFigures)
        .values(run_id=run.id, figures=_to_json(effect))
        .on_conflict_do_nothing(index_elements=["run_id"])
    )
    return effect


async def compute_storage_effect(sessions: async_sessionmaker[AsyncSession], day: date) -> None:
    """Compute and keep the day's figures in their own transaction (a module-level step:
    `market.db.offload.ProcessOffload.run` runs it in a worker process)."""
    from market.db.engine import unit_of_work

    async with unit_of_work(sessions) as session:
        await storage_effect(session, day)


async def latest_cleared_day(session: AsyncSession, first: date, last: date) -> date | None:
    """The latest local day in [first, last] whose day-ahead auction is cleared."""
    return await session.scalar(
        select(DayAheadAuction.local_day)
        .where(
            DayAheadAuction.status == AuctionStatus.CLEARED.value,
            DayAheadAuction.local_day >= first,
            DayAheadAuction.local_day <= last,
        )
        .order_by(DayAheadAuction.local_day.desc())
        .limit(1)
    )
