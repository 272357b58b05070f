"""Clearing a local day's day-ahead auction from the database: every interval of the day at
once (92, 96 or 100 of them), with the day's simple day-ahead orders, storage orders and
block groups, by the several-interval core (`matching.clear_document`, issue 12).

Exactly once, as for an interval (`market.clearing.run`): the auction is claimed by a
conditional UPDATE (closed → clearing, or a clearing claim whose lease ran out), the result is
stored only if the same guard still holds (`status = 'clearing' AND claimed_by = me`) in the
storing transaction, and the unique (auction_id, version) of `day_ahead_runs` is the last line
of defence. A worker killed while clearing leaves the auction in `clearing` with a lease that
expires; the next worker takes it over and clears it again (nothing of a killed worker's run
is stored: the run and everything it decided are written in one transaction). A re-clear
(`klaster day-ahead clear DATE --reclear`) reopens a cleared or failed auction and stores the
next version; the auction's `version` names the one in force.

The problem document (issue-12 JSON form): the active network; every grid connection with its
prices and limits; simple orders (`Order.market = 'da'`) with the 0-based `interval` of their
day; storage (a unit's minimum state of charge is modelled by shifting its range: the core
sees energy − minimum, and states are reported back with the minimum added); blocks, one
`group` per block group (exclusive).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
import zlib
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, cast

import anyio
from sqlalchemy import Float, Table, select, type_coerce, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.access import audit
from market.clearing.day_ahead_models import (
    DayAheadFlow,
    DayAheadGrid,
    DayAheadPosition,
    DayAheadPrice,
    DayAheadRun,
    StorageSchedule,
)
from market.cluster.service import get_cluster
from market.core.events import DAY_AHEAD, Publisher, publish_safely
from market.core.money import AMOUNT, ENERGY, energy
from market.core.money import price as round_price
from market.db import bulk
from market.db.engine import unit_of_work
from market.db.lease import Lease
from market.db.offload import ProcessOffload
from market.network.models import GridConnection, Line, MeteringPoint, Node
from market.network.storage_models import StorageUnit
from market.prices.grid import GridPrices, grid_price_series, interval_rce
from market.trading.day_ahead import materialise_day
from market.trading.day_ahead_gate import ensure_day
from market.trading.day_ahead_models import (
    AuctionStatus,
    BlockGroup,
    BlockOrder,
    DayAheadAuction,
    Market,
    StorageOrder,
)
from market.trading.models import Interval, Order, OrderStatus

log = logging.getLogger("klaster.day_ahead")
ZERO = Decimal("0.000")
CHUNK_ROWS = 5000
FILLED, UNFILLED = OrderStatus.FILLED.value, OrderStatus.UNFILLED.value

DAY_AHEAD_GATE_CLOSED = "day_ahead_gate_closed"
DAY_AHEAD_CLEARED = "day_ahead_cleared"


class CoreUnavailable(RuntimeError):
    """The several-interval clearing core (`matching.clear_document`) is not installed."""


def clear_document(doc: dict[str, Any]) -> dict[str, Any]:
    """The several-interval core (issue 12); imported when used, so a missing core fails
    the clearing of a day, not the import of this module."""
    import matching

    core = getattr(matching, "clear_document", None)
    if core is None:
        raise CoreUnavailable("the several-interval clearing core is not installed")
    result: dict[str, Any] = core(doc)
    return result


def core_available() -> bool:
    import matching

    return hasattr(matching, "clear_document")


def problem_error() -> type[Exception]:
    import matching

    return getattr(matching, "ProblemError", ValueError)  # type: ignore[no-any-return]


# ---------------------------------------------------------------- the problem


@dataclass(frozen=True, slots=True)
class DayProblem:
    """The issue-12 problem document of a day and the database rows its ids stand for."""

    doc: dict[str, Any]
    interval_ids: list[int]
    node_ids: dict[str, int]
    line_ids: dict[str, int]
    #: Document order id → (order id, metering point id, node code, is buy, interval index).
    orders: dict[str, tuple[int, int, str, bool, int]]
    #: Document storage id → (storage order id, metering point id, node code, soc minimum).
    storage: dict[str, tuple[int, int, str, Decimal]]
    #: Document block id → (block id, metering point id, node code, is buy, first index,
    #: kWh per interval).
    blocks: dict[str, tuple[int, int, str, bool, int, list[Decimal]]]
    #: Orders left out (inactive node or metering point).
    excluded_order_ids: list[int] = field(default_factory=list)


def _num(value: Decimal | float) -> float | int:
    as_int = int(value)
    return as_int if value == as_int else float(value)


async def build_day_problem(session: AsyncSession, auction: DayAheadAuction) -> DayProblem:
    day = auction.local_day
    intervals = (
        await session.scalars(
            select(Interval).where(Interval.local_day == day).order_by(Interval.start_utc)
        )
    ).all()
    index = {iv.id: k for k, iv in enumerate(intervals)}
    number_index = {iv.number: k for k, iv in enumerate(intervals)}
    nodes = (await session.scalars(select(Node).where(Node.active).order_by(Node.id))).all()
    code = {n.id: n.code for n in nodes}
    lines = [
        ln
        for ln in (await session.scalars(select(Line).where(Line.active).order_by(Line.id))).all()
        if ln.from_node_id in code and ln.to_node_id in code
    ]
    conns = [
        g
        for g in (await session.scalars(select(GridConnection).order_by(GridConnection.id))).all()
        if g.node_id in code
    ]
    points = {
        p.id: p
        for p in (await session.scalars(select(MeteringPoint).where(MeteringPoint.active))).all()
    }
    doc_orders: list[dict[str, Any]] = []
    orders: dict[str, tuple[int, int, str, bool, int]] = {}
    excluded: list[int] = []
    # A day has hundreds of thousands: Core rows (no ORM row processing) in partitions, the
    # loop's turn between them; quantities and prices as floats straight from the driver (the
    # document's numbers; what `Dec` would make of them is the same number, ~1 µs later).
    table = cast(Table, Order.__table__).c
    stream = await session.stream(
        select(
            table.id, table.metering_point_id, table.interval_id, table.side,
            type_coerce(table.quantity_kwh, Float()), type_coerce(table.price, Float()),
        )
        .where(
            table.interval_id.in_(list(index)),
            table.market == Market.DAY_AHEAD.value,
            table.status != OrderStatus.CANCELLED.value,
        )
        .order_by(table.id)
        .execution_options(yield_per=CHUNK_ROWS)
    )  # fmt: skip
    node_of = {p.id: code[p.node_id] for p in points.values() if p.node_id in code}
    async for part in stream.partitions():
        for oid, mp, iv, side, qty, price in part:
            node = node_of.get(mp)
            if node is None:
                excluded.append(oid)
                continue
            key = f"o{oid}"
            t = index[iv]
            orders[key] = (oid, mp, node, side == "buy", t)
            doc_orders.append(
                {"id": key, "node": node, "side": side, "quantity_kwh": _num(qty),
                 "price": _num(price), "interval": t}
            )  # fmt: skip
        await asyncio.sleep(0)
    doc_storage: list[dict[str, Any]] = []
    storage: dict[str, tuple[int, int, str, Decimal]] = {}
    srows = (
        await session.execute(
            select(StorageOrder, StorageUnit)
            .join(StorageUnit, StorageUnit.metering_point_id == StorageOrder.metering_point_id)
            .where(StorageOrder.local_day == day, StorageOrder.cancelled.is_(False))
            .order_by(StorageOrder.id)
        )
    ).all()
    for so, unit in srows:
        point = points.get(so.metering_point_id)
        if point is None or point.node_id not in code:
            continue
        key = f"s{so.id}"
        low = unit.soc_min_kwh
        initial = min(max(so.soc_initial_kwh, low), unit.energy_kwh)
        final = unit.soc_final_min_kwh if unit.soc_final_min_kwh is not None else initial
        storage[key] = (so.id, so.metering_point_id, code[point.node_id], low)
        doc_storage.append(
            {
                "id": key,
                "node": code[point.node_id],
                "energy_kwh": _num(unit.energy_kwh - low),
                "soc_initial_kwh": _num(initial - low),
                "soc_final_min_kwh": _num(final - low),
                "charge_kw": _num(unit.charge_kw),
                "discharge_kw": _num(unit.discharge_kw),
                "efficiency_charge": _num(unit.efficiency_charge),
                "efficiency_discharge": _num(unit.efficiency_discharge),
                "cost_per_kwh": _num(so.cost_per_kwh),
            }
        )
    doc_blocks: list[dict[str, Any]] = []
    blocks: dict[str, tuple[int, int, str, bool, int, list[Decimal]]] = {}
    brows = (
        await session.execute(
            select(BlockOrder, BlockGroup)
            .join(BlockGroup, BlockGroup.id == BlockOrder.group_id)
            .where(BlockGroup.local_day == day, BlockGroup.cancelled.is_(False))
            .order_by(BlockGroup.id, BlockOrder.first_number)
        )
    ).all()
    for block, group in brows:
        point = points.get(group.metering_point_id)
        first = number_index.get(block.first_number)
        quantities = [Decimal(q) for q in block.quantities_kwh]
        if (
            point is None
            or point.node_id not in code
            or first is None
            or first + len(quantities) > len(intervals)
        ):
            continue
        key = f"b{block.id}"
        blocks[key] = (
            block.id, group.metering_point_id, code[point.node_id], group.side == "buy", first,
            quantities,
        )  # fmt: skip
        doc_blocks.append(
            {
                "id": key,
                "node": code[point.node_id],
                "side": group.side,
                "price": _num(group.price),
                "first_interval": first,
                "quantities_kwh": [_num(q) for q in quantities],
                "min_acceptance_ratio": _num(group.min_acceptance_ratio),
                "group": f"g{group.id}",
            }
        )
    grid_prices = await _grid_prices(session, conns, intervals)
    doc: dict[str, Any] = {
        "intervals": [
            {"start": iv.start_utc.isoformat().replace("+00:00", "Z"), "minutes": iv.minutes}
            for iv in intervals
        ],
        "network": {
            "nodes": [{"id": n.code} for n in nodes],
            "lines": [
                {
                    "id": ln.code,
                    "from": code[ln.from_node_id],
                    "to": code[ln.to_node_id],
                    "capacity_kw": _num(ln.capacity_kw),
                }
                | ({} if ln.reactance is None else {"reactance": _num(ln.reactance)})
                for ln in lines
            ],
            "grid_connections": [
                {
                    "node": code[g.node_id],
                    "import_price": grid_prices[g.id][0],
                    "export_price": grid_prices[g.id][1],
                    "import_limit_kw": _num(g.import_limit_kw),
                    "export_limit_kw": _num(g.export_limit_kw),
                }
                for g in conns
            ],
        },
        "orders": doc_orders,
    }
    if doc_storage:
        doc["storage"] = doc_storage
    if doc_blocks:
        doc["blocks"] = doc_blocks
    return DayProblem(
        doc=doc,
        interval_ids=[iv.id for iv in intervals],
        node_ids={n.code: n.id for n in nodes},
        line_ids={ln.code: ln.id for ln in lines},
        orders=orders,
        storage=storage,
        blocks=blocks,
        excluded_order_ids=excluded,
    )


async def _grid_prices(
    session: AsyncSession, conns: list[GridConnection], intervals: Sequence[Interval]
) -> dict[int, tuple[Any, Any]]:
    """Each connection's (import, export) price for the document: its fixed prices, or under
    the cluster's `grid_prices = "market"` one per interval from the imported RCE
    (`market.prices.grid`)."""
    cluster = await get_cluster(session)
    fixed = {g.id: (_num(g.import_price), _num(g.export_price)) for g in conns}
    if cluster.grid_prices != GridPrices.MARKET.value or not intervals or not conns:
        return fixed
    rce = await interval_rce(session, [iv.start_utc for iv in intervals], intervals[0].minutes)
    if all(r is None for r in rce):
        return fixed
    out: dict[int, tuple[Any, Any]] = {}
    for g in conns:
        imports, exports = grid_price_series(g.import_price, g.export_price, rce)
        out[g.id] = ([_num(p) for p in imports], [_num(p) for p in exports])
    return out


def canonical(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)


def digest(data: Any) -> str:
    return hashlib.sha256(canonical(data).encode()).hexdigest()


def result_digest(result: dict[str, Any]) -> str:
    return digest({k: v for k, v in result.items() if k != "timings"})


# ---------------------------------------------------------------- converting the result


@dataclass(frozen=True, slots=True)
class ConvertedDay:
    run: dict[str, Any]
    price_rows: list[dict[str, Any]]
    flow_rows: list[dict[str, Any]]
    grid_rows: list[dict[str, Any]]
    position_rows: list[dict[str, Any]]
    storage_rows: list[dict[str, Any]]
    block_rows: list[dict[str, Any]]
    #: (order id, accepted kWh, clearing price, amount PLN, status) per order of the day.
    order_rows: list[tuple[int, Decimal, Decimal | None, Decimal, str]]
    ok: bool
    #: Per interval index: {node code: price string} (the live event's summary).
    summary: dict[str, Any]


def _e(value: Any) -> Decimal:
    """`energy(float(value))`, with its rounding; most of a day's orders take 0."""
    if not value:
        return ZERO
    return Decimal(repr(float(value))).quantize(ENERGY, rounding=ROUND_HALF_EVEN)


