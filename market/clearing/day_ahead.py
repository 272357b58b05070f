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
import contextlib
import gc
import logging
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

import anyio
import numpy as np
from sqlalchemy import Float, Table, select, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.access import audit
from market.clearing.day_ahead_convert import (
    FILLED,
    UNFILLED,
    ConvertedDay,
    OrderOutcome,
    ResultRows,
    ScaledColumn,
    convert_day,
    convert_orders,
    convert_rest,
    problem_record,
)
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
from market.db import bulk
from market.db.engine import dialect_name, unit_of_work
from market.db.lease import Lease
from market.db.offload import ProcessOffload
from market.network.models import GridConnection, MeteringPoint
from market.network.queries import clearable_network
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
CHUNK_ROWS = 5000

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
    #: Node code → node id, in the document's order (a node's index is its place here).
    node_ids: dict[str, int]
    line_ids: dict[str, int]
    #: The simple orders, column-wise in the document's order: its ids ("o<id>"), the
    #: order ids, metering points, node indexes, buys, interval indexes.
    order_keys: list[str]
    order_ids: list[int]
    order_point: np.ndarray
    order_node: np.ndarray
    order_buy: np.ndarray
    order_interval: np.ndarray
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


def _number(value: float | int) -> float | int:
    """`_num` of a driver's number (mostly floats: the fast test first)."""
    if value.__class__ is float:
        return int(value) if value.is_integer() else value  # type: ignore[union-attr]
    return _num(value)


def _numbers(values: Sequence[float | int]) -> list[float | int]:
    """`_number` of each of a column's values: the whole floats found by numpy, the rest
    kept as they came (a day's ~960,000 quantities and prices, few of them whole)."""
    if not all(v.__class__ is float for v in values):
        return list(map(_number, values))
    column = np.array(values, dtype=np.float64)
    out: list[float | int] = list(values)
    for i in np.flatnonzero((np.floor(column) == column) & np.isfinite(column)).tolist():
        out[i] = int(out[i])
    return out


#: SQLite's page cache while a day's orders are read (KiB; the default is 2 MB): they are read
#: through the interval index in id order, one table page after another across the table
#: (a point's orders of the day are together, an interval's are not), and with the default
#: cache nearly every row is a page read from the OS. Only what is read is cached; the
#: connection's size is restored after (and its cache shrinks with it).
BUILD_CACHE_KIB = 256 * 1024
#: Below this many (active point, interval) pairs a day's orders fit the default cache: it
#: is left as it is (three statements fewer; the demo's 75 points × 96 = 7,200).
BUILD_CACHE_FROM = 20_000


@asynccontextmanager
async def _page_cache(session: AsyncSession, pairs: int) -> AsyncIterator[None]:
    if dialect_name(session) != "sqlite" or pairs < BUILD_CACHE_FROM:
        yield
        return
    conn = await session.connection()
    before = (await conn.exec_driver_sql("PRAGMA cache_size")).scalar()
    await conn.exec_driver_sql(f"PRAGMA cache_size = -{BUILD_CACHE_KIB}")
    try:
        yield
    finally:
        await conn.exec_driver_sql(f"PRAGMA cache_size = {int(before or -2000)}")


#: Partitions of a day's orders read ahead of the one being turned into the document.
READ_AHEAD = 2


async def _read_ahead(parts: AsyncIterator[Sequence[Any]]) -> AsyncIterator[Sequence[Any]]:
    """`parts`, with up to `READ_AHEAD` partitions read ahead by a task of their own: the
    database reads the next rows (SQLite in its connection's thread, PostgreSQL in the
    server) while this process turns the last ones into the document, instead of each
    waiting for the other. Only that task uses the connection until `parts` is done."""
    queue: asyncio.Queue[Sequence[Any] | None] = asyncio.Queue(maxsize=READ_AHEAD)

    async def read() -> None:
        try:
            async for part in parts:
                await queue.put(part)
        finally:
            await queue.put(None)

    reader = asyncio.create_task(read())
    try:
        while (part := await queue.get()) is not None:
            yield part
        await reader  # its error, if it stopped on one
    finally:
        if not reader.done():
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader


