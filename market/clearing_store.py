"""Storing a clearing result: solver floats to stored decimals (largest-remainder rounding,
see docs/data-model.md), the run and everything it decided, in the caller's transaction."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import numpy as np
from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from market import audit
from market.clearing_input import ProblemInput, input_hash, problem_json, result_hash
from market.models import (
    ClearingRun,
    GridExchange,
    Interval,
    LineFlow,
    NodePrice,
    Order,
    OrderStatus,
    Trade,
)
from market.money import AMOUNT_PLACES, allocate_rounded, energy, largest_remainder
from market.money import price as round_price
from matching.result import GRID, ClearingResult

PRICE_LIMIT = Decimal("999999")


def _bound(value: float) -> Decimal | None:
    if not math.isfinite(value) or abs(value) >= float(PRICE_LIMIT):
        return None
    return round_price(value)


def _status_of(accepted: Decimal, quantity: Decimal) -> str:
    if accepted <= 0:
        return OrderStatus.UNFILLED.value
    if accepted >= quantity:
        return OrderStatus.FILLED.value
    return OrderStatus.PARTLY_FILLED.value


@dataclass(frozen=True, slots=True)
class StoredRun:
    interval_id: int
    run_id: int
    status: str
    reason: str
    input_hash: str
    result_hash: str
    prices: dict[str, str]
    local_kwh: Decimal
    import_kwh: Decimal
    export_kwh: Decimal
    welfare_pln: Decimal
    congested_lines: list[str]


async def store_result(
    session: AsyncSession,
    interval: Interval,
    inp: ProblemInput,
    result: ClearingResult,
    *,
    worker_id: str,
    started_at: datetime,
) -> StoredRun:
    """Write the run and everything it decided (the caller commits: all or nothing)."""
    problem = inp.problem
    book = problem.orders
    ok = result.ok
    n_orders = len(book)
    accepted_f = result.accepted_kwh if ok else np.zeros(n_orders)
    node_price = [round_price(float(p)) if ok else Decimal("0.0000") for p in result.price]

    # Energy: largest remainder within each (node, side, price) step.
    accepted = [Decimal("0.000")] * n_orders
    steps: dict[tuple[int, bool, float], list[int]] = defaultdict(list)
    for k in range(n_orders):
        steps[(int(book.node[k]), bool(book.is_buy[k]), float(book.price[k]))].append(k)
    for members in steps.values():
        for k, q in zip(
            members, largest_remainder([accepted_f[k] for k in members], 3), strict=True
        ):
            accepted[k] = min(q, energy(float(book.quantity_kwh[k])))
    # Amounts: largest remainder per side over the interval.
    amounts = [Decimal("0.00")] * n_orders
    for is_buy in (True, False):
        ks = [k for k in range(n_orders) if bool(book.is_buy[k]) is is_buy]
        exact = [accepted[k] * node_price[int(book.node[k])] for k in ks]
        for k, a in zip(ks, allocate_rounded(exact, AMOUNT_PLACES), strict=True):
            amounts[k] = a

    timings = result.timings
    import_kwh = [energy(float(v)) if ok else Decimal("0.000") for v in result.import_kwh]
    export_kwh = [energy(float(v)) if ok else Decimal("0.000") for v in result.export_kwh]
    tr = result.trades
    trade_q = [Decimal("0.000")] * len(tr)
    if ok and len(tr):
        groups: dict[tuple[str, int], list[int]] = defaultdict(list)
        for t in range(len(tr)):
            buyer, seller = int(tr.buyer[t]), int(tr.seller[t])
            groups[("b", buyer) if buyer != GRID else ("s", seller)].append(t)
        for members in groups.values():
            rounded = largest_remainder([float(tr.quantity_kwh[t]) for t in members], 3)
            for t, q in zip(members, rounded, strict=True):
                trade_q[t] = q
    local = sum(
        (q for t, q in enumerate(trade_q) if tr.buyer[t] != GRID and tr.seller[t] != GRID),
        Decimal("0.000"),
    )
    run = ClearingRun(
        interval_id=interval.id,
        input_hash=input_hash(problem),
        result_hash=result_hash(problem, result),
        problem_json=problem_json(problem),
        solver=result.solver,
        status=result.status.value,
        reason=result.reason,
        order_count=n_orders,
        welfare_pln=Decimal(repr(round(result.welfare, 2))) if ok else Decimal("0.00"),
        congestion_rent_pln=(
            Decimal(repr(round(result.congestion_rent, 2))) if ok else Decimal("0.00")
        ),
        matched_kwh=sum((accepted[k] for k in range(n_orders) if book.is_buy[k]), Decimal(0)),
        local_kwh=local,
        import_kwh=sum(import_kwh, Decimal(0)),
        export_kwh=sum(export_kwh, Decimal(0)),
        timings={
            "build_ms": timings.build_ms,
            "solve_ms": timings.solve_ms,
            "prices_ms": timings.prices_ms,
            "allocation_ms": timings.allocation_ms,
            "trades_ms": timings.trades_ms,
            "total_ms": timings.total_ms,
        },
        worker_id=worker_id,
        started_at=started_at,
        finished_at=datetime.now(UTC),
    )
    session.add(run)
    await session.flush()

    bought: dict[int, Decimal] = defaultdict(Decimal)
    sold: dict[int, Decimal] = defaultdict(Decimal)
    for k in range(n_orders):
        (bought if book.is_buy[k] else sold)[int(book.node[k])] += accepted[k]
    if ok:
        session.add_all(
            NodePrice(
                run_id=run.id,
                node_id=inp.node_ids[n],
                price=node_price[n],
                price_low=_bound(float(result.price_low[n])),
                price_high=_bound(float(result.price_high[n])),
                bought_kwh=bought[n],
                sold_kwh=sold[n],
            )
            for n in range(len(inp.node_ids))
        )
        session.add_all(
            LineFlow(
                run_id=run.id,
                line_id=inp.line_ids[m],
                flow_kwh=energy(float(result.flow_kwh[m])),
                limit_kwh=energy(float(result.line_limit_kwh[m])),
                congested=bool(result.line_congested[m]),
            )
            for m in range(len(inp.line_ids))
        )
        session.add_all(
            GridExchange(
                run_id=run.id,
                node_id=inp.grid_node_ids[g],
                import_kwh=import_kwh[g],
                export_kwh=export_kwh[g],
                import_price=inp.grid_prices[g][0],
                export_price=inp.grid_prices[g][1],
                import_amount_pln=(import_kwh[g] * inp.grid_prices[g][0]).quantize(Decimal("0.01")),
                export_amount_pln=(export_kwh[g] * inp.grid_prices[g][1]).quantize(Decimal("0.01")),
            )
            for g in range(len(inp.grid_node_ids))
        )
        trade_rows = []
        for t in range(len(tr)):
            if trade_q[t] <= 0:
                continue
            s, b = int(tr.seller[t]), int(tr.buyer[t])
            sn, bn = int(tr.seller_node[t]), int(tr.buyer_node[t])
            trade_rows.append(
                {
                    "run_id": run.id,
                    "seller_order_id": None if s == GRID else inp.order_ids[s],
                    "buyer_order_id": None if b == GRID else inp.order_ids[b],
                    "seller_node_id": inp.node_ids[sn],
                    "buyer_node_id": inp.node_ids[bn],
                    "quantity_kwh": trade_q[t],
                    "seller_price": node_price[sn],
                    "buyer_price": node_price[bn],
                }
            )
        for k in range(0, len(trade_rows), 5000):
            await session.execute(insert(Trade), trade_rows[k : k + 5000])

    now = datetime.now(UTC)
    order_rows: list[dict[str, Any]] = [
        {
            "id": inp.order_ids[k],
            "accepted_kwh": accepted[k],
            "clearing_price": node_price[int(book.node[k])],
            "amount_pln": amounts[k],
            "status": _status_of(accepted[k], energy(float(book.quantity_kwh[k]))),
            "updated_at": now,
        }
        for k in range(n_orders)
    ]
    order_rows += [
        {
            "id": oid,
            "accepted_kwh": Decimal("0.000"),
            "clearing_price": None,
            "amount_pln": Decimal("0.00"),
            "status": OrderStatus.UNFILLED.value,
            "updated_at": now,
        }
        for oid in inp.excluded_order_ids
    ]
    for k in range(0, len(order_rows), 5000):
        await session.execute(update(Order), order_rows[k : k + 5000])

    congested = [
        problem.network.lines[m].id
        for m in range(len(inp.line_ids))
        if ok and result.line_congested[m]
    ]
    audit.record(
        session,
        None,
        "clear",
        "interval",
        interval.id,
        interval_id=interval.id,
        status=result.status.value,
        reason=result.reason,
        orders=n_orders,
        input_hash=run.input_hash,
        result_hash=run.result_hash,
        worker=worker_id,
    )
    return StoredRun(
        interval_id=interval.id,
        run_id=run.id,
        status=result.status.value,
        reason=result.reason,
        input_hash=run.input_hash,
        result_hash=run.result_hash,
        prices={problem.network.nodes[n].id: str(node_price[n]) for n in range(len(node_price))}
        if ok
        else {},
        local_kwh=local,
        import_kwh=run.import_kwh,
        export_kwh=run.export_kwh,
        welfare_pln=run.welfare_pln,
        congested_lines=congested,
    )