def problem_record(doc: dict[str, Any]) -> tuple[str, bytes]:
    """The problem document's audit hash (sha256 of its canonical JSON) and the stored,
    compressed JSON. (Level 1: a fifth of level 6's time for 20 % more bytes; the document
    is 49 MB of JSON at 5,000 metering points.)"""
    document = canonical(doc).encode()
    return hashlib.sha256(document).hexdigest(), zlib.compress(document, 1)


def convert_day(
    problem: DayProblem, result: dict[str, Any], record: tuple[str, bytes] | None = None
) -> ConvertedDay:
    """The core's floats as stored decimals (energy to the Wh, prices to 4 places, amounts
    to the grosz per position); pure, run off the event loop. `record`: `problem_record`
    of the problem's document, if made already."""
    status = str(result.get("status", "error"))
    ok = status == "optimal"
    ivs = problem.interval_ids
    prices: list[dict[str, Decimal]] = [{} for _ in ivs]
    price_rows: list[dict[str, Any]] = []
    flow_rows: list[dict[str, Any]] = []
    grid_rows: list[dict[str, Any]] = []
    if ok:
        for t, item in enumerate(result.get("intervals", [])):
            for nd in item.get("nodes", []):
                p = round_price(float(nd["price"]))
                prices[t][str(nd["id"])] = p
                price_rows.append(
                    {"interval_id": ivs[t], "node_id": problem.node_ids[str(nd["id"])], "price": p}
                )
            for ln in item.get("lines", []):
                flow_rows.append(
                    {
                        "interval_id": ivs[t],
                        "line_id": problem.line_ids[str(ln["id"])],
                        "flow_kwh": _e(ln.get("flow_kwh")),
                    }
                )
            for g in item.get("grid_connections", []):
                grid_rows.append(
                    {
                        "interval_id": ivs[t],
                        "node_id": problem.node_ids[str(g["node"])],
                        "import_kwh": _e(g.get("import_kwh")),
                        "export_kwh": _e(g.get("export_kwh")),
                    }
                )
    # Per (interval index, metering point): [import, export, amount].
    pos: dict[tuple[int, int], list[Decimal]] = defaultdict(lambda: [ZERO, ZERO, Decimal(0)])

    def add(t: int, mp: int, node: str, buy: bool, kwh: Decimal) -> Decimal:
        if kwh <= 0:
            return Decimal("0.00")
        p = prices[t].get(node, Decimal(0))
        cell = pos[(t, mp)]
        cell[0 if buy else 1] += kwh
        cell[2] += kwh * p if buy else -kwh * p
        return (kwh * p).quantize(AMOUNT)

    # (id, accepted kWh, clearing price, amount, status) per order, as plain tuples (a day has
    # ~500,000: no dict per row); most orders take nothing, and share one zero.
    accepted = {o["id"]: o.get("accepted_kwh", 0.0) for o in result.get("orders", [])} if ok else {}
    no_amount = Decimal("0.00")
    order_rows: list[tuple[int, Decimal, Decimal | None, Decimal, str]] = []
    append = order_rows.append
    for key, (oid, mp, node, buy, t) in problem.orders.items():
        price = prices[t].get(node) if ok else None
        value = accepted.get(key)
        if not value:
            append((oid, ZERO, price, no_amount, UNFILLED))
            continue
        kwh = _e(value)
        append((oid, kwh, price, add(t, mp, node, buy, kwh), FILLED if kwh > 0 else UNFILLED))
    order_rows += [
        (oid, ZERO, None, no_amount, OrderStatus.UNFILLED.value)
        for oid in problem.excluded_order_ids
    ]
    # A partly accepted simple order: its requested quantity is compared by the caller.
    storage_rows: list[dict[str, Any]] = []
    by_storage = {str(s["id"]): s for s in result.get("storage", [])} if ok else {}
    for key, (so_id, mp, node, low) in problem.storage.items():
        item = by_storage.get(key)
        if item is None:
            continue
        charge, discharge, soc = item["charge_kwh"], item["discharge_kwh"], item["soc_kwh"]
        for t in range(len(ivs)):
            c, d = _e(charge[t]), _e(discharge[t])
            add(t, mp, node, True, c)
            add(t, mp, node, False, d)
            storage_rows.append(
                {
                    "storage_order_id": so_id,
                    "interval_id": ivs[t],
                    "charge_kwh": c,
                    "discharge_kwh": d,
                    "soc_kwh": _e(soc[t]) + low,
                }
            )
    block_rows: list[dict[str, Any]] = []
    by_block = {str(b["id"]): b for b in result.get("blocks", [])} if ok else {}
    for key, (bid, mp, node, buy, first, quantities) in problem.blocks.items():
        item = by_block.get(key, {})
        ratio = Decimal(repr(round(float(item.get("accepted_ratio", 0.0)), 6)))
        for k, q in enumerate(quantities):
            add(first + k, mp, node, buy, energy(q * ratio))
        block_rows.append(
            {
                "id": bid,
                "accepted_ratio": ratio,
                "surplus_pln": Decimal(repr(round(float(item.get("surplus", 0.0)), 2))),
                "paradoxically_rejected": bool(item.get("paradoxically_rejected", False)),
            }
        )
    position_rows = [
        {
            "interval_id": ivs[t],
            "metering_point_id": mp,
            "import_kwh": cell[0],
            "export_kwh": cell[1],
            "amount_pln": cell[2].quantize(AMOUNT),
        }
        for (t, mp), cell in sorted(pos.items())
    ]
    timings = result.get("timings") or {}
    input_hash, problem_gz = record or problem_record(problem.doc)
    run = {
        "input_hash": input_hash,
        "result_hash": result_digest(result),
        "problem_gz": problem_gz,
        "status": status,
        "reason": str(result.get("reason", "") or ""),
        "interval_count": len(ivs),
        "order_count": len(problem.orders) + len(problem.blocks) + len(problem.storage),
        "welfare_pln": Decimal(repr(round(float(result.get("welfare", 0.0) or 0.0), 2)))
        if ok
        else Decimal("0.00"),
        "timings": {str(k): float(v) for k, v in timings.items() if isinstance(v, int | float)},
    }
    summary = {
        "prices_min": str(min((p for d in prices for p in d.values()), default=Decimal(0))),
        "prices_max": str(max((p for d in prices for p in d.values()), default=Decimal(0))),
        "storage_units": len(problem.storage),
        "blocks_accepted": sum(1 for b in block_rows if b["accepted_ratio"] > 0),
        "blocks": len(block_rows),
    }
    return ConvertedDay(
        run, price_rows, flow_rows, grid_rows, position_rows, storage_rows, block_rows,
        order_rows, ok, summary,
    )  # fmt: skip