async def build_day_problem(session: AsyncSession, auction: DayAheadAuction) -> DayProblem:
    day = auction.local_day
    # The day's intervals, grid connections and active points as plain rows of the columns
    # used (named as the models' attributes), not ORM objects: a day's few hundred of them
    # cost more to load as instances than the rest of a small day's build.
    intervals = (
        await session.execute(
            select(Interval.id, Interval.number, Interval.start_utc, Interval.minutes)
            .where(Interval.local_day == day)
            .order_by(Interval.start_utc)
        )
    ).all()
    index = {iv.id: k for k, iv in enumerate(intervals)}
    number_index = {iv.number: k for k, iv in enumerate(intervals)}
    nodes, lines = await clearable_network(session)
    code = {n.id: n.code for n in nodes}
    conns = [
        g
        for g in (
            await session.execute(
                select(
                    GridConnection.id, GridConnection.node_id, GridConnection.import_price,
                    GridConnection.export_price, GridConnection.import_limit_kw,
                    GridConnection.export_limit_kw,
                ).order_by(GridConnection.id)
            )
        ).all()
        if g.node_id in code
    ]  # fmt: skip
    points = {
        p.id: p
        for p in (
            await session.execute(
                select(MeteringPoint.id, MeteringPoint.node_id).where(MeteringPoint.active)
            )
        ).all()
    }
    doc_orders: list[dict[str, Any]] = []
    order_keys: list[str] = []
    order_ids: list[int] = []
    order_point: list[int] = []
    order_node: list[int] = []
    order_buy: list[bool] = []
    order_interval: list[int] = []
    excluded: list[int] = []
    # A day has hundreds of thousands: Core rows (no ORM row processing) in partitions, the
    # loop's turn between them; quantities and prices cast to floats by the database (the
    # document's numbers, the nearest double to the decimal, as `float(Decimal)`; asyncpg
    # then decodes a float8, not a numeric into a `Decimal`).
    node_at = {n.id: k for k, n in enumerate(nodes)}
    node_of = {
        p.id: (code[p.node_id], node_at[p.node_id]) for p in points.values() if p.node_id in code
    }
    async with _page_cache(session, len(points) * len(intervals)):
        table = cast(Table, Order.__table__).c
        stream = await session.stream(
            select(
                table.id, table.metering_point_id, table.interval_id, table.side,
                sql_cast(table.quantity_kwh, Float()), sql_cast(table.price, Float()),
            )
            .where(
                table.interval_id.in_(list(index)),
                table.market == Market.DAY_AHEAD.value,
                table.status != OrderStatus.CANCELLED.value,
            )
            .order_by(table.id)
            .execution_options(yield_per=CHUNK_ROWS)
        )  # fmt: skip
        # Column by column per partition (comprehensions, not a Python loop body per order),
        # the next partition read meanwhile (`_read_ahead`).
        async for part in _read_ahead(stream.partitions()):
            if not part:
                continue
            oids, mps, ivs, sides, qtys, prices = zip(*part, strict=True)
            at = list(map(node_of.get, mps))
            if None in at:
                excluded += [oid for oid, a in zip(oids, at, strict=True) if a is None]
                kept = [k for k, a in enumerate(at) if a is not None]
                oids, mps, ivs, sides, qtys, prices = (
                    tuple(col[k] for k in kept) for col in (oids, mps, ivs, sides, qtys, prices)
                )
                at = [at[k] for k in kept]
            keys = [f"o{oid}" for oid in oids]
            steps = list(map(index.__getitem__, ivs))
            order_keys += keys
            order_ids += oids
            order_point += mps
            order_node += [a[1] for a in at]  # type: ignore[index]
            order_buy += [side == "buy" for side in sides]
            order_interval += steps
            doc_orders += [
                {"id": key, "node": a[0], "side": side, "quantity_kwh": q, "price": p,
                 "interval": t}
                for key, a, side, q, p, t in zip(
                    keys, at, sides, _numbers(qtys), _numbers(prices), steps, strict=True
                )
            ]  # fmt: skip
            await asyncio.sleep(0)
    doc_storage: list[dict[str, Any]] = []
    storage: dict[str, tuple[int, int, str, Decimal]] = {}
    # The storage orders and blocks as rows of the columns used, as above.
    srows = (
        await session.execute(
            select(
                StorageOrder.id, StorageOrder.metering_point_id, StorageOrder.soc_initial_kwh,
                StorageOrder.cost_per_kwh, StorageUnit.soc_min_kwh, StorageUnit.energy_kwh,
                StorageUnit.soc_final_min_kwh, StorageUnit.charge_kw, StorageUnit.discharge_kw,
                StorageUnit.efficiency_charge, StorageUnit.efficiency_discharge,
            )
            .join(StorageUnit, StorageUnit.metering_point_id == StorageOrder.metering_point_id)
            .where(StorageOrder.local_day == day, StorageOrder.cancelled.is_(False))
            .order_by(StorageOrder.id)
        )
    ).all()  # fmt: skip
    for so in srows:
        point = points.get(so.metering_point_id)
        if point is None or point.node_id not in code:
            continue
        key = f"s{so.id}"
        low = so.soc_min_kwh
        initial = min(max(so.soc_initial_kwh, low), so.energy_kwh)
        final = so.soc_final_min_kwh if so.soc_final_min_kwh is not None else initial
        storage[key] = (so.id, so.metering_point_id, code[point.node_id], low)
        doc_storage.append(
            {
                "id": key,
                "node": code[point.node_id],
                "energy_kwh": _num(so.energy_kwh - low),
                "soc_initial_kwh": _num(initial - low),
                "soc_final_min_kwh": _num(final - low),
                "charge_kw": _num(so.charge_kw),
                "discharge_kw": _num(so.discharge_kw),
                "efficiency_charge": _num(so.efficiency_charge),
                "efficiency_discharge": _num(so.efficiency_discharge),
                "cost_per_kwh": _num(so.cost_per_kwh),
            }
        )
    doc_blocks: list[dict[str, Any]] = []
    blocks: dict[str, tuple[int, int, str, bool, int, list[Decimal]]] = {}
    brows = (
        await session.execute(
            select(
                BlockOrder.id, BlockOrder.first_number, BlockOrder.quantities_kwh,
                BlockGroup.id.label("group_id"), BlockGroup.metering_point_id, BlockGroup.side,
                BlockGroup.price, BlockGroup.min_acceptance_ratio,
            )
            .join(BlockGroup, BlockGroup.id == BlockOrder.group_id)
            .where(BlockGroup.local_day == day, BlockGroup.cancelled.is_(False))
            .order_by(BlockGroup.id, BlockOrder.first_number)
        )
    ).all()  # fmt: skip
    for block in brows:  # a block's row with its group's columns
        point = points.get(block.metering_point_id)
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
            block.id, block.metering_point_id, code[point.node_id], block.side == "buy", first,
            quantities,
        )  # fmt: skip
        doc_blocks.append(
            {
                "id": key,
                "node": code[point.node_id],
                "side": block.side,
                "price": _num(block.price),
                "first_interval": first,
                "quantities_kwh": [_num(q) for q in quantities],
                "min_acceptance_ratio": _num(block.min_acceptance_ratio),
                "group": f"g{block.group_id}",
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
        order_keys=order_keys,
        order_ids=order_ids,
        order_point=np.array(order_point, dtype=np.int64),
        order_node=np.array(order_node, dtype=np.int64),
        order_buy=np.array(order_buy, dtype=np.bool_),
        order_interval=np.array(order_interval, dtype=np.int64),
        storage=storage,
        blocks=blocks,
        excluded_order_ids=excluded,
    )


async def _grid_prices(
    session: AsyncSession, conns: Sequence[Any], intervals: Sequence[Any]
) -> dict[int, tuple[Any, Any]]:
    """Each connection's (import, export) price for the document (`conns`: rows or
    `GridConnection`s; `intervals`: rows or `Interval`s): its fixed prices, or under
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


def solve_day(problem: DayProblem) -> tuple[dict[str, Any], ConvertedDay]:
    """The CPU-bound part (off the event loop): `solve_core`, then `convert_day`."""
    result, record = solve_core(problem)
    return result, convert_day(problem, result, record)


def solve_core(problem: DayProblem) -> tuple[dict[str, Any], tuple[str, bytes]]:
    """The core's result (an error result if the core rejects the problem) and the
    problem's audit record, made in a thread beside the core's solve (the solver releases
    the GIL: on two cores it is free)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        record = pool.submit(problem_record, problem.doc)
        try:
            result = clear_document(problem.doc)
        except CoreUnavailable:
            raise
        except problem_error() as exc:
            result = {"status": "error", "reason": f"bad network or orders: {exc}"}
        return result, record.result()


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
    with _without_cyclic_gc():
        return await _close_gate(sessions, auction_id, worker_id, now)


async def _close_gate(
    sessions: async_sessionmaker[AsyncSession], auction_id: int, worker_id: str, now: datetime
) -> date | None:
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

    @property
    def auction_status(self) -> str:
        """The auction's status this run left it in (`_store`: cleared if the core's
        result was optimal, else failed)."""
        ok = self.status == "optimal"
        return (AuctionStatus.CLEARED if ok else AuctionStatus.FAILED).value


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
    """`clear_claimed_day`'s database and solver work (no publishing), without the cyclic
    garbage collector (`_without_cyclic_gc`)."""
    with _without_cyclic_gc():
        return await _clear_claimed(sessions, auction_id, worker_id)


@contextlib.contextmanager
def _without_cyclic_gc() -> Iterator[None]:
    """The cyclic collector off while a day's orders are placed, and while a day is built,
    solved and stored (as the core turns it off while it clears): a day's ~480,000 orders,
    order dicts, keys and result rows are containers that hold no cycles, and allocating
    them set off ~19 full collections over an ever larger heap, half of the build's CPU
    (5,000-point day: 3.4 s → 1.8 s). Reference counting frees them as always; anything
    cyclic made meanwhile is collected once it is back on. (The process's collector: a step
    run in the app's process, without a worker, holds its other tasks' cyclic garbage for
    those seconds too.)"""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


async def _clear_claimed(
    sessions: async_sessionmaker[AsyncSession], auction_id: int, worker_id: str
) -> StoredDay | None:
    started = datetime.now(UTC)
    phases = _Phases()
    async with sessions() as session:
        auction = await session.get(DayAheadAuction, auction_id)
        assert auction is not None
        problem = await build_day_problem(session, auction)
        await session.rollback()  # release the read snapshot while solving
        phases.done("build")
        try:
            result, record = await anyio.to_thread.run_sync(solve_core, problem)
            outcome = await anyio.to_thread.run_sync(convert_orders, problem, result)
        except CoreUnavailable:
            raise
        except Exception as exc:
            log.exception("day-ahead clearing of auction %s crashed", auction_id)
            result, record = _crashed(exc), None
            outcome = convert_orders(problem, result)
        phases.done("solve")
        # Of which the core itself (its own clock; the rest is its output and our conversion).
        core_ms = (result.get("timings") or {}).get("total_ms")
        if isinstance(core_ms, int | float):
            phases.figures["solve_core_s"] = round(core_ms / 1000, 3)
        try:
            try:
                stored = await _store(
                    session, auction_id, worker_id, started, problem, result, outcome, record
                )
            except _Unconvertible as exc:  # as a crash of the solver: a failed run is stored
                await session.rollback()
                log.error("day-ahead clearing of auction %s crashed", auction_id, exc_info=exc)
                result = _crashed(exc.__cause__ or exc)
                outcome = convert_orders(problem, result)
                stored = await _store(
                    session, auction_id, worker_id, started, problem, result, outcome, record
                )
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


def _crashed(exc: BaseException) -> dict[str, Any]:
    return {"status": "error", "reason": f"solver crashed: {exc!r}"}


class _Unconvertible(Exception):
    """The core's result could not be converted (`convert_rest` raised: its cause)."""


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
    problem: DayProblem,
    result: dict[str, Any],
    outcome: OrderOutcome,
    record: tuple[str, bytes] | None,
) -> StoredDay | None:
    """The guarded store. The day's orders (the biggest write: every order of the day) are
    written first, while the rest of the result is converted in a thread (`convert_rest`,
    with the result's hash): the database's work on the orders (SQLite's in its own
    thread, PostgreSQL's in the server) and that conversion use both cores. All in the
    caller's one transaction, as before."""
    final = AuctionStatus.CLEARED if outcome.ok else AuctionStatus.FAILED
    now = datetime.now(UTC)
    # The guard: only the worker holding the claim stores (this UPDATE locks the row).
    if not await AUCTION_LEASE.finish(
        session,
        auction_id,
        worker_id,
        final.value,
        reason=str(result.get("reason", "") or "") or None,
        cleared_at=now,
        version=DayAheadAuction.version + 1,
    ):
        return None
    orders = asyncio.create_task(_store_orders(session, outcome.order_rows, now))
    try:
        converted = await anyio.to_thread.run_sync(convert_rest, problem, result, outcome, record)
    except Exception as exc:
        raise _Unconvertible from exc
    finally:
        # The orders' write ends (or fails) before anything else uses the session.
        await asyncio.wait([orders])
    orders.result()
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
    # Tens of thousands of result rows (and, above, an update of every order of the day):
    # plain tuples in bulk (COPY on PostgreSQL; `market.db.bulk`), not SQLAlchemy's
    # executemany; their decimals made for the driver column by column
    # (`ScaledColumn.driver`).
    sqlite = dialect_name(session) == "sqlite"
    for model, rows in (
        (DayAheadPrice, converted.price_rows),
        (DayAheadFlow, converted.flow_rows),
        (DayAheadGrid, converted.grid_rows),
        (DayAheadPosition, converted.position_rows),
        (StorageSchedule, converted.storage_rows),
    ):
        if len(rows):
            await bulk.insert_driver_rows(
                session, cast(Table, model.__table__), ["run_id", *rows.columns],
                rows.driver_rows(sqlite, run.id),
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


async def _store_orders(session: AsyncSession, outcome: ResultRows, now: datetime) -> None:
    """Every order of the day's outcome, in bulk through a temporary table of (id, accepted,
    price, amount). What is the same for every row is written in the SQL, not sent 480,000
    times: the update's time (a literal of our own clock's value) and the status, which
    follows from the accepted quantity (`convert_orders`: filled if anything was accepted,
    else unfilled; partly filled if less than the order's quantity: the core accepts any
    part of a simple order)."""
    sqlite = dialect_name(session) == "sqlite"
    orders = cast(Table, Order.__table__)
    updated_at = bulk.converter(orders.c.updated_at.type, sqlite)(now)
    stamp = str(updated_at if sqlite else updated_at.isoformat())
    assert "'" not in stamp  # a timestamp's text, written as a literal
    ids, accepted, price, amount, status = cast(
        tuple[list[int], ScaledColumn, ScaledColumn, ScaledColumn, list[str]], outcome.values
    )
    assert outcome.columns == ("id", "accepted_kwh", "clearing_price", "amount_pln", "status")
    assert set(status) <= {FILLED, UNFILLED}

    def assignments(accepted: str) -> str:
        return (
            f"updated_at = '{stamp}', status = CASE WHEN {accepted} > 0 THEN CASE WHEN "
            f"{accepted} < {orders.name}.quantity_kwh THEN '{OrderStatus.PARTLY_FILLED.value}' "
            f"ELSE '{FILLED}' END ELSE '{UNFILLED}' END"
        )

    if sqlite:
        await bulk.update_from(
            session, orders, ["id", "accepted_kwh", "clearing_price", "amount_pln"],
            list(zip(ids, accepted.driver(sqlite), price.driver(sqlite), amount.driver(sqlite),
                     strict=True)),
            "accepted_kwh = r.accepted_kwh, clearing_price = r.clearing_price, "
            "amount_pln = r.amount_pln, " + assignments("r.accepted_kwh"),
            driver_ready=True,
        )  # fmt: skip
    else:
        # The decimals as integers of their last place, scaled by the server (exactly:
        # bigint × numeric), instead of 1.4 million `Decimal`s through COPY.
        assert (accepted.places, price.places, amount.places) == (3, 4, 2)  # the SQL's scales
        await bulk.update_from(
            session, orders, ["id", "accepted_units", "price_units", "amount_units"],
            list(zip(ids, accepted.integers(), price.integers(), amount.integers(),
                     strict=True)),
            "accepted_kwh = r.accepted_units * 0.001, clearing_price = r.price_units * 0.0001, "
            "amount_pln = r.amount_units * 0.01, " + assignments("r.accepted_units * 0.001"),
            driver_ready=True, integers=["accepted_units", "price_units", "amount_units"],
        )  # fmt: skip


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
    # One transaction fewer each: the status is read where the auction is ensured, and a
    # day cleared here reports what it stored (a SQLite session opens a connection: ~3 ms
    # CPU each, a tenth of a small day's clearing).
    async with unit_of_work(sessions) as session:
        cluster = await get_cluster(session)
        auction = await ensure_day(session, cluster, day, now)
        auction_id, status, version = auction.id, auction.status, auction.version
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
    if stored is not None:
        return DayOutcome(day, stored.auction_status, stored.version, stored, already=False)
    async with sessions() as session:
        row = await session.get(DayAheadAuction, auction_id)
        assert row is not None
        return DayOutcome(day, row.status, row.version, stored, already=stored is None)


async def open_day_step(
    sessions: async_sessionmaker[AsyncSession], day: date, now: datetime
) -> bool:
    """The next day's auction and intervals, with its daily orders placed (the scheduler,
    while the day's gate is ahead); False if it existed already. Run by `offload.run` in a
    worker process: placing a day's standing orders is the biggest part of a gate. Without
    the cyclic collector (`_without_cyclic_gc`; a 5,000-point day: 17-18 s → 13 s CPU, the
    same peak memory)."""
    with _without_cyclic_gc():
        return await _open_day(sessions, day, now)


async def _open_day(sessions: async_sessionmaker[AsyncSession], day: date, now: datetime) -> bool:
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
