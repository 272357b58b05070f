"""The clearing problem of an interval, built from the database, and its hashes."""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
from sqlalchemy import Float, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from market.clearing.day_ahead_models import DayAheadFlow, DayAheadGrid, DayAheadRun
from market.network.models import GridConnection, MeteringPoint
from market.network.queries import clearable_network
from market.trading.day_ahead_models import AuctionStatus, DayAheadAuction, Market
from market.trading.models import Interval, Order, OrderStatus
from matching.memo import Memo
from matching.problem import ClearingProblem, OrderBook
from matching.problem import GridConnection as GridConn
from matching.problem import Interval as ProblemInterval
from matching.problem import Line as ProblemLine
from matching.problem import Network as ProblemNetwork
from matching.problem import Node as ProblemNode
from matching.problem import Side as ProblemSide
from matching.result import ClearingResult


@dataclass(frozen=True, slots=True)
class ProblemInput:
    """A clearing problem plus the database ids its positions stand for."""

    problem: ClearingProblem
    order_ids: list[int]
    node_ids: list[int]
    line_ids: list[int]
    grid_node_ids: list[int]
    grid_prices: list[tuple[Decimal, Decimal]]
    #: Orders left out (their metering point's node is inactive).
    excluded_order_ids: list[int]
    #: The metering point of each order of `order_ids` (as read with the orders).
    order_points: tuple[int, ...] = ()


async def day_ahead_usage(
    session: AsyncSession, interval: Interval
) -> tuple[dict[int, Decimal], dict[int, tuple[Decimal, Decimal]]]:
    """What the day-ahead auction in force for the interval's day used up, in kW: each
    line's |flow| and each grid node's (import, export). Empty without a cleared day."""
    return (await _day_ahead_usage(session, [interval]))[interval.id]


async def _day_ahead_usage(
    session: AsyncSession, intervals: Sequence[Interval]
) -> dict[int, tuple[dict[int, Decimal], dict[int, tuple[Decimal, Decimal]]]]:
    """`day_ahead_usage` of several intervals: one query for the days' runs, one for their
    flows and one for their grid exchange."""
    usage: dict[int, tuple[dict[int, Decimal], dict[int, tuple[Decimal, Decimal]]]] = {
        i.id: ({}, {}) for i in intervals
    }
    days = sorted({i.local_day for i in intervals})
    run_ids = list(
        (
            await session.scalars(
                select(DayAheadRun.id)
                .join(DayAheadAuction, DayAheadAuction.id == DayAheadRun.auction_id)
                .where(
                    DayAheadAuction.local_day.in_(days),
                    DayAheadAuction.status == AuctionStatus.CLEARED.value,
                    DayAheadRun.version == DayAheadAuction.version,
                )
            )
        ).all()
    )
    if not run_ids:
        return usage
    per_hour = {i.id: Decimal(60) / Decimal(i.minutes) for i in intervals}
    ids = list(usage)
    # Core statements on the session's connection: the same rows without the ORM's
    # per-row loading (the session does not autoflush; these read columns, not entities)
    connection = await session.connection()
    flows = await connection.execute(
        select(DayAheadFlow.interval_id, DayAheadFlow.line_id, DayAheadFlow.flow_kwh).where(
            DayAheadFlow.run_id.in_(run_ids), DayAheadFlow.interval_id.in_(ids)
        )
    )
    for interval_id, line, kwh in flows.all():
        usage[interval_id][0][line] = abs(kwh) * per_hour[interval_id]
    grid = await connection.execute(
        select(
            DayAheadGrid.interval_id,
            DayAheadGrid.node_id,
            DayAheadGrid.import_kwh,
            DayAheadGrid.export_kwh,
        ).where(DayAheadGrid.run_id.in_(run_ids), DayAheadGrid.interval_id.in_(ids))
    )
    for interval_id, node, imp, exp in grid.all():
        usage[interval_id][1][node] = (imp * per_hour[interval_id], exp * per_hour[interval_id])
    return usage


#: A stored side → whether it buys (`ProblemSide(side) is ProblemSide.BUY` without an enum
#: call per order; a side that is not one raises, as the enum call would).
_IS_BUY = {side.value: side is ProblemSide.BUY for side in ProblemSide}