def solve_day(problem: DayProblem) -> tuple[dict[str, Any], ConvertedDay]:
    """The CPU-bound part (off the event loop). The problem's audit record is made in a
    thread beside the core's solve (the solver releases the GIL: on two cores it is free)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        record = pool.submit(problem_record, problem.doc)
        try:
            result = clear_document(problem.doc)
        except CoreUnavailable:
            raise
        except problem_error() as exc:
            result = {"status": "error", "reason": f"bad network or orders: {exc}"}
        return result, convert_day(problem, result, record.result())


# ---------------------------------------------------------------- the gate, claim and store


async def close_gate(
    sessions: async_sessionmaker[AsyncSession],
    auction_id: int,
    worker_id: str,
    publisher: Publisher,
    now: datetime,
    *,
    offload: ProcessOffload | None = None,
) -> bool:
    """open → closed, with the daily storage orders and block groups placed into the day in
    the same transaction (and forecast-mode standing orders re-placed where the forecast
    changed since the day opened). True for the one process that closed it. With `offload`, the work
    runs in a worker process (the event loop only waits); the event is published here."""
    if offload is None:
        day = await close_gate_step(sessions, auction_id, worker_id, now)
    else:
        day = await offload.run(sessions, close_gate_step, auction_id, worker_id, now)
    if day is None:
        return False
    await publish_safely(
        publisher,
        DAY_AHEAD,
        {"type": DAY_AHEAD_GATE_CLOSED, "local_day": day.isoformat(), "auction_id": auction_id},
    )
    return True


async def close_gate_step(
    sessions: async_sessionmaker[AsyncSession], auction_id: int, worker_id: str, now: datetime
) -> date | None:
    """`close_gate`'s database work (no publishing): the day closed, or None."""
    async with sessions() as session:
        result = await session.execute(
            update(DayAheadAuction)
            .where(
                DayAheadAuction.id == auction_id,
                DayAheadAuction.status == AuctionStatus.OPEN.value,
            )
            .values(status=AuctionStatus.CLOSED.value, closed_at=now)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            await session.rollback()
            return None
        auction = await session.get(DayAheadAuction, auction_id)
        assert auction is not None
        cluster = await get_cluster(session)
        # Forecast-mode standing orders are re-placed if the forecast changed since the day
        # opened (new meter data): the auction clears the latest forecast.
        placed = await materialise_day(session, cluster, auction.local_day, now, at_gate=True)
        day = auction.local_day
        audit.record(session, None, "gate_closed", "day_ahead", auction_id,
                     local_day=str(day), daily_orders=placed, worker=worker_id)  # fmt: skip
        await session.commit()
    return day


#: How a day's auction is claimed for clearing (`market.db.lease`).
AUCTION_LEASE = Lease(DayAheadAuction, AuctionStatus.CLEARING.value, (AuctionStatus.CLOSED.value,))


async def claim_day(
    sessions: async_sessionmaker[AsyncSession],
    auction_id: int,
    worker_id: str,
    lease: timedelta,
) -> bool:
    """Take the auction for clearing; True for exactly one contender."""
    return await AUCTION_LEASE.claim(sessions, auction_id, worker_id, lease)


async def reopen_for_reclear(
    sessions: async_sessionmaker[AsyncSession], auction_id: int, worker_id: str
) -> bool:
    """cleared | failed → closed, so that it is claimed and cleared again (next version)."""
    async with unit_of_work(sessions) as session:
        result = await session.execute(
            update(DayAheadAuction)
            .where(
                DayAheadAuction.id == auction_id,
                DayAheadAuction.status.in_(
                    [AuctionStatus.CLEARED.value, AuctionStatus.FAILED.value]
                ),
            )
            .values(status=AuctionStatus.CLOSED.value)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            audit.record(session, None, "reclear", "day_ahead", auction_id, worker=worker_id)
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class StoredDay:
    auction_id: int
    local_day: date
    version: int
    run_id: int
    status: str
    reason: str
    input_hash: str
    result_hash: str
    positions: int
    summary: dict[str, Any]
    #: Wall and CPU seconds of the steps (`build_s`, `build_cpu_s`, `solve_s`, ...), for logs
    #: and benchmarks.
    phases: dict[str, float] = field(default_factory=dict)


async def clear_claimed_day(
    sessions: async_sessionmaker[AsyncSession],
    auction_id: int,
    worker_id: str,
    publisher: Publisher,
    *,
    offload: ProcessOffload | None = None,
) -> StoredDay | None:
    """Clear an auction this worker has claimed; None if the claim was lost meanwhile.
    Its own transactions on purpose (see `market.clearing.run.clear_claimed`). With
    `offload`, reading, solving and storing run in a worker process (the event loop only
    waits); the event is published here."""
    if offload is None:
        stored = await clear_claimed_step(sessions, auction_id, worker_id)
    else:
        stored = await offload.run(sessions, clear_claimed_step, auction_id, worker_id)
    if stored is not None:
        await publish_safely(publisher, DAY_AHEAD, cleared_event(stored))
    return stored


async def clear_claimed_step(
    sessions: async_sessionmaker[AsyncSession], auction_id: int, worker_id: str
) -> StoredDay | None:
    """`clear_claimed_day`'s database and solver work (no publishing)."""
    started = datetime.now(UTC)
    phases = _Phases()
    async with sessions() as session:
        auction = await session.get(DayAheadAuction, auction_id)
        assert auction is not None
        problem = await build_day_problem(session, auction)
        await session.rollback()  # release the read snapshot while solving
        phases.done("build")
        try:
            result, converted = await anyio.to_thread.run_sync(solve_day, problem)
        except CoreUnavailable:
            raise
        except Exception as exc:
            log.exception("day-ahead clearing of auction %s crashed", auction_id)
            result = {"status": "error", "reason": f"solver crashed: {exc!r}"}
            converted = convert_day(problem, result)
        phases.done("solve")
        try:
            stored = await _store(session, auction_id, worker_id, started, converted)
            if stored is None:
                await session.rollback()
                return None
            await session.commit()
        except IntegrityError:
            await session.rollback()
            log.info("day-ahead auction %s was stored by another worker", auction_id)
            return None
        except BaseException:
            await session.rollback()
            raise
        phases.done("store")
    log.info("day-ahead auction %s cleared: %s", auction_id, phases.figures)
    return replace(stored, phases=phases.figures)


class _Phases:
    """Wall and CPU seconds per step (CPU of the whole process, its threads included)."""

    def __init__(self) -> None:
        self.figures: dict[str, float] = {}
        self._wall, self._cpu = time.perf_counter(), time.process_time()

    def done(self, name: str) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        self.figures[f"{name}_s"] = round(wall - self._wall, 3)
        self.figures[f"{name}_cpu_s"] = round(cpu - self._cpu, 3)
        self._wall, self._cpu = wall, cpu


async def _store(
    session: AsyncSession,
    auction_id: int,
    worker_id: str,
    started: datetime,
    converted: ConvertedDay,
) -> StoredDay | None:
    final = AuctionStatus.CLEARED if converted.ok else AuctionStatus.FAILED
    now = datetime.now(UTC)
    # The guard: only the worker holding the claim stores (this UPDATE locks the row).
    if not await AUCTION_LEASE.finish(
        session,
        auction_id,
        worker_id,
        final.value,
        reason=converted.run["reason"] or None,
        cleared_at=now,
        version=DayAheadAuction.version + 1,
    ):
        return None
    auction = (
        await session.execute(
            select(DayAheadAuction.version, DayAheadAuction.local_day).where(
                DayAheadAuction.id == auction_id
            )
        )
    ).one()
    version, day = int(auction[0]), auction[1]
    run = DayAheadRun(
        auction_id=auction_id,
        version=version,
        worker_id=worker_id,
        started_at=started,
        finished_at=now,
        **converted.run,
    )
    session.add(run)
    await session.flush()
    # Tens of thousands of result rows and an update of every order of the day: plain tuples
    # in bulk (COPY on PostgreSQL; `market.db.bulk`), not SQLAlchemy's executemany.
    for model, rows in (
        (DayAheadPrice, converted.price_rows),
        (DayAheadFlow, converted.flow_rows),
        (DayAheadGrid, converted.grid_rows),
        (DayAheadPosition, converted.position_rows),
        (StorageSchedule, converted.storage_rows),
    ):
        if rows:
            columns = ["run_id", *rows[0]]
            await bulk.insert_rows(
                session, cast(Table, model.__table__), columns,
                [(run.id, *row.values()) for row in rows], quantised=True,
            )  # fmt: skip
    # A partly accepted order is "partly filled" (the core accepts any part of a simple order).
    await bulk.update_from(
        session,
        cast(Table, Order.__table__),
        ["id", "accepted_kwh", "clearing_price", "amount_pln", "status", "updated_at"],
        [(*row, now) for row in converted.order_rows],
        "accepted_kwh = r.accepted_kwh, clearing_price = r.clearing_price, "
        "amount_pln = r.amount_pln, updated_at = r.updated_at, status = CASE "
        f"WHEN r.accepted_kwh > 0 AND r.accepted_kwh < {Order.__tablename__}.quantity_kwh "
        f"THEN '{OrderStatus.PARTLY_FILLED.value}' ELSE r.status END",
        quantised=True,
    )  # fmt: skip
    if converted.block_rows:
        await session.execute(update(BlockOrder), converted.block_rows)
    audit.record(session, None, "clear", "day_ahead", auction_id, local_day=str(day),
                 version=version, status=run.status, input_hash=run.input_hash,
                 result_hash=run.result_hash, worker=worker_id)  # fmt: skip
    return StoredDay(
        auction_id=auction_id,
        local_day=day,
        version=version,
        run_id=run.id,
        status=run.status,
        reason=run.reason,
        input_hash=run.input_hash,
        result_hash=run.result_hash,
        positions=len(converted.position_rows),
        summary=converted.summary,
    )


def cleared_event(stored: StoredDay) -> dict[str, Any]:
    return {
        "type": DAY_AHEAD_CLEARED,
        "auction_id": stored.auction_id,
        "local_day": stored.local_day.isoformat(),
        "version": stored.version,
        "status": stored.status,
        "reason": stored.reason,
        **stored.summary,
    }


# ---------------------------------------------------------------- one day, from the top


@dataclass(frozen=True, slots=True)
class DayOutcome:
    """What `clear_day` did: cleared now (`stored`), or found it done already."""

    local_day: date
    status: str
    version: int
    stored: StoredDay | None
    already: bool


async def clear_day(
    sessions: async_sessionmaker[AsyncSession],
    day: date,
    *,
    worker_id: str,
    publisher: Publisher,
    now: datetime,
    reclear: bool = False,
    lease: timedelta = timedelta(minutes=10),
    offload: ProcessOffload | None = None,
) -> DayOutcome:
    """Clear `day`'s auction now, whatever its gate's time (the CLI): create the day's
    intervals and auction if missing, close the gate (placing the daily orders), claim,
    clear and store, exactly once. A cleared day is reported as such unless `reclear`."""
    async with unit_of_work(sessions) as session:
        cluster = await get_cluster(session)
        auction = await ensure_day(session, cluster, day, now)
        auction_id = auction.id
    async with sessions() as session:
        row = await session.get(DayAheadAuction, auction_id)
        assert row is not None
        status, version = row.status, row.version
    if status in (AuctionStatus.CLEARED.value, AuctionStatus.FAILED.value):
        if not reclear:
            return DayOutcome(day, status, version, None, already=True)
        await reopen_for_reclear(sessions, auction_id, worker_id)
    if status == AuctionStatus.OPEN.value:
        await close_gate(sessions, auction_id, worker_id, publisher, now, offload=offload)
    stored = None
    if await claim_day(sessions, auction_id, worker_id, lease):
        stored = await clear_claimed_day(
            sessions, auction_id, worker_id, publisher, offload=offload
        )
    async with sessions() as session:
        row = await session.get(DayAheadAuction, auction_id)
        assert row is not None
        return DayOutcome(day, row.status, row.version, stored, already=stored is None)


async def open_day_step(
    sessions: async_sessionmaker[AsyncSession], day: date, now: datetime
) -> bool:
    """The next day's auction and intervals, with its daily orders placed (the scheduler,
    while the day's gate is ahead); False if it existed already. Run by `offload.run` in a
    worker process: placing a day's standing orders is the biggest part of a gate."""
    async with unit_of_work(sessions) as session:
        exists = await session.scalar(
            select(DayAheadAuction.id).where(DayAheadAuction.local_day == day)
        )
        if exists is not None:
            return False
        cluster = await get_cluster(session)
        await ensure_day(session, cluster, day, now)
        await materialise_day(session, cluster, day, now)
    return True


async def due_auctions(session: AsyncSession, now: datetime) -> list[int]:
    """Open auctions whose gate has passed, oldest first."""
    return list(
        (
            await session.scalars(
                select(DayAheadAuction.id)
                .where(
                    DayAheadAuction.status == AuctionStatus.OPEN.value,
                    DayAheadAuction.gate_closure_utc <= now,
                )
                .order_by(DayAheadAuction.local_day)
            )
        ).all()
    )


async def clearable_auctions(session: AsyncSession) -> list[int]:
    wall = datetime.now(UTC)
    return list(
        (
            await session.scalars(
                select(DayAheadAuction.id)
                .where(AUCTION_LEASE.open_clause(wall))
                .order_by(DayAheadAuction.local_day)
            )
        ).all()
    )
