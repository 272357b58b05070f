"""The clearing problem of an interval, built from the database, and its hashes."""

from __future__ import annotations

import hashlib
import json
import zlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from market.network.models import GridConnection, Line, MeteringPoint, Node
from market.trading.models import Interval, Order, OrderStatus
from matching.problem import ClearingProblem
from matching.problem import GridConnection as GridConn
from matching.problem import Interval as ProblemInterval
from matching.problem import Line as ProblemLine
from matching.problem import Network as ProblemNetwork
from matching.problem import Node as ProblemNode
from matching.problem import Order as ProblemOrder
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


async def build_problem(session: AsyncSession, interval: Interval) -> ProblemInput:
    """The interval's clearing problem from the network as it is now and the interval's
    orders (limits in kW as stored; the solver turns them into kWh per interval)."""
    nodes = (await session.scalars(select(Node).where(Node.active).order_by(Node.id))).all()
    node_code = {n.id: n.code for n in nodes}
    lines = [
        ln
        for ln in (await session.scalars(select(Line).where(Line.active).order_by(Line.id))).all()
        if ln.from_node_id in node_code and ln.to_node_id in node_code
    ]
    conns = [
        g
        for g in (await session.scalars(select(GridConnection).order_by(GridConnection.id))).all()
        if g.node_id in node_code
    ]
    rows = (
        await session.execute(
            select(Order.id, Order.side, Order.quantity_kwh, Order.price, MeteringPoint.node_id)
            .join(MeteringPoint, Order.metering_point_id == MeteringPoint.id)
            .where(
                Order.interval_id == interval.id,
                Order.status != OrderStatus.CANCELLED.value,
            )
            .order_by(Order.id)
        )
    ).all()
    orders, order_ids, excluded = [], [], []
    for order_id, side, quantity, price, node_id in rows:
        if node_id not in node_code:
            excluded.append(order_id)
            continue
        order_ids.append(order_id)
        orders.append(
            ProblemOrder(
                id=str(order_id),
                node=node_code[node_id],
                side=ProblemSide(side),
                quantity_kwh=float(quantity),
                price=float(price),
            )
        )
    network = ProblemNetwork(
        nodes=tuple(ProblemNode(n.code) for n in nodes),
        lines=tuple(
            ProblemLine(
                id=ln.code,
                from_node=node_code[ln.from_node_id],
                to_node=node_code[ln.to_node_id],
                capacity_kw=float(ln.capacity_kw),
                reactance=None if ln.reactance is None else float(ln.reactance),
            )
            for ln in lines
        ),
        grid_connections=tuple(
            GridConn(
                node=node_code[g.node_id],
                import_price=float(g.import_price),
                export_price=float(g.export_price),
                import_limit_kw=float(g.import_limit_kw),
                export_limit_kw=float(g.export_limit_kw),
            )
            for g in conns
        ),
    )
    problem = ClearingProblem.build(
        ProblemInterval(interval.start_utc, interval.minutes), network, orders
    )
    return ProblemInput(
        problem=problem,
        order_ids=order_ids,
        node_ids=[n.id for n in nodes],
        line_ids=[ln.id for ln in lines],
        grid_node_ids=[g.node_id for g in conns],
        grid_prices=[(g.import_price, g.export_price) for g in conns],
        excluded_order_ids=excluded,
    )


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


def solve(problem: ClearingProblem) -> ClearingResult:
    from matching import clear

    return clear(problem)