def _headroom(limit: Decimal, used: Decimal) -> float:
    return float(max(Decimal(0), limit - used))


async def build_problem(session: AsyncSession, interval: Interval) -> ProblemInput:
    """The interval's (intraday) clearing problem from the network as it is now and the
    interval's intraday orders (limits in kW as stored; the solver turns them into kWh per
    interval). The day-ahead positions of the interval's day are firm: the capacity their
    flows use (|flow| on each line, import/export at each grid connection) is taken off the
    limits the intraday auction sees (docs/clearing.md)."""
    return (await build_problems(session, [interval]))[0]


async def build_problems(
    session: AsyncSession, intervals: Sequence[Interval]
) -> list[ProblemInput]:
    """`build_problem` of several intervals (e.g. a simulated day) from one read of the
    network, of the day-ahead usage and of the intervals' orders: five queries in all
    instead of five per interval. Each problem is the one `build_problem` gives alone."""
    if not intervals:
        return []
    usage = await _day_ahead_usage(session, intervals)
    nodes, lines = await clearable_network(session)
    node_code = {n.id: n.code for n in nodes}
    conns = [
        g
        for g in (await session.scalars(select(GridConnection).order_by(GridConnection.id))).all()
        if g.node_id in node_code
    ]
    by_interval: dict[int, list[Any]] = {i.id: [] for i in intervals}
    # a Core statement on the session's connection: the same rows, without the ORM's
    # per-row loading (≈ 1 µs less a row: ~7,200 rows a simulated day at 75 points)
    connection = await session.connection()
    rows = await connection.execute(
        select(
            Order.interval_id,
            Order.id,
            Order.side,
            # floats straight from the driver: the problem's numbers (what `Dec` makes of a
            # stored value and `float()` makes back is the same float; no Decimal per order)
            type_coerce(Order.quantity_kwh, Float()),
            type_coerce(Order.price, Float()),
            MeteringPoint.node_id,
            Order.metering_point_id,
        )
        .join(MeteringPoint, Order.metering_point_id == MeteringPoint.id)
        .where(
            Order.interval_id.in_(list(by_interval)),
            Order.market == Market.INTRADAY.value,
            Order.status != OrderStatus.CANCELLED.value,
        )
        .order_by(Order.interval_id, Order.id)
    )
    for row in rows:
        by_interval[row[0]].append(row)
    nodes_t = tuple(ProblemNode(n.code) for n in nodes)
    node_index = {n.id: k for k, n in enumerate(nodes)}
    # what every interval of the batch shares: the lines and grid connections at their full
    # limits (an interval's day-ahead usage replaces only the ones it uses; `_headroom` of
    # no usage is the full limit), and the ids
    full_lines = tuple(
        ProblemLine(
            id=ln.code,
            from_node=node_code[ln.from_node_id],
            to_node=node_code[ln.to_node_id],
            capacity_kw=_headroom(ln.capacity_kw, Decimal(0)),
            reactance=None if ln.reactance is None else float(ln.reactance),
        )
        for ln in lines
    )
    full_conns = tuple(
        GridConn(
            node=node_code[g.node_id],
            import_price=float(g.import_price),
            export_price=float(g.export_price),
            import_limit_kw=_headroom(g.import_limit_kw, Decimal(0)),
            export_limit_kw=_headroom(g.export_limit_kw, Decimal(0)),
        )
        for g in conns
    )
    node_ids = [n.id for n in nodes]
    line_ids = [ln.id for ln in lines]
    grid_node_ids = [g.node_id for g in conns]
    grid_prices = [(g.import_price, g.export_price) for g in conns]
    capacities = [ln.capacity_kw for ln in lines]
    # line k with `used` kW taken by the day-ahead auction: one (immutable) value per line
    # and usage for the batch (an hourly day-ahead flow is the same in its four quarters)
    lines_left: dict[tuple[int, Decimal], ProblemLine] = {}

    def line_left(k: int, used: Decimal) -> ProblemLine:
        line = lines_left.get((k, used))
        if line is None:
            full = full_lines[k]
            line = lines_left[(k, used)] = ProblemLine(
                full.id,
                full.from_node,
                full.to_node,
                _headroom(capacities[k], used),
                full.reactance,
            )
        return line

    conns_left: dict[tuple[int, tuple[Decimal, Decimal]], GridConn] = {}

    def conn_left(k: int, used: tuple[Decimal, Decimal]) -> GridConn:
        conn = conns_left.get((k, used))
        if conn is None:
            full, g = full_conns[k], conns[k]
            conn = conns_left[(k, used)] = GridConn(
                full.node,
                full.import_price,
                full.export_price,
                _headroom(g.import_limit_kw, used[0]),
                _headroom(g.export_limit_kw, used[1]),
            )
        return conn

    networks: dict[tuple[int, ...], ProblemNetwork] = {}
    built = []
    for interval in intervals:
        used_lines, used_grid = usage[interval.id]
        # the order book column by column (what `OrderBook.from_orders` makes of `Order`s):
        # the rows transposed, each column mapped at once (no Python step per order)
        mine = by_interval[interval.id]
        excluded: list[int] = []
        if mine and not node_code.keys() >= {row[5] for row in mine}:
            excluded = [row[1] for row in mine if row[5] not in node_code]
            mine = [row for row in mine if row[5] in node_code]
        _i, order_id_col, sides, quantities, prices, node_id_col, point_col = (
            zip(*mine, strict=True) if mine else ((),) * 7
        )
        order_ids = list(order_id_col)
        ids = tuple(map(str, order_id_col))
        node = list(map(node_index.__getitem__, node_id_col))
        is_buy = list(map(_IS_BUY.__getitem__, sides))
        lines_now = (
            tuple(
                full if lid not in used_lines else line_left(k, used_lines[lid])
                for k, (lid, full) in enumerate(zip(line_ids, full_lines, strict=True))
            )
            if used_lines
            else full_lines
        )
        conns_now = (
            tuple(
                full if g.node_id not in used_grid else conn_left(k, used_grid[g.node_id])
                for k, (g, full) in enumerate(zip(conns, full_conns, strict=True))
            )
            if used_grid
            else full_conns
        )
        # one network object per distinct headroom in the batch (its lines and connections
        # are the same objects then): checked once, and written out once by the memo's key
        network_key = (*map(id, lines_now), *map(id, conns_now))
        network = networks.get(network_key)
        network_checked = network is not None
        if network is None:
            network = networks[network_key] = ProblemNetwork(
                nodes=nodes_t, lines=lines_now, grid_connections=conns_now
            )
        problem = ClearingProblem(
            ProblemInterval(interval.start_utc, interval.minutes),
            network,
            OrderBook(
                ids,
                np.array(node, dtype=np.int64),
                np.array(is_buy, dtype=np.bool_),
                # floats already (a Decimal on some drivers: numpy takes its `float()`)
                np.array(quantities, dtype=np.float64),
                np.array(prices, dtype=np.float64),
            ),
        ).validated(network_checked=network_checked)
        built.append(
            ProblemInput(
                problem=problem,
                order_ids=order_ids,
                node_ids=node_ids,
                line_ids=line_ids,
                grid_node_ids=grid_node_ids,
                grid_prices=grid_prices,
                excluded_order_ids=excluded,
                order_points=point_col,
            )
        )
    return built


def canonical_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)


def problem_json(problem: ClearingProblem) -> str:
    from matching.jsonio import problem_to_dict

    return canonical_json(problem_to_dict(problem))


def compress_problem(problem: ClearingProblem) -> bytes:
    return zlib.compress(problem_json(problem).encode(), 6)


def decompress_problem(blob: bytes) -> ClearingProblem:
    from matching.jsonio import problem_from_dict

    return problem_from_dict(json.loads(zlib.decompress(blob)))


def input_hash(problem: ClearingProblem) -> str:
    from matching.jsonio import problem_digest

    return problem_digest(problem)


def result_hash(problem: ClearingProblem, result: ClearingResult) -> str:
    """sha256 of the result's canonical JSON without timings (identical on a re-run)."""
    from matching.jsonio import result_to_dict

    blob = canonical_json(result_to_dict(problem, result, timings=False))
    return hashlib.sha256(blob.encode()).hexdigest()


def solve(problem: ClearingProblem, memo: Memo | None = None) -> ClearingResult:
    """`matching.clear`; with a `memo`, repeats of a problem's data reuse its clearing."""
    from matching import clear

    return clear(problem, memo)
